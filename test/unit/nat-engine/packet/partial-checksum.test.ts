/**
 * Partial-checksum mode (CHECKSUM_PARTIAL, nfqueue NFQA_SKB_CSUMNOTREADY):
 * the L4 checksum field holds the folded, uncomplemented pseudo-header sum,
 * and the NIC later sums the L4 bytes over it. A rewrite must keep it so:
 * addresses adjust it as a plain sum, ports leave it alone. Checked with
 * exact bytes against packets built with the new endpoints (reference
 * checksum), by completing the field as a NIC would.
 */
import fc from 'fast-check';
import { endpoint, ipAddress, port } from '@algd/sdk';
import { NatEngine } from '../../../../host/nat-engine/nat-engine';
import { completePartialChecksum, decodePacket, PacketView, rewriteDestination, rewriteSource } from '../../../../host/nat-engine/packet';
import { addr, buildPacket, getU16, pseudoHeader4, pseudoHeader6, referenceChecksum, TCP_FLAGS, toHex, type IpSpec, type L4Spec } from '../../../support/packets';
import { applyRewrite, buildCase, rewriteCaseArb, rewrittenCase, SEED, type PlainCase } from './packet-arbitraries';

const V4: IpSpec = { family: 4, src: '203.0.113.2', dst: '203.0.113.1', ttl: 64, id: 0x1234, dontFragment: true };
const V6: IpSpec = { family: 6, src: '2001:db8:2::2', dst: '2001:db8:2::1' };
const TCP: L4Spec = { kind: 'tcp', srcPort: 40000, dstPort: 61000, seq: 1, ack: 2, flags: TCP_FLAGS.ACK | TCP_FLAGS.PSH, window: 502, payload: Buffer.from('bulk data through a mapping') };
const UDP: L4Spec = { kind: 'udp', srcPort: 5004, dstPort: 61002, payload: Buffer.from('rtp') };

/** The view of `buf` (decoded, must be valid). */
function viewOf(buf: Buffer): PacketView {
  const view = new PacketView();
  expect(decodePacket(buf, view)).toBeUndefined();
  return view;
}

/** The folded pseudo-header sum (what CHECKSUM_PARTIAL leaves in the field), by the reference implementation. */
function partialField(buf: Buffer, view: PacketView): number {
  const src = buf.subarray(view.srcAddrOffset, view.srcAddrOffset + view.addrLength);
  const dst = buf.subarray(view.dstAddrOffset, view.dstAddrOffset + view.addrLength);
  const pseudo = view.family === 4 ? pseudoHeader4(src, dst, view.protocol, view.l4Length) : pseudoHeader6(src, dst, view.protocol, view.l4Length);
  return 0xffff - referenceChecksum(pseudo);
}

/** `packet` as a CHECKSUM_PARTIAL skb holds it: the L4 field replaced by the pseudo-header sum. */
function asPartial(packet: Buffer): Buffer {
  const buf = Buffer.from(packet);
  const view = viewOf(buf);
  buf.writeUInt16BE(partialField(buf, view), view.l4ChecksumOffset);
  return buf;
}

/** What the NIC does with a partial packet: sums the L4 bytes (field included) and writes the complement (UDP: 0 as 0xffff). */
function completeAsNic(buf: Buffer): void {
  const view = viewOf(buf);
  const c = referenceChecksum(buf.subarray(view.l4Offset, view.l4Offset + view.l4Length));
  buf.writeUInt16BE(c === 0 && view.protocol === 17 ? 0xffff : c, view.l4ChecksumOffset);
}

