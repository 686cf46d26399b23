/**
 * The ones'-complement sum of long byte ranges in WebAssembly SIMD: the
 * cost of completing a GSO super-packet's checksum (64 KiB) drops from about
 * 21 µs in a scalar JavaScript loop to about 3 µs with a copy into the
 * module's memory, and to about 2 µs without one: a driver that receives
 * packets into a {@link summableBuffer} has them summed where they lie.
 *
 * The module is a dozen instructions, assembled here from the opcode table
 * below rather than loaded from a file: `sum(at, len)` adds the bytes
 * `[at, at + len)` of the memory it was instantiated with (len a multiple
 * of 64) as little-endian 16-bit words, 64 bytes per turn (four 16-byte
 * loads, each widened pairwise into four 32-bit lanes,
 * i32x4.extadd_pairwise_i16x8_u), then folds each lane to at most 17 bits
 * and returns the lanes' total. Calls cover at most
 * {@link SIMD_CHUNK_BYTES}, so a lane never exceeds 1024 × 4 × 0x1fffe < 2^32.
 *
 * Little-endian words are the byte-swapped big-endian ones, and the
 * ones'-complement sum of byte-swapped words is the byte-swapped sum
 * (RFC 1071 §2(B)), so the caller swaps the folded result once.
 */

import { foldSum } from './fold-sum';

/** Bytes summed per call of the module at most. */
export const SIMD_CHUNK_BYTES = 0x10000;

// The opcodes used, by name (WebAssembly core spec §5.4; SIMD ops take the 0xfd prefix and a LEB128 index).
const OP = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b, voidType: 0x40,
  localGet: 0x20, localSet: 0x21, i32Const: 0x41, i32Add: 0x6a, i32GeU: 0x4f,
  v128Load: [0xfd, 0x00], v128Const: [0xfd, 0x0c], v128And: [0xfd, 0x4e],
  i32x4ExtractLane: [0xfd, 0x1b], i32x4ExtaddPairwiseI16x8U: [0xfd, 0x7f],
  i32x4ShrU: [0xfd, 0xad, 0x01], i32x4Add: [0xfd, 0xae, 0x01],
} as const;
const I32 = 0x7f;
const V128 = 0x7b;
// Locals: 0 = at, 1 = len (the parameters; `at` becomes the cursor), 2 = end, 3 = acc.
const AT = 0;
const LEN = 1;
const END = 2;
const ACC = 3;
const PAGE = 0x10000;

function moduleBytes(): Uint8Array {
  // acc += extadd_pairwise(load(i + offset)), for the four 16-byte loads of a 64-byte turn.
  const addLoad = (offset: number): number[] => [OP.localGet, AT, ...OP.v128Load, 0x00, offset, ...OP.i32x4ExtaddPairwiseI16x8U, ...OP.i32x4Add];
  const lane = (k: number): number[] => [OP.localGet, ACC, ...OP.i32x4ExtractLane, k];
  const body = [
    0x02, 0x01, I32, 0x01, V128, // locals: i32 end, v128 acc (acc starts at zero)
    OP.localGet, AT, OP.localGet, LEN, OP.i32Add, OP.localSet, END, // end = at + len
    OP.block, OP.voidType, OP.loop, OP.voidType,
    OP.localGet, AT, OP.localGet, END, OP.i32GeU, OP.brIf, 1, // while (at < end)
    OP.localGet, ACC, ...addLoad(0), ...addLoad(16), ...addLoad(32), ...addLoad(48), OP.localSet, ACC,
    OP.localGet, AT, OP.i32Const, 0xc0, 0x00, OP.i32Add, OP.localSet, AT, // at += 64
    OP.br, 0, OP.end, OP.end,
    // acc = (acc & 0xffff) + (acc >>> 16), per lane; then the lanes' total.
    OP.localGet, ACC, ...OP.v128Const, ...Array<number[]>(4).fill([0xff, 0xff, 0x00, 0x00]).flat(), ...OP.v128And,
    OP.localGet, ACC, OP.i32Const, 16, ...OP.i32x4ShrU, ...OP.i32x4Add, OP.localSet, ACC,
    ...lane(0), ...lane(1), OP.i32Add, ...lane(2), OP.i32Add, ...lane(3), OP.i32Add,
    OP.end,
  ];
  const section = (id: number, bytes: number[]): number[] => [id, ...leb128(bytes.length), ...bytes];
  const ascii = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, [1, 0x60, 2, I32, I32, 1, I32]), // type 0: (i32, i32) -> i32
    ...section(2, [1, ...ascii('env'), ...ascii('mem'), 0x02, 0x00, 1]), // imports env.mem, a memory of at least 1 page
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(7, [1, ...ascii('sum'), 0x00, 0]), // exports sum
    ...section(10, [1, ...leb128(body.length), ...body]),
  ]);
}

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** The part of the WebAssembly JS API used here (TypeScript declares it only in the DOM library). */
interface WebAssemblyApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: { env: { mem: object } }) => { readonly exports: { readonly sum: (at: number, len: number) => number } };
  readonly Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
}

