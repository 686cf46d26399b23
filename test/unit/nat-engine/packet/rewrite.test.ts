import {
  decodePacket, PacketView, rewriteDestination, rewriteInnerDestination, rewriteInnerSource, rewriteSource, verifyChecksums,
} from '../../../../host/nat-engine/packet';
import { addr, buildIcmpError, buildPacket, getU16, toHex, type IpSpec, type L4Spec } from '../../../support/packets';

const V4: IpSpec = { family: 4, src: '198.51.100.10', dst: '203.0.113.5' };
const V6: IpSpec = { family: 6, src: '2001:db8:1::10', dst: '2001:db8:2::5' };
const PUBLIC4 = '203.0.113.1';
const PUBLIC6 = '2001:db8:ffff::1';

function viewOf(buf: Buffer): PacketView {
  const view = new PacketView();
  expect(decodePacket(buf, view)).toBeUndefined();
  return view;
}

describe('rewriteSource / rewriteDestination', () => {
  it('keeps the view in step with the bytes', () => {
    const buf = buildPacket(V4, { kind: 'tcp', srcPort: 40000, dstPort: 21 });
    const view = viewOf(buf);
    rewriteSource(view, addr(PUBLIC4), 61000);
    rewriteDestination(view, undefined, 2121);
    expect([view.srcPort, view.dstPort, view.srcAddress(), view.dstAddress()]).toEqual([61000, 2121, PUBLIC4, '203.0.113.5']);
    const fresh = viewOf(buf);
    expect([fresh.srcPort, fresh.dstPort, fresh.srcAddress()]).toEqual([61000, 2121, PUBLIC4]);
  });

  it('changes nothing when given nothing (or the same values)', () => {
    const buf = buildPacket(V6, { kind: 'udp', srcPort: 5060, dstPort: 5060, payload: Buffer.from('x') });
    const before = toHex(buf);
    const view = viewOf(buf);
    rewriteSource(view, undefined, undefined);
    rewriteDestination(view, addr('2001:db8:2::5'), 5060);
    expect(toHex(buf)).toBe(before);
  });

  it('leaves the ICMPv4 checksum alone (no pseudo-header) and ignores a port for ICMP', () => {
    const buf = buildPacket(V4, { kind: 'icmp', type: 8, code: 0, rest: 0x00070001, body: Buffer.from('ping') });
    const view = viewOf(buf);
    const icmpChecksum = getU16(buf, view.l4ChecksumOffset);
    rewriteSource(view, addr(PUBLIC4), 1234);
    expect(getU16(buf, view.l4ChecksumOffset)).toBe(icmpChecksum);
    expect(toHex(buf)).toBe(toHex(buildPacket({ ...V4, src: PUBLIC4 }, { kind: 'icmp', type: 8, code: 0, rest: 0x00070001, body: Buffer.from('ping') })));
  });

  it('adjusts the ICMPv6 checksum, which covers the pseudo-header', () => {
    const echo: L4Spec = { kind: 'icmp', type: 128, code: 0, rest: 0x00070001, body: Buffer.from('ping') };
    const buf = buildPacket(V6, echo);
    rewriteSource(viewOf(buf), addr(PUBLIC6), undefined);
    expect(toHex(buf)).toBe(toHex(buildPacket({ ...V6, src: PUBLIC6 }, echo)));
  });

  it('keeps a computed TCP checksum of 0 as 0x0000 (only UDP turns it into 0xffff)', () => {
    // Choose the payload so that the rewritten segment's checksum computes to 0.
    const after: IpSpec = { ...V4, src: PUBLIC4 };
    const probe = buildPacket(after, { kind: 'tcp', srcPort: 1, dstPort: 2, payload: Uint8Array.of(0, 0) });
    const c0 = getU16(probe, 36);
    const tcp: L4Spec = { kind: 'tcp', srcPort: 1, dstPort: 2, payload: Uint8Array.of(c0 >> 8, c0 & 0xff) };
    const expected = buildPacket(after, tcp);
    expect(getU16(expected, 36)).toBe(0);
    const buf = buildPacket(V4, tcp);
    rewriteSource(viewOf(buf), addr(PUBLIC4), undefined);
    expect(toHex(buf)).toBe(toHex(expected));
  });

  it('keeps a wrong checksum wrong, never launders it', () => {
    const good = buildPacket(V4, { kind: 'udp', srcPort: 5000, dstPort: 5001, payload: Buffer.from('data') });
    const bad = Buffer.from(good);
    bad.writeUInt16BE(getU16(bad, 26) ^ 0x0100, 26);
    const view = viewOf(bad);
    expect(verifyChecksums(view)).toBe(false);
    rewriteSource(view, addr(PUBLIC4), 7000);
    expect(verifyChecksums(view)).toBe(false);
    rewriteSource(viewOf(good), addr(PUBLIC4), 7000);
    expect(getU16(bad, 26)).not.toBe(getU16(good, 26));
  });

  it('writes nothing outside the packet', () => {
    const packet = buildPacket(V6, { kind: 'tcp', srcPort: 1, dstPort: 2 });
    const buf = Buffer.concat([Buffer.alloc(5, 0xa5), packet, Buffer.alloc(7, 0xa5)]);
    const view = new PacketView();
    expect(decodePacket(buf, view, 5, packet.length)).toBeUndefined();
    rewriteSource(view, addr(PUBLIC6), 3);
    rewriteDestination(view, addr('2001:db8::99'), 4);
    expect(toHex(buf.subarray(0, 5))).toBe('a5'.repeat(5));
    expect(toHex(buf.subarray(5 + packet.length))).toBe('a5'.repeat(7));
    expect(verifyChecksums(view)).toBe(true);
  });

  it('refuses an address of the other family and a non-port, before writing anything', () => {
    const buf = buildPacket(V4, { kind: 'udp', srcPort: 1, dstPort: 2 });
    const before = toHex(buf);
    const view = viewOf(buf);
    expect(() => rewriteSource(view, addr(PUBLIC6), undefined)).toThrow(RangeError);
    expect(() => rewriteDestination(view, undefined, 65536)).toThrow(RangeError);
    expect(() => rewriteDestination(view, undefined, -1)).toThrow(RangeError);
    expect(() => rewriteDestination(view, undefined, 1.5)).toThrow(RangeError);
    expect(toHex(buf)).toBe(before);
  });
});

