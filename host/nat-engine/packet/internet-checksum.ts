/**
 * The Internet checksum (RFC 1071): the ones'-complement of the
 * ones'-complement sum of 16-bit big-endian words.
 *
 * Sums are accumulated in plain 32-bit-safe numbers and folded (end-around
 * carry) when they could overflow, so no BigInt and no per-word folding.
 */

// 0x8000 words of at most 0xffff stay below 2^31 even with a folded sum
// (<= 0xffff) already in the accumulator: fold once per chunk.
const WORDS_PER_FOLD = 0x8000;

/**
 * Folds a non-negative accumulator below 2^32 to 16 bits with end-around
 * carry. Two rounds suffice: the first leaves at most 0x1fffe.
 * The result is 0 only when the accumulator is 0: a ones'-complement sum of
 * anything non-zero is never "+0", which is what makes RFC 1624 eqn. 3 agree
 * with a full recomputation.
 */
export function foldSum(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/**
 * The folded 16-bit ones'-complement sum of `buf[start..end)`, added to
 * `initial` (a previous result, or a pseudo-header sum). An odd final byte
 * counts as the high byte of a word padded with zero, as RFC 1071 says; so
 * when chaining calls, every range but the last must have an even length.
 */
export function onesComplementSum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  if (end - start >= WIDE_SUM_MIN_BYTES) return wideSum(buf, start, end, initial);
  let sum = foldSum(initial);
  let i = start;
  while (end - i >= 2) {
    const stop = Math.min(end - 1, i + 2 * WORDS_PER_FOLD);
    for (; i < stop; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
    sum = foldSum(sum);
  }
  if (i < end) sum += buf[i]! << 8;
  return foldSum(sum);
}

/** Below this many bytes the word loop is as fast as setting up the wide one. */
const WIDE_SUM_MIN_BYTES = 256;
/** Words summed before reducing the wide accumulator (2^20 words of < 2^32 stay far below 2^53). */
const WIDE_WORDS_PER_REDUCE = 1 << 20;

// The last buffer's 32-bit view: the nfqueue driver sums packets in one
// receive arena, so this is made once, not per packet.
let wideBuffer: ArrayBufferLike | undefined;
let wideView: Uint32Array = new Uint32Array(0);

/**
 * onesComplementSum for long ranges (GSO super-packets): 32-bit words in
 * host order instead of 16-bit ones. Mod 0xffff, 2^16 ≡ 1, so a 32-bit word
 * is the sum of its two 16-bit halves, and the ones'-complement sum of
 * byte-swapped words is the byte-swapped sum (RFC 1071 §2(B)): the aligned
 * middle gives the sum or its byte swap (×256 mod 0xffff), by the parity of
 * its start relative to `start` and the host's byte order. The unaligned
 * head and tail bytes are added with their big-endian weights. Same result
 * as the word loop, 0 included (only for an all-zero input).
 */
function wideSum(buf: Uint8Array, start: number, end: number, initial: number): number {
  let edge = foldSum(initial);
  let i = start;
  const base = buf.byteOffset;
  // Head: up to the first 4-byte-aligned address.
  for (; ((base + i) & 3) !== 0; i++) edge += ((i - start) & 1) === 0 ? buf[i]! << 8 : buf[i]!;
  const words = (end - i) >>> 2;
  const first = (base + i) >>> 2;
  if (buf.buffer !== wideBuffer) {
    wideBuffer = buf.buffer;
    wideView = new Uint32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
  }
  const view = wideView;
  let middle = 0;
  let reduced = 0;
  let nonZero = false;
  for (let w = 0; w < words; ) {
    const stop = Math.min(words, w + WIDE_WORDS_PER_REDUCE);
    for (; w < stop; w++) middle += view[first + w]!;
    if (middle > 0) nonZero = true;
    reduced = (reduced + (middle % 0xffff)) % 0xffff;
    middle = 0;
  }
  i += words << 2;
  // In host order a word's first byte weighs 2^24 (big-endian) or 1 (little-endian);
  // the big-endian sum wants 2^8 on bytes at an even distance from `start`.
  const firstByteHigh = ((i - (words << 2) - start) & 1) === 0;
  if (firstByteHigh !== BIG_ENDIAN_HOST) reduced = (reduced * 256) % 0xffff;
  // Tail.
  for (; i < end; i++) edge += ((i - start) & 1) === 0 ? buf[i]! << 8 : buf[i]!;
  if (edge > 0) nonZero = true;
  const total = (reduced + (edge % 0xffff)) % 0xffff;
  return total === 0 && nonZero ? 0xffff : total;
}

const BIG_ENDIAN_HOST = new Uint8Array(new Uint32Array([0x01020304]).buffer)[0] === 0x01;

/** The Internet checksum of `buf[start..end)` (with `initial` folded in): the value a checksum field holds. */
export function internetChecksum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  return ~onesComplementSum(buf, start, end, initial) & 0xffff;
}
