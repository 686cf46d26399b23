import { readU16, writeU16 } from './bytes';
import { hasPseudoHeader } from './checksum';
import { addDeltas, adjustChecksumField, replacementDelta, wordDelta, type ChecksumFieldKind } from './incremental-checksum';
import { IpProtocol } from './ip-protocol';
import type { PacketView } from './packet-view';

// In-place NAT rewrites. Every checksum that covers a changed byte is
// adjusted incrementally (RFC 1624), never recomputed: the cost does not
// depend on the packet size, and a checksum that was wrong stays wrong (we
// must not launder corrupted packets into valid ones).
//
// Checksum offload: when `view.checksumPartial` is set (the driver says the
// L4 checksum is CHECKSUM_PARTIAL, see PacketMeta), the L4 field holds the
// pseudo-header sum: address changes adjust it as a plain sum ('partial'
// kind), port changes and changes to quoted bytes leave it alone (the NIC
// sums the L4 bytes later). The IPv4 header checksum is complete either way.

const IPV4_CHECKSUM_AT = 10;
const SRC_PORT_AT = 0;
const DST_PORT_AT = 2;

/**
 * Rewrites the source address and/or port of `view`'s packet in place
 * (undefined leaves that part alone) and keeps every checksum right: the
 * IPv4 header checksum, the TCP/UDP checksum (pseudo-header and port), the
 * ICMPv6 checksum (pseudo-header). The ICMPv4 checksum does not cover the
 * addresses. `port` applies to TCP and UDP only and is ignored otherwise.
 * Throws a RangeError when `addr` is not of the packet's family or `port`
 * is not a port number: a caller bug, never a property of the packet.
 */
export function rewriteSource(view: PacketView, addr: Uint8Array | undefined, port: number | undefined): void {
  rewriteEndpoint(view, view.srcAddrOffset, SRC_PORT_AT, addr, port);
}

/** As {@link rewriteSource}, for the destination address and port. */
export function rewriteDestination(view: PacketView, addr: Uint8Array | undefined, port: number | undefined): void {
  rewriteEndpoint(view, view.dstAddrOffset, DST_PORT_AT, addr, port);
}

/**
 * Rewrites the source address and/or port of the packet quoted by the ICMP
 * error `view` (`view.inner`), keeping right: the quoted IPv4 header
 * checksum, the quoted TCP/UDP/ICMPv6 checksum when it was quoted (as Linux
 * does), and the outer ICMP/ICMPv6 checksum, which covers all those bytes.
 * Throws a RangeError when `view` is not an ICMP error with a quoted packet.
 */
export function rewriteInnerSource(view: PacketView, addr: Uint8Array | undefined, port: number | undefined): void {
  const inner = quotedPacket(view);
  const delta = rewriteEndpoint(inner, inner.srcAddrOffset, SRC_PORT_AT, addr, port);
  if (!view.checksumPartial) adjustChecksumField(view.buf, view.l4ChecksumOffset, delta);
}

/** As {@link rewriteInnerSource}, for the quoted packet's destination. */
export function rewriteInnerDestination(view: PacketView, addr: Uint8Array | undefined, port: number | undefined): void {
  const inner = quotedPacket(view);
  const delta = rewriteEndpoint(inner, inner.dstAddrOffset, DST_PORT_AT, addr, port);
  if (!view.checksumPartial) adjustChecksumField(view.buf, view.l4ChecksumOffset, delta);
}

function quotedPacket(view: PacketView): PacketView {
  if (view.inner === undefined || view.l4ChecksumOffset < 0) throw new RangeError('not an ICMP error with a quoted packet');
  return view.inner;
}

/**
 * Writes one endpoint (address at `addrAt`, port at `l4Offset + portAt`)
 * and adjusts the checksums of `v` that cover it. Returns the delta of every
 * byte it changed, checksum fields included, for a checksum that encloses
 * the whole packet (the ICMP checksum around a quoted packet).
 */
function rewriteEndpoint(v: PacketView, addrAt: number, portAt: number, addr: Uint8Array | undefined, port: number | undefined): number {
  const buf = v.buf;
  const l4ChecksumAt = v.l4ChecksumOffset;
  const partial = v.checksumPartial;
  const kind: ChecksumFieldKind = partial ? 'partial' : v.protocol === IpProtocol.UDP ? 'udp' : 'complemented';
  let changed = 0;

  if (addr !== undefined) {
    if (addr.length !== v.addrLength) throw new RangeError(`address of ${addr.length} bytes for an IPv${v.family} packet`);
    const delta = replacementDelta(buf, addrAt, addr);
    changed = addDeltas(changed, delta);
    if (v.family === 4) changed = addDeltas(changed, adjustChecksumField(buf, v.offset + IPV4_CHECKSUM_AT, delta));
    if (hasPseudoHeader(v)) changed = addDeltas(changed, adjustChecksumField(buf, l4ChecksumAt, delta, kind));
    buf.set(addr, addrAt);
  }

  if (port !== undefined && (v.protocol === IpProtocol.TCP || v.protocol === IpProtocol.UDP)) {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`not a port number: ${port}`);
    const at = v.l4Offset + portAt;
    const delta = wordDelta(readU16(buf, at), port);
    changed = addDeltas(changed, delta);
    if (l4ChecksumAt >= 0 && !partial) changed = addDeltas(changed, adjustChecksumField(buf, l4ChecksumAt, delta, kind));
    writeU16(buf, at, port);
    if (portAt === SRC_PORT_AT) v.srcPort = port;
    else v.dstPort = port;
  }
  return changed;
}
