import fc from 'fast-check';
import {
  formatTuple,
  tupleHasher,
  hashPacketTuple,
  hashTuple,
  reverseTuple,
  tupleEquals,
  tupleFromPacket,
  tupleMatchesPacket,
  type FiveTuple,
} from '../../../../host/nat-engine/flow';
import { packet, packetOf, tuple } from './tuple-fixtures';

/** Reference MurmurHash3_x86_32 over bytes (little-endian blocks, as the original C). */
function murmur3(bytes: readonly number[], seed = 0): number {
  const mul = (x: number, y: number) => Number((BigInt(x >>> 0) * BigInt(y >>> 0)) & 0xffffffffn) | 0;
  const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
  const scramble = (k: number) => mul(rotl(mul(k, 0xcc9e2d51), 15), 0x1b873593);
  let h = seed | 0;
  const blocks = bytes.length >> 2;
  for (let i = 0; i < blocks; i++) {
    const k = bytes[4 * i]! | (bytes[4 * i + 1]! << 8) | (bytes[4 * i + 2]! << 16) | (bytes[4 * i + 3]! << 24);
    h = (mul(rotl(h ^ scramble(k), 13), 5) + 0xe6546b64) | 0;
  }
  let tail = 0;
  for (let i = bytes.length - 1; i >= blocks * 4; i--) tail = (tail << 8) | bytes[i]!;
  if (bytes.length & 3) h ^= scramble(tail);
  h ^= bytes.length;
  h ^= h >>> 16;
  h = mul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = mul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The bytes whose little-endian blocks are these big-endian words. */
function asBlocks(...words: number[]): number[] {
  return words.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
}

const arbTuple: fc.Arbitrary<FiveTuple> = fc.oneof(
  fc.record({
    family: fc.constant(4 as const),
    protocol: fc.constantFrom(6, 17, 132),
    srcAddr: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    srcPort: fc.integer({ min: 0, max: 65535 }),
    dstAddr: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    dstPort: fc.integer({ min: 0, max: 65535 }),
  }),
  fc.record({
    family: fc.constant(6 as const),
    protocol: fc.constantFrom(6, 17),
    srcAddr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    srcPort: fc.integer({ min: 0, max: 65535 }),
    dstAddr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    dstPort: fc.integer({ min: 0, max: 65535 }),
  }),
);

describe('five-tuple', () => {
  it('copies a packet tuple out of the packet buffer', () => {
    const p = packet('tcp', '198.51.100.2', 40000, '203.0.113.2', 21, 0, 11);
    const t = tupleFromPacket(p);
    p.buf.fill(0);
    expect(t).toEqual(tuple('tcp', '198.51.100.2', 40000, '203.0.113.2', 21));
    expect(t.srcAddr).not.toBeInstanceOf(Buffer);
  });

  it('formats IPv4 and bracketed IPv6 tuples', () => {
    expect(formatTuple(tuple('tcp', '198.51.100.2', 40000, '203.0.113.2', 21))).toBe('tcp 198.51.100.2:40000 -> 203.0.113.2:21');
    expect(formatTuple(tuple('udp', '2001:db8::2', 5060, '2001:db8:1::1', 5060))).toBe('udp [2001:db8::2]:5060 -> [2001:db8:1::1]:5060');
    expect(formatTuple(tuple(47, '198.51.100.2', 0, '203.0.113.2', 0))).toBe('proto-47 198.51.100.2:0 -> 203.0.113.2:0');
  });

  it('reverses and compares tuples', () => {
    const t = tuple('udp', '198.51.100.2', 5004, '203.0.113.2', 6000);
    const r = reverseTuple(t);
    expect(r).toEqual(tuple('udp', '203.0.113.2', 6000, '198.51.100.2', 5004));
    expect(tupleEquals(reverseTuple(r), t)).toBe(true);
    expect(tupleEquals(r, t)).toBe(false);
    expect(tupleEquals(t, tuple('tcp', '198.51.100.2', 5004, '203.0.113.2', 6000))).toBe(false);
    expect(tupleEquals(t, tuple('udp', '198.51.100.3', 5004, '203.0.113.2', 6000))).toBe(false);
  });

  it('matches a packet against a tuple by bytes, at the packet offsets', () => {
    const t = tuple('tcp', '2001:db8::2', 40000, '2001:db8::1', 21);
    expect(tupleMatchesPacket(t, packet('tcp', '2001:db8::2', 40000, '2001:db8::1', 21, 0, 3))).toBe(true);
    expect(tupleMatchesPacket(t, packet('tcp', '2001:db8::2', 40000, '2001:db8::3', 21))).toBe(false);
    expect(tupleMatchesPacket(t, packet('udp', '2001:db8::2', 40000, '2001:db8::1', 21))).toBe(false);
    expect(tupleMatchesPacket(t, packet('tcp', '2001:db8::2', 40001, '2001:db8::1', 21))).toBe(false);
  });

  it('hashes with MurmurHash3 over ports, protocol and address words', () => {
    expect(murmur3([...Buffer.from('The quick brown fox jumps over the lazy dog')])).toBe(0x2e4ff723); // the reference itself
    const t = tuple('tcp', '198.51.100.2', 40000, '203.0.113.2', 21);
    const words = [(40000 << 16) | 21, 6, 0xc6336402, 0xcb007102];
    expect(hashTuple(t)).toBe(murmur3(asBlocks(...words)));
    expect(hashTuple(t, 0x1234)).toBe(murmur3(asBlocks(...words), 0x1234));
    const v6 = tuple('udp', '2001:db8::2', 5060, '2001:db8::1', 5060);
    expect(hashTuple(v6)).toBe(murmur3(asBlocks((5060 << 16) | 5060, 17, 0x20010db8, 0, 0, 2, 0x20010db8, 0, 0, 1)));
  });

  it('hashes a packet in place exactly as its copied tuple, for any seed', () => {
    fc.assert(
      fc.property(arbTuple, fc.integer({ min: 0, max: 40 }), fc.integer(), (t, lead, seed) => {
        const p = packetOf(t, 0, lead);
        const hasher = tupleHasher(seed);
        expect(hashPacketTuple(p, seed)).toBe(hashTuple(t, seed));
        expect(hasher.hashPacket(p)).toBe(hasher.hashTuple(tupleFromPacket(p)));
        expect(tupleMatchesPacket(t, p)).toBe(true);
        expect(tupleEquals(tupleFromPacket(p), t)).toBe(true);
      }),
      { seed: 0x5eed, numRuns: 300 },
    );
  });

  it('spreads similar tuples over the low bits the table indexes by', () => {
    const buckets = new Set<number>();
    for (let i = 0; i < 1000; i++) buckets.add(hashTuple(tuple('udp', `198.51.100.${i >> 8}`, 1024 + i, `203.0.113.${i & 0xff}`, 5060)) & 2047);
    expect(buckets.size).toBeGreaterThan(700); // ~790 expected for 1000 random draws into 2048
  });

  it('changes the hash with the seed', () => {
    const t = tuple('udp', '198.51.100.2', 5060, '203.0.113.2', 5060);
    expect(hashTuple(t, 1)).not.toBe(hashTuple(t, 2));
  });
});
