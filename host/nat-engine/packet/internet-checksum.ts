/**
 * The Internet checksum (RFC 1071): the ones'-complement of the
 * ones'-complement sum of 16-bit big-endian words.
 *
 * Sums are accumulated in plain 32-bit-safe numbers and folded (end-around
 * carry) when they could overflow, so no BigInt and no per-word folding.
 * Long ranges (GSO super-packets) go to the WebAssembly SIMD sum.
 */

import { foldSum } from './fold-sum';
import { simdOnesComplementSum } from './simd-sum';

export { foldSum } from './fold-sum';

// 0x8000 words of at most 0xffff stay below 2^31 even with a folded sum
// (<= 0xffff) already in the accumulator: fold once per chunk.
const WORDS_PER_FOLD = 0x8000;
/** From this many bytes on, the SIMD sum (copy included) beats the word loop. */
const SIMD_SUM_MIN_BYTES = 512;

/**
 * The folded 16-bit ones'-complement sum of `buf[start..end)`, added to
 * `initial` (a previous result, or a pseudo-header sum). An odd final byte
 * counts as the high byte of a word padded with zero, as RFC 1071 says; so
 * when chaining calls, every range but the last must have an even length.
 */
export function onesComplementSum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  if (end - start >= SIMD_SUM_MIN_BYTES) {
    const long = simdOnesComplementSum(buf, start, end);
    if (long !== undefined) return foldSum(long + foldSum(initial));
  }
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