describe('rewriteInnerSource / rewriteInnerDestination (ICMP errors)', () => {
  const outer4: IpSpec = { family: 4, src: '203.0.113.9', dst: PUBLIC4 };
  const outer6: IpSpec = { family: 6, src: '2001:db8:2::9', dst: PUBLIC6 };

  /** The error for `inner`, and the error as it should be after the reverse translation to `translated`. */
  function pair(outer: IpSpec, type: number, code: number, inner: [IpSpec, L4Spec], translated: [IpSpec, L4Spec], quoted?: number) {
    const original = buildPacket(...inner);
    const expectedOriginal = buildPacket(...translated);
    return {
      buf: buildIcmpError(outer, type, code, original, quoted),
      expected: buildIcmpError({ ...outer, dst: translated[0].src }, type, code, expectedOriginal, quoted),
    };
  }

  it('rewrites a quoted TCP header cut before its checksum: inner IP header and outer ICMP checksums only', () => {
    const tcp: L4Spec = { kind: 'tcp', srcPort: 61000, dstPort: 21, flags: 0x02 };
    const { buf, expected } = pair(outer4, 3, 1, [{ family: 4, src: PUBLIC4, dst: '203.0.113.9' }, tcp], [{ family: 4, src: '198.51.100.10', dst: '203.0.113.9' }, { ...tcp, srcPort: 40000 }], 28);
    const view = viewOf(buf);
    expect(view.inner!.l4ChecksumOffset).toBe(-1);
    rewriteDestination(view, addr('198.51.100.10'), undefined);
    rewriteInnerSource(view, addr('198.51.100.10'), 40000);
    expect(toHex(buf)).toBe(toHex(expected));
    expect(verifyChecksums(view)).toBe(true);
  });

  it('rewrites a quoted TCP header with its checksum (adjusted like Linux does)', () => {
    const tcp: L4Spec = { kind: 'tcp', srcPort: 61000, dstPort: 21, flags: 0x18, payload: Buffer.from('USER anonymous\r\n') };
    const { buf, expected } = pair(outer4, 3, 4, [{ family: 4, src: PUBLIC4, dst: '203.0.113.9' }, tcp], [{ family: 4, src: '198.51.100.10', dst: '203.0.113.9' }, { ...tcp, srcPort: 40000 }], 48);
    const view = viewOf(buf);
    expect(view.inner!.l4ChecksumOffset).toBe(20 + 8 + 20 + 16);
    rewriteDestination(view, addr('198.51.100.10'), undefined);
    rewriteInnerSource(view, addr('198.51.100.10'), 40000);
    expect(toHex(buf)).toBe(toHex(expected));
  });

  it('leaves a quoted UDP/IPv4 checksum of 0 at 0', () => {
    const udp: L4Spec = { kind: 'udp', srcPort: 3000, dstPort: 69, checksum: 'none', payload: Buffer.from('rrq') };
    const { buf, expected } = pair(outer4, 3, 3, [{ family: 4, src: PUBLIC4, dst: '203.0.113.9' }, udp], [{ family: 4, src: '198.51.100.30', dst: '203.0.113.9' }, { ...udp, srcPort: 69 }]);
    const view = viewOf(buf);
    rewriteDestination(view, addr('198.51.100.30'), undefined);
    rewriteInnerSource(view, addr('198.51.100.30'), 69);
    expect(getU16(buf, view.inner!.l4ChecksumOffset)).toBe(0);
    expect(toHex(buf)).toBe(toHex(expected));
  });

  it('rewrites the outer source and the quoted destination (a private server refusing a DNATed datagram)', () => {
    // [2001:db8:2::7]:40000 sent to PUBLIC6:5060, which we forwarded to [2001:db8:1::20]:5062; that host answers "port unreachable".
    const udp: L4Spec = { kind: 'udp', srcPort: 40000, dstPort: 5062, payload: Buffer.from('OPTIONS') };
    const forwarded = buildPacket({ family: 6, src: '2001:db8:2::7', dst: '2001:db8:1::20' }, udp);
    const buf = buildIcmpError({ family: 6, src: '2001:db8:1::20', dst: '2001:db8:2::7' }, 1, 4, forwarded);
    const view = viewOf(buf);
    rewriteSource(view, addr(PUBLIC6), undefined);
    rewriteInnerDestination(view, addr(PUBLIC6), 5060);
    const sent = buildPacket({ family: 6, src: '2001:db8:2::7', dst: PUBLIC6 }, { ...udp, dstPort: 5060 });
    expect(toHex(buf)).toBe(toHex(buildIcmpError({ family: 6, src: PUBLIC6, dst: '2001:db8:2::7' }, 1, 4, sent)));
  });

  it('adjusts a quoted ICMPv6 echo (its checksum has a pseudo-header) and ignores ports for it', () => {
    const echo: L4Spec = { kind: 'icmp', type: 128, code: 0, rest: 0x12340001, body: Buffer.from('ping6') };
    const { buf, expected } = pair(outer6, 3, 0, [{ family: 6, src: PUBLIC6, dst: '2001:db8:2::9' }, echo], [{ family: 6, src: '2001:db8:1::10', dst: '2001:db8:2::9' }, echo]);
    const view = viewOf(buf);
    rewriteDestination(view, addr('2001:db8:1::10'), undefined);
    rewriteInnerSource(view, addr('2001:db8:1::10'), 999);
    expect(toHex(buf)).toBe(toHex(expected));
  });

  it('refuses a packet that is not an ICMP error', () => {
    const view = viewOf(buildPacket(V4, { kind: 'udp', srcPort: 1, dstPort: 2 }));
    expect(() => rewriteInnerSource(view, addr(PUBLIC4), 1)).toThrow(RangeError);
    expect(() => rewriteInnerDestination(view, undefined, 1)).toThrow(RangeError);
  });
});
