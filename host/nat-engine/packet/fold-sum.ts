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
