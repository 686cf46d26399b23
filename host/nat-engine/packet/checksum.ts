import { readU16, writeU16 } from './bytes';
import { foldSum, internetChecksum, onesComplementSum } from './internet-checksum';
import { IpProtocol } from './ip-protocol';
import type { PacketView } from './packet-view';

// Full checksums of a decoded packet. These read every byte: for tests,
// verification and building packets, not for the rewrite hot path (rewrite.ts
// adjusts incrementally). They assume a whole packet; for an embedded view
// (quoted in an ICMP error) the L4 part is usually cut short and its L4
// checksum cannot be computed.

const IPV4_CHECKSUM_AT = 10;

/** True when the L4 checksum of `view` covers a pseudo-header (TCP, UDP, ICMPv6; not ICMPv4). */
export function hasPseudoHeader(view: PacketView): boolean {
  return view.l4ChecksumOffset >= 0 && !(view.family === 4 && view.protocol === IpProtocol.ICMP);
}

/**
 * The folded sum of the pseudo-header (RFC 793/768 for IPv4; RFC 8200 §8.1
 * for IPv6, where the length is 32 bits) for `view`'s addresses, protocol
 * and L4 length.
 */
export function pseudoHeaderSum(view: PacketView): number {
  const { buf, srcAddrOffset, dstAddrOffset, addrLength, l4Length } = view;
  let sum = onesComplementSum(buf, srcAddrOffset, srcAddrOffset + addrLength);
  sum = onesComplementSum(buf, dstAddrOffset, dstAddrOffset + addrLength, sum);
  return foldSum(sum + view.protocol + (l4Length >>> 16) + (l4Length & 0xffff));
}

/** The IPv4 header checksum `view`'s header should carry; -1 for IPv6, which has none. */
export function ipv4HeaderChecksum(view: PacketView): number {
  if (view.family !== 4) return -1;
  const { buf, offset } = view;
  const checksumAt = offset + IPV4_CHECKSUM_AT;
  // Sum around the checksum field, i.e. as if it were zero.
  const before = onesComplementSum(buf, offset, checksumAt);
  return internetChecksum(buf, checksumAt + 2, offset + view.ipHeaderLength, before);
}

/**
 * The value the L4 checksum field of `view` should hold (TCP, UDP, ICMP,
 * ICMPv6; pseudo-header included where the protocol has one), for UDP with
 * a computed 0 sent as 0xffff (RFC 768). -1 when the packet has no L4
 * checksum field.
 */
export function computeL4Checksum(view: PacketView): number {
  const at = view.l4ChecksumOffset;
  if (at < 0) return -1;
  const { buf, l4Offset } = view;
  const end = l4Offset + view.l4Length;
  // The field is at an even distance from l4Offset, so the two ranges chain.
  let sum = onesComplementSum(buf, l4Offset, at, hasPseudoHeader(view) ? pseudoHeaderSum(view) : 0);
  sum = onesComplementSum(buf, at + 2, end, sum);
  const checksum = ~sum & 0xffff;
  return checksum === 0 && view.protocol === IpProtocol.UDP ? 0xffff : checksum;
}

/**
 * True when the IPv4 header checksum (if any) and the L4 checksum (if any)
 * are right. A UDP/IPv4 checksum of 0 ("none") counts as right.
 */
export function verifyChecksums(view: PacketView): boolean {
  const { buf, offset } = view;
  if (view.family === 4 && onesComplementSum(buf, offset, offset + view.ipHeaderLength) !== 0xffff) return false;
  const at = view.l4ChecksumOffset;
  if (at < 0) return true;
  if (view.family === 4 && view.protocol === IpProtocol.UDP && readU16(buf, at) === 0) return true;
  const sum = onesComplementSum(buf, view.l4Offset, view.l4Offset + view.l4Length, hasPseudoHeader(view) ? pseudoHeaderSum(view) : 0);
  return sum === 0xffff;
}

/**
 * Writes the right IPv4 header checksum and L4 checksum into the packet.
 * For an ICMP error this covers the quoted bytes as they are; the quoted
 * packet's own checksums are not touched (they cannot be recomputed).
 */
export function fillChecksums(view: PacketView): void {
  if (view.family === 4) writeU16(view.buf, view.offset + IPV4_CHECKSUM_AT, ipv4HeaderChecksum(view));
  const l4 = computeL4Checksum(view);
  if (l4 >= 0) writeU16(view.buf, view.l4ChecksumOffset, l4);
}

/**
 * Completes a partial L4 checksum (see `PacketView.checksumPartial`) as the
 * NIC would: the field holds the pseudo-header sum, so the checksum is the
 * complement of the sum of the L4 bytes, field included (UDP: a computed 0
 * is sent as 0xffff). Reads every L4 byte. Does nothing for a packet without
 * a pseudo-header checksum (ICMPv4, other protocols) or an embedded view.
 */
export function completePartialChecksum(view: PacketView): void {
  const at = view.l4ChecksumOffset;
  if (at < 0 || view.embedded || !hasPseudoHeader(view)) return;
  const checksum = internetChecksum(view.buf, view.l4Offset, view.l4Offset + view.l4Length);
  writeU16(view.buf, at, checksum === 0 && view.protocol === IpProtocol.UDP ? 0xffff : checksum);
}