describe('partial-checksum rewrites (exact bytes)', () => {
  it.each([
    ['TCP/IPv4', V4, TCP, '198.51.100.2', 50000],
    ['UDP/IPv4', V4, UDP, '198.51.100.2', 8000],
    ['TCP/IPv6', V6, TCP, '2001:db8:1::2', 50000],
    ['UDP/IPv6', V6, UDP, '2001:db8:1::2', 8000],
  ] as const)('%s: a destination rewrite keeps the field the pseudo-header sum of the new addresses; completed, it is the new packet', (_name, ip, l4, newDst, newPort) => {
    const buf = asPartial(buildPacket(ip, l4));
    const view = viewOf(buf);
    view.checksumPartial = true;
    rewriteDestination(view, addr(newDst), newPort);

    const expected = buildPacket({ ...ip, dst: newDst }, { ...l4, dstPort: newPort } as L4Spec);
    // Still partial: the pseudo-header sum of the new addresses; every other byte as in the new packet.
    expect(getU16(buf, view.l4ChecksumOffset)).toBe(partialField(expected, viewOf(expected)));
    expect(toHex(asPartial(expected))).toBe(toHex(buf));
    completeAsNic(buf);
    expect(toHex(buf)).toBe(toHex(expected));
  });

  it('a port-only rewrite leaves the partial field alone; the IPv4 header checksum is adjusted as always', () => {
    const buf = asPartial(buildPacket(V4, TCP));
    const view = viewOf(buf);
    const field = getU16(buf, view.l4ChecksumOffset);
    view.checksumPartial = true;
    rewriteSource(view, undefined, 2121);
    expect(getU16(buf, view.l4ChecksumOffset)).toBe(field);
    rewriteSource(view, addr('203.0.113.9'), undefined);
    completeAsNic(buf);
    expect(toHex(buf)).toBe(toHex(buildPacket({ ...V4, src: '203.0.113.9' }, { ...TCP, srcPort: 2121 } as L4Spec)));
  });

  it('completePartialChecksum completes as the NIC would', () => {
    for (const [ip, l4] of [[V4, TCP], [V4, UDP], [V6, TCP], [V6, UDP]] as const) {
      const packet = buildPacket(ip, l4);
      const buf = asPartial(packet);
      completePartialChecksum(viewOf(buf));
      expect(toHex(buf)).toBe(toHex(packet));
    }
  });

  it('the engine threads PacketMeta.checksumPartial to the rewrites (inbound mapping, then its reply)', () => {
    const engine = new NatEngine();
    engine.createMapping({
      protocol: 'tcp', private: endpoint('198.51.100.2', 50000), public: endpoint('203.0.113.1', 61000), remote: { address: ipAddress('203.0.113.2') },
      direction: 'inbound', persistent: false, owner: 'test',
    });
    const syn: L4Spec = { kind: 'tcp', srcPort: 40000, dstPort: 61000, seq: 0, ack: 0, flags: TCP_FLAGS.SYN, window: 502 };
    expect(engine.process(asPartial(buildPacket(V4, syn)), { origin: 'public', stage: 'single', checksumPartial: true })).toBe('translated');
    const data = asPartial(buildPacket(V4, TCP));
    expect(engine.process(data, { origin: 'public', stage: 'single', checksumPartial: true })).toBe('translated');
    completeAsNic(data);
    expect(toHex(data)).toBe(toHex(buildPacket({ ...V4, dst: '198.51.100.2' }, { ...TCP, dstPort: 50000 } as L4Spec)));
    // The reply, complete (no flag): ordinary incremental update.
    const replyL4: L4Spec = { kind: 'tcp', srcPort: 50000, dstPort: 40000, seq: 2, ack: 30, flags: TCP_FLAGS.ACK, window: 1000 };
    const reply = buildPacket({ ...V4, src: '198.51.100.2', dst: '203.0.113.2' }, replyL4);
    expect(engine.process(reply, { origin: 'private', stage: 'single' })).toBe('translated');
    expect(toHex(reply)).toBe(toHex(buildPacket({ ...V4, src: '203.0.113.1', dst: '203.0.113.2' }, { ...replyL4, srcPort: port(61000) } as L4Spec)));
  });
});

describe('partial-checksum rewrites (properties)', () => {
  it('partial-mode rewrite, then completion, equals the packet built with the new endpoints and a full recompute', () => {
    const view = new PacketView();
    const tcpOrUdp = rewriteCaseArb.filter(([c]: [PlainCase, unknown]) => c.l4.kind === 'tcp' || c.l4.kind === 'udp');
    fc.assert(fc.property(tcpOrUdp, ([c, op]) => {
      const buf = asPartial(buildCase(c));
      expect(decodePacket(buf, view)).toBeUndefined();
      view.checksumPartial = true;
      applyRewrite(view, op);
      const expected = buildCase(rewrittenCase(c, op));
      expect(getU16(buf, view.l4ChecksumOffset)).toBe(partialField(expected, viewOf(expected)));
      completeAsNic(buf);
      expect(toHex(buf)).toBe(toHex(expected));
    }), { seed: SEED, numRuns: 1000 });
  });
});
