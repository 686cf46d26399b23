import { readU16, readU32 } from './bytes';
import { onesComplementSum } from './internet-checksum';
import { IpProtocol, isIcmpError } from './ip-protocol';
import type { PacketView } from './packet-view';
import type { RejectReason } from './reject-reason';

/** Options for {@link decodePacket}. */
export interface DecodeOptions {
  /**
   * Reject an IPv4 packet whose header checksum is wrong ('bad-ip-checksum').
   * Off by default: drivers hand us packets the kernel has already checked,
   * and outbound packets may carry offloaded (unfilled) checksums.
   */
  readonly verifyIpChecksum?: boolean;
}

const IPV4_MIN_HEADER = 20;
const IPV6_HEADER = 40;
const TCP_MIN_HEADER = 20;
const UDP_HEADER = 8;
const ICMP_HEADER = 8;
/** RFC 792 / RFC 1812: an ICMP error quotes at least 8 bytes past the IP header, which holds the ports. */
const QUOTED_L4_BYTES = 8;
const JUMBO_PAYLOAD_OPTION = 0xc2;
const IPV4_MF = 0x2000;
const IPV4_FRAGMENT_OFFSET = 0x1fff;

/**
 * Decodes the IP packet at `buf[offset..offset+length)` into `view`.
 * Returns undefined when the packet is one we can work on, or why not.
 * Never throws, whatever the bytes, offset or length.
 *
 * `length` is what the driver captured; the packet's own IP length may be
 * shorter (trailing bytes, e.g. Ethernet padding, are ignored) but not
 * longer. For an ICMP error, the quoted packet is decoded too (`view.inner`).
 */
export function decodePacket(
  buf: Buffer,
  view: PacketView,
  offset = 0,
  length: number = buf.length - offset,
  opts?: DecodeOptions,
): RejectReason | undefined {
  view.reset(buf, offset, false);
  // Bad bounds from a caller are a truncated packet, not an exception.
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || offset > buf.length || length < 0) {
    return 'truncated-ip-header';
  }
  const available = Math.min(length, buf.length - offset);
  return decodeAt(buf, view, offset, available, opts?.verifyIpChecksum === true);
}

/** Decodes IP and L4 headers at `offset` into the freshly reset `v`; `v.embedded` selects the lenient rules for a quoted packet. */
function decodeAt(buf: Buffer, v: PacketView, offset: number, available: number, verifyIpChecksum: boolean): RejectReason | undefined {
  if (available < 1) return 'truncated-ip-header';
  const version = buf[offset]! >> 4;
  const rejected =
    version === 4 ? decodeIpv4(buf, v, offset, available, verifyIpChecksum)
    : version === 6 ? decodeIpv6(buf, v, offset, available)
    : 'bad-ip-version';
  return rejected ?? decodeTransport(buf, v);
}

function decodeIpv4(buf: Buffer, v: PacketView, o: number, available: number, verifyChecksum: boolean): RejectReason | undefined {
  const embedded = v.embedded;
  if (available < IPV4_MIN_HEADER) return 'truncated-ip-header';
  const headerLength = (buf[o]! & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER) return 'bad-ip-header-length';
  if (headerLength > available) return 'truncated-ip-header';
  let length = readU16(buf, o + 2);
  if (length < headerLength) return 'bad-ip-total-length';
  if (length > available) {
    // A quoted packet is cut short by design; a forwarded one must be whole.
    if (!embedded) return 'bad-ip-total-length';
    length = available;
  }
  if (verifyChecksum && onesComplementSum(buf, o, o + headerLength) !== 0xffff) return 'bad-ip-checksum';
  const fragment = readU16(buf, o + 6);
  // A first fragment quoted in an ICMP error still starts with the L4 header.
  if ((fragment & IPV4_FRAGMENT_OFFSET) !== 0 || ((fragment & IPV4_MF) !== 0 && !embedded)) return 'fragment';

  v.family = 4;
  v.addrLength = 4;
  v.length = length;
  v.ipHeaderLength = headerLength;
  v.protocol = buf[o + 9]!;
  v.srcAddrOffset = o + 12;
  v.dstAddrOffset = o + 16;
  v.l4Offset = o + headerLength;
  v.l4Length = length - headerLength;
  return undefined;
}

function decodeIpv6(buf: Buffer, v: PacketView, o: number, available: number): RejectReason | undefined {
  const embedded = v.embedded;
  if (available < IPV6_HEADER) return 'truncated-ip-header';
  let next = buf[o + 6]!;
  let length = IPV6_HEADER + readU16(buf, o + 4);
  if (length === IPV6_HEADER && next === IpProtocol.HOP_BY_HOP) {
    const jumbo = jumboPayloadLength(buf, o + IPV6_HEADER, o + available);
    if (jumbo >= 0) {
      // RFC 2675: a jumbogram carries more than 65535 bytes, or it is not one.
      if (jumbo <= 0xffff) return 'bad-ip-total-length';
      length = IPV6_HEADER + jumbo;
      v.jumbogram = true;
    }
  }
  if (length > available) {
    if (!embedded) return 'bad-ip-total-length';
    length = available;
  }
  const end = o + length;
  let at = o + IPV6_HEADER;
  // Each header is at least 8 bytes, so the walk ends within length / 8 steps.
  for (;;) {
    let headerLength: number;
    if (next === IpProtocol.HOP_BY_HOP || next === IpProtocol.DESTINATION_OPTIONS || next === IpProtocol.ROUTING) {
      if (end - at < 2) return 'truncated-extension-header';
      headerLength = (buf[at + 1]! + 1) * 8;
      if (end - at < headerLength) return 'truncated-extension-header';
      // Segments Left > 0: the destination in the IPv6 header is an intermediate hop.
      if (next === IpProtocol.ROUTING && buf[at + 3] !== 0) return 'unsupported-extension-header';
    } else if (next === IpProtocol.AH) {
      if (end - at < 2) return 'truncated-extension-header';
      headerLength = (buf[at + 1]! + 2) * 4;
      if (end - at < headerLength) return 'truncated-extension-header';
    } else if (next === IpProtocol.FRAGMENT) {
      headerLength = 8;
      if (end - at < headerLength) return 'truncated-extension-header';
      const offsetAndFlags = readU16(buf, at + 2);
      // Only an atomic fragment (RFC 6946: offset 0, M = 0) is a whole packet;
      // in a quoted packet, a first fragment still holds the ports.
      if ((offsetAndFlags & 0xfff8) !== 0 || ((offsetAndFlags & 1) !== 0 && !embedded)) return 'fragment';
    } else if (next === IpProtocol.ESP) {
      return 'unsupported-extension-header';
    } else {
      break;
    }
    next = buf[at]!;
    at += headerLength;
  }

  v.family = 6;
  v.addrLength = 16;
  v.length = length;
  v.ipHeaderLength = at - o;
  v.protocol = next;
  v.srcAddrOffset = o + 8;
  v.dstAddrOffset = o + 24;
  v.l4Offset = at;
  v.l4Length = end - at;
  return undefined;
}

