import { readU16, writeU16 } from './bytes';
import { foldSum } from './internet-checksum';

/**
 * Incremental checksum update, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
 *
 * Eqn. 3 (not the older eqn. 2, HC' = HC - ~m - m') is the form that yields
 * exactly what a full recomputation yields, 0x0000 and 0xffff included.
 *
 * A change is carried as a *delta*: the folded ones'-complement sum of
 * ~old + new over the changed 16-bit words. Deltas add (fold the sum), so one
 * delta can be applied to every checksum that covers the same change (the
 * IPv4 header checksum and the TCP pseudo-header both cover the addresses).
 * All offsets of changed words must lie at an even distance from the start
 * of the checksummed region; every field we rewrite does.
 */

/** RFC 1624 eqn. 3 for one 16-bit word: the checksum after `oldWord` became `newWord`. */
export function checksumAdjust16(checksum: number, oldWord: number, newWord: number): number {
  return ~foldSum((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** The checksum after a change whose delta is `delta` (see {@link replacementDelta}). */
export function checksumApplyDelta(checksum: number, delta: number): number {
  return ~foldSum((~checksum & 0xffff) + delta) & 0xffff;
}

/** The delta of one 16-bit word changing from `oldWord` to `newWord`. */
export function wordDelta(oldWord: number, newWord: number): number {
  return foldSum((~oldWord & 0xffff) + (newWord & 0xffff));
}

/** Two deltas combined into one. */
export function addDeltas(a: number, b: number): number {
  return foldSum(a + b);
}

/**
 * The delta of replacing `length` bytes of `buf` at `at` with
 * `bytes[from..from+length)`; reads only, writes nothing (so compute it
 * before copying the new bytes in). `at` must be at an even distance from
 * the start of the checksummed region. An odd length is fine: the last byte
 * then counts as the high half of a word whose low half does not change.
 */
export function replacementDelta(buf: Uint8Array, at: number, bytes: Uint8Array, from = 0, length = bytes.length - from): number {
  let sum = 0;
  let i = 0;
  // Usually at most 8 words (an IPv6 address); fold early for long runs.
  for (; i + 1 < length; i += 2) {
    sum += (~((buf[at + i]! << 8) | buf[at + i + 1]!) & 0xffff) + ((bytes[from + i]! << 8) | bytes[from + i + 1]!);
    if (sum >= 0x40000000) sum = foldSum(sum);
  }
  if (i < length) sum += (~(buf[at + i]! << 8) & 0xffff) + (bytes[from + i]! << 8);
  return foldSum(sum);
}

/**
 * How to read and write a checksum field when adjusting it.
 *
 * - `complemented`: an ordinary Internet checksum field (IPv4 header, TCP,
 *   ICMP, ICMPv6).
 * - `udp`: a UDP checksum (RFC 768): 0 means "no checksum" and stays 0; a
 *   computed 0 is sent as 0xffff.
 * - `partial`: a checksum not computed yet (Linux CHECKSUM_PARTIAL, a
 *   WinDivert packet whose checksum the NIC will fill): the field holds the
 *   *uncomplemented* folded pseudo-header sum, so it is adjusted as a plain
 *   sum, HC' = fold(HC + delta), and only for pseudo-header changes
 *   (addresses, not ports; the caller, rewrite.ts, separates those). UDP's
 *   0 rule does not apply: a pseudo-header sum is never 0.
 */
export type ChecksumFieldKind = 'complemented' | 'udp' | 'partial';

/**
 * Applies `delta` to the checksum field at `at` in place and returns the
 * delta of the field itself, for a checksum that covers this field too
 * (the ICMP checksum over a quoted packet). Returns 0 (no change) when the
 * field was left alone.
 */
export function adjustChecksumField(buf: Uint8Array, at: number, delta: number, kind: ChecksumFieldKind = 'complemented'): number {
  const old = readU16(buf, at);
  if (kind === 'udp' && old === 0) return 0;
  let next = kind === 'partial' ? foldSum(old + delta) : checksumApplyDelta(old, delta);
  if (kind === 'udp' && next === 0) next = 0xffff;
  writeU16(buf, at, next);
  return wordDelta(old, next);
}

/**
 * The RFC 1624 helper for the common case: adjusts the checksum field at
 * `checksumAt` for the replacement of `length` bytes at `at` by
 * `bytes[from..)` and then writes those bytes. Returns the delta of the
 * replaced bytes (not of the checksum field).
 */
export function replaceBytesAdjustingChecksum(
  buf: Uint8Array,
  checksumAt: number,
  at: number,
  bytes: Uint8Array,
  kind: ChecksumFieldKind = 'complemented',
  from = 0,
  length = bytes.length - from,
): number {
  const delta = replacementDelta(buf, at, bytes, from, length);
  adjustChecksumField(buf, checksumAt, delta, kind);
  for (let i = 0; i < length; i++) buf[at + i] = bytes[from + i]!;
  return delta;
}
