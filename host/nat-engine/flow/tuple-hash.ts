import type { FiveTuple } from './five-tuple';
import type { TupleSource } from './tuple-source';

/**
 * Hashes a connection direction, from a stored tuple or straight from a
 * packet, with the same result for both. The flow table buckets by it; it
 * only narrows the search, equality is always decided by comparing bytes.
 */
export interface TupleHasher {
  hashTuple(t: FiveTuple): number;
  hashPacket(p: TupleSource): number;
}

/*
 * MurmurHash3 (x86, 32 bits) over the tuple as 32-bit big-endian words:
 * the ports (source << 16 | destination), the protocol, then the source
 * and destination addresses (1 word each for IPv4, 4 for IPv6); the family
 * is implied by the length, which is mixed in at the end.
 *
 * Why not byte-wise FNV-1a: it costs a dependent multiply per byte (37 for
 * IPv6) where this costs one per word, and FNV's low bits, which pick the
 * bucket, mix poorly. MurmurHash3's finaliser makes every output bit
 * depend on every input bit.
 *
 * The seed defends against collision floods: not a keyed MAC, but with a
 * per-table random seed colliding tuples cannot be precomputed offline
 * (the reason conntrack seeds its jhash randomly at boot).
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** The hash of a stored tuple. */
export function hashTuple(t: FiveTuple, seed = 0): number {
  let h = seed | 0;
  h = mix(h, (t.srcPort << 16) | t.dstPort);
  h = mix(h, t.protocol);
  for (let i = 0; i < t.srcAddr.length; i += 4) h = mix(h, word(t.srcAddr, i));
  for (let i = 0; i < t.dstAddr.length; i += 4) h = mix(h, word(t.dstAddr, i));
  return finish(h, 8 + t.srcAddr.length + t.dstAddr.length);
}

/** The hash of the tuple a packet carries, read in place: equal to `hashTuple(tupleFromPacket(p))`. */
export function hashPacketTuple(p: TupleSource, seed = 0): number {
  const b = p.buf;
  const n = p.addrLength;
  let h = seed | 0;
  h = mix(h, (p.srcPort << 16) | p.dstPort);
  h = mix(h, p.protocol);
  for (let i = p.srcAddrOffset, end = i + n; i < end; i += 4) h = mix(h, word(b, i));
  for (let i = p.dstAddrOffset, end = i + n; i < end; i += 4) h = mix(h, word(b, i));
  return finish(h, 8 + 2 * n);
}

/** The default hasher, with the given seed. */
export function tupleHasher(seed: number): TupleHasher {
  const s = seed | 0;
  return {
    hashTuple: (t) => hashTuple(t, s),
    hashPacket: (p) => hashPacketTuple(p, s),
  };
}

/** Four bytes from `offset`, big-endian, as an int32. */
function word(b: Uint8Array, offset: number): number {
  return (b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!;
}

/** MurmurHash3's per-block step. */
function mix(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finalisation: length, then fmix32 (full avalanche). */
function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