/**
 * The value of the Jumbo Payload option in the Hop-by-Hop header at `at`,
 * or -1 when there is none (or the header does not fit before `limit`; the
 * extension-header walk then reports it).
 */
function jumboPayloadLength(buf: Buffer, at: number, limit: number): number {
  if (limit - at < 2) return -1;
  const end = at + (buf[at + 1]! + 1) * 8;
  if (end > limit) return -1;
  let p = at + 2;
  while (p < end) {
    const type = buf[p]!;
    if (type === 0) { p += 1; continue; } // Pad1
    if (end - p < 2) return -1;
    const optionLength = buf[p + 1]!;
    if (type === JUMBO_PAYLOAD_OPTION && optionLength === 4 && end - p >= 6) return readU32(buf, p + 2);
    p += 2 + optionLength;
  }
  return -1;
}

function decodeTransport(buf: Buffer, v: PacketView): RejectReason | undefined {
  const p = v.l4Offset;
  const n = v.l4Length;
  const embedded = v.embedded;
  const protocol = v.protocol;
  v.payloadOffset = p;
  v.payloadLength = n;

  if (protocol === IpProtocol.TCP) {
    if (n < (embedded ? QUOTED_L4_BYTES : TCP_MIN_HEADER)) return 'truncated-l4-header';
    v.srcPort = readU16(buf, p);
    v.dstPort = readU16(buf, p + 2);
    v.tcpFlags = n > 13 ? buf[p + 13]! : 0;
    v.l4ChecksumOffset = n >= 18 ? p + 16 : -1;
    const headerLength = n > 12 ? (buf[p + 12]! >> 4) * 4 : 0;
    const headerOk = headerLength >= TCP_MIN_HEADER && headerLength <= n;
    if (!headerOk && !embedded) return 'bad-tcp-data-offset';
    // A quoted segment may stop inside its header: then there is no payload.
    setPayload(v, headerOk ? headerLength : n);
    return undefined;
  }

  if (protocol === IpProtocol.UDP) {
    if (n < UDP_HEADER) return 'truncated-l4-header';
    v.srcPort = readU16(buf, p);
    v.dstPort = readU16(buf, p + 2);
    v.l4ChecksumOffset = p + 6;
    setPayload(v, UDP_HEADER);
    if (embedded) return undefined;
    if (!v.jumbogram && readU16(buf, p + 4) !== n) return 'bad-udp-length';
    if (v.family === 6 && readU16(buf, p + 6) === 0) return 'udp6-zero-checksum';
    return undefined;
  }

  // ICMP belongs to IPv4 and ICMPv6 to IPv6; the other pairing is just a number.
  if ((protocol === IpProtocol.ICMP && v.family === 4) || (protocol === IpProtocol.ICMPV6 && v.family === 6)) {
    if (n < ICMP_HEADER) return 'truncated-l4-header';
    v.icmpType = buf[p]!;
    v.icmpCode = buf[p + 1]!;
    v.l4ChecksumOffset = p + 2;
    setPayload(v, ICMP_HEADER);
    if (!embedded && isIcmpError(v.family, v.icmpType)) return decodeQuoted(buf, v, p + ICMP_HEADER, n - ICMP_HEADER);
    return undefined;
  }

  return undefined;
}

function setPayload(v: PacketView, headerLength: number): void {
  v.payloadOffset = v.l4Offset + headerLength;
  v.payloadLength = v.l4Length - headerLength;
}

/**
 * Decodes the packet quoted by the ICMP error `outer`, `available` bytes at
 * `at`. It must be of the outer packet's IP version and hold its IP header
 * plus the first 8 bytes of a TCP, UDP or ICMP header (decodeTransport asks
 * for those 8 in embedded mode).
 */
function decodeQuoted(buf: Buffer, outer: PacketView, at: number, available: number): RejectReason | undefined {
  if (available < 1) return 'truncated-icmp-inner';
  if (buf[at]! >> 4 !== outer.family) return 'bad-icmp-inner';
  const inner = outer.innerScratch();
  inner.reset(buf, at, true);
  const rejected = decodeAt(buf, inner, at, available, false);
  if (rejected !== undefined) return isTruncation(rejected) ? 'truncated-icmp-inner' : 'bad-icmp-inner';
  outer.inner = inner;
  return undefined;
}

function isTruncation(reason: RejectReason): boolean {
  return reason === 'truncated-ip-header' || reason === 'truncated-extension-header' || reason === 'truncated-l4-header';
}
