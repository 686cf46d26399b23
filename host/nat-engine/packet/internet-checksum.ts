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

/** The Internet checksum of `buf[start..end)` (with `initial` folded in): the value a checksum field holds. */
export function internetChecksum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  return ~onesComplementSum(buf, start, end, initial) & 0xffff;
}