const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;

/** The compiled module, or undefined without WebAssembly or SIMD (e.g. node --jitless): callers use their scalar loop. */
const compiled = ((): object | undefined => {
  try {
    return wasm === undefined ? undefined : new wasm.Module(moduleBytes());
  } catch {
    return undefined;
  }
})();

/** A memory and the module instantiated over it. */
interface Summer {
  readonly bytes: Uint8Array;
  readonly sum: (at: number, len: number) => number;
}

function summer(pages: number): Summer | undefined {
  if (wasm === undefined || compiled === undefined) return undefined;
  // A fixed size (maximum = initial): the memory never grows, so its buffer never detaches or moves.
  const memory = new wasm.Memory({ initial: pages, maximum: pages });
  const { exports } = new wasm.Instance(compiled, { env: { mem: memory } });
  return { bytes: new Uint8Array(memory.buffer), sum: exports.sum };
}

/** Where ranges of other buffers are copied to be summed. */
const scratch = summer(SIMD_CHUNK_BYTES / PAGE);
/** Buffers from summableBuffer, summed in place. */
const inPlace = new WeakMap<ArrayBufferLike, Summer>();

/** Whether the SIMD sum is available in this process. */
export const SIMD_SUM_AVAILABLE = scratch !== undefined;

/**
 * A zero-filled buffer of `size` bytes whose ranges simdOnesComplementSum
 * sums where they lie, without copying them (a driver's receive arena). Its
 * memory never moves (FFI may keep its address). Without SIMD, a plain one.
 */
export function summableBuffer(size: number): Buffer {
  const s = summer(Math.max(1, Math.ceil(size / PAGE)));
  if (s === undefined) return Buffer.alloc(size);
  inPlace.set(s.bytes.buffer, s);
  return Buffer.from(s.bytes.buffer, 0, size);
}

/**
 * The folded big-endian ones'-complement sum of `buf[start..end)` (no
 * initial value), or undefined without WebAssembly SIMD. An odd final byte
 * counts as a high byte padded with zero. 0 only for all-zero input.
 */
export function simdOnesComplementSum(buf: Uint8Array, start: number, end: number): number | undefined {
  if (scratch === undefined) return undefined;
  const own = inPlace.get(buf.buffer);
  let total = 0;
  let i = start;
  // Whole 64-byte turns, a chunk at a time; every chunk starts at an even distance from `start`.
  while (end - i >= 64) {
    const n = Math.min(SIMD_CHUNK_BYTES, (end - i) & ~63);
    if (own !== undefined) {
      total += own.sum(buf.byteOffset + i, n);
    } else {
      scratch.bytes.set(buf.subarray(i, i + n), 0);
      total += scratch.sum(0, n);
    }
    i += n;
  }
  let sum = foldSum(total);
  sum = ((sum & 0xff) << 8) | (sum >>> 8);
  for (; end - i >= 2; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return foldSum(sum);
}
