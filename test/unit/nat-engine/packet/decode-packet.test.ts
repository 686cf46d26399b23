import { decodePacket, isRejectReason, PacketView, REJECT_REASONS, type RejectReason } from '../../../../host/nat-engine/packet';
import { addr, buildIcmpError, buildPacket, concat, fromHex, type IpSpec, type L4Spec } from '../../../support/packets';

const V4: IpSpec = { family: 4, src: '198.51.100.10', dst: '203.0.113.5' };
const V6: IpSpec = { family: 6, src: '2001:db8:1::10', dst: '2001:db8:2::5' };
const TCP: L4Spec = { kind: 'tcp', srcPort: 40000, dstPort: 21, flags: 0x12, payload: Buffer.from('hello') };
const UDP: L4Spec = { kind: 'udp', srcPort: 5060, dstPort: 5062, payload: Buffer.from('INVITE') };

function decode(buf: Buffer, offset?: number, length?: number): { view: PacketView; reason: RejectReason | undefined } {
  const view = new PacketView();
  const reason = decodePacket(buf, view, offset, length);
  return { view, reason };
}

function decoded(buf: Buffer, offset?: number, length?: number): PacketView {
  const { view, reason } = decode(buf, offset, length);
  expect(reason).toBeUndefined();
  return view;
}

function rejected(buf: Buffer, offset?: number, length?: number): RejectReason | undefined {
  return decode(buf, offset, length).reason;
}

describe('decodePacket: IPv4', () => {
  it('decodes a TCP SYN with its MSS option into exact offsets (tshark-checked bytes)', () => {
    const buf = fromHex('450000301c4640004006b83ec633640acb0071059c40001511223344000000007002faf0412f0000020405b401010402');
    const v = decoded(buf);
    expect({ ...v, buf: undefined, spareInner: undefined }).toEqual({
      buf: undefined, spareInner: undefined,
      offset: 0, length: 48, family: 4, protocol: 6, ipHeaderLength: 20,
      srcAddrOffset: 12, dstAddrOffset: 16, addrLength: 4,
      l4Offset: 20, l4Length: 28, srcPort: 40000, dstPort: 21, tcpFlags: 0x02,
      payloadOffset: 48, payloadLength: 0, l4ChecksumOffset: 36,
      icmpType: -1, icmpCode: -1, inner: undefined, embedded: false, jumbogram: false, checksumPartial: false,
    });
    expect(v.isTcp()).toBe(true);
    expect(v.isUdp()).toBe(false);
    expect(v.isIcmp()).toBe(false);
    expect(v.srcAddress()).toBe('198.51.100.10');
    expect(v.dstAddress()).toBe('203.0.113.5');
  });

  it('skips IPv4 options by IHL', () => {
    const v = decoded(buildPacket({ ...V4, options: [148, 4, 0, 0, 1, 1, 1, 0] }, TCP));
    expect(v.ipHeaderLength).toBe(28);
    expect(v.l4Offset).toBe(28);
    expect([v.srcPort, v.dstPort, v.tcpFlags]).toEqual([40000, 21, 0x12]);
    expect(v.payloadOffset).toBe(48);
    expect(v.payloadLength).toBe(5);
  });

  it('works at an odd offset inside a larger buffer and ignores trailing padding', () => {
    const packet = buildPacket(V4, UDP);
    const buf = Buffer.from(concat(Uint8Array.of(0xee, 0xee, 0xee), packet, new Uint8Array(17).fill(0xee)));
    const v = decoded(buf, 3);
    expect(v.offset).toBe(3);
    expect(v.length).toBe(packet.length);
    expect(v.srcAddrOffset).toBe(15);
    expect(v.l4Offset).toBe(23);
    expect(v.l4Length).toBe(14);
    expect(v.l4ChecksumOffset).toBe(29);
    expect(v.payloadOffset).toBe(31);
    expect(v.payloadLength).toBe(6);
    expect(v.srcAddrEquals(addr('198.51.100.10'))).toBe(true);
    expect(v.dstAddrEquals(addr('203.0.113.5'))).toBe(true);
    expect(v.dstAddrEquals(addr('203.0.113.6'))).toBe(false);
    expect(v.dstAddrEquals(addr('2001:db8::1'))).toBe(false);
    // Same first four bytes, other family: still not the same address.
    expect(v.srcAddrEquals(addr('c633:640a::'))).toBe(false);
  });

  it('rejects fragments (MF or an offset) but not DF', () => {
    expect(rejected(buildPacket({ ...V4, moreFragments: true }, UDP))).toBe('fragment');
    expect(rejected(buildPacket({ ...V4, fragmentOffset: 1 }, UDP))).toBe('fragment');
    expect(rejected(buildPacket({ ...V4, fragmentOffset: 0x1000 }, UDP))).toBe('fragment');
    expect(rejected(buildPacket({ ...V4, dontFragment: true }, UDP))).toBeUndefined();
  });

  it('passes protocols it does not decode through by number (ESP is not special in IPv4)', () => {
    for (const protocol of [50, 47, 58]) {
      const v = decoded(buildPacket(V4, { kind: 'raw', protocol, bytes: new Uint8Array(12).fill(1) }));
      expect(v.protocol).toBe(protocol);
      expect([v.srcPort, v.dstPort, v.tcpFlags, v.l4ChecksumOffset, v.icmpType]).toEqual([0, 0, 0, -1, -1]);
      expect([v.payloadOffset, v.payloadLength]).toEqual([20, 12]);
    }
  });

  it('checks the header checksum only when asked', () => {
    const bad = buildPacket({ ...V4, headerChecksum: 0x1234 }, UDP);
    const good = buildPacket(V4, UDP);
    const view = new PacketView();
    expect(decodePacket(bad, view)).toBeUndefined();
    expect(decodePacket(bad, view, 0, bad.length, { verifyIpChecksum: true })).toBe('bad-ip-checksum');
    expect(decodePacket(good, view, 0, good.length, { verifyIpChecksum: true })).toBeUndefined();
  });

  it.each<[string, () => Buffer, RejectReason]>([
    ['19 bytes', () => buildPacket(V4, UDP).subarray(0, 19), 'truncated-ip-header'],
    ['an empty buffer', () => Buffer.alloc(0), 'truncated-ip-header'],
    ['IHL past the buffer', () => buildPacket({ ...V4, ihl: 15 }, { kind: 'raw', protocol: 99, bytes: new Uint8Array(20) }).subarray(0, 40), 'truncated-ip-header'],
    ['version 5', () => fromHex('55000014000000004006000000000000000000000000'), 'bad-ip-version'],
    ['IHL 4', () => buildPacket({ ...V4, ihl: 4 }, UDP), 'bad-ip-header-length'],
    ['total length below IHL', () => buildPacket({ ...V4, totalLength: 19 }, UDP), 'bad-ip-total-length'],
    ['total length past the buffer', () => buildPacket({ ...V4, totalLength: 35 }, UDP), 'bad-ip-total-length'],
    ['a 19-byte TCP header', () => buildPacket(V4, { kind: 'raw', protocol: 6, bytes: new Uint8Array(19) }), 'truncated-l4-header'],
    ['a 7-byte UDP header', () => buildPacket(V4, { kind: 'raw', protocol: 17, bytes: new Uint8Array(7) }), 'truncated-l4-header'],
    ['a 7-byte ICMP header', () => buildPacket(V4, { kind: 'raw', protocol: 1, bytes: new Uint8Array(7) }), 'truncated-l4-header'],
    ['TCP data offset 4', () => buildPacket(V4, { ...TCP, dataOffsetWords: 4 } as L4Spec), 'bad-tcp-data-offset'],
    ['TCP data offset past the segment', () => buildPacket(V4, { kind: 'tcp', srcPort: 1, dstPort: 2, dataOffsetWords: 7, options: [1, 1, 1, 1] }), 'bad-tcp-data-offset'],
    ['UDP length one too long', () => buildPacket(V4, { ...UDP, length: 15 } as L4Spec), 'bad-udp-length'],
    ['UDP length one too short', () => buildPacket(V4, { ...UDP, length: 13 } as L4Spec), 'bad-udp-length'],
  ])('rejects %s', (_name, make, reason) => {
    expect(rejected(make())).toBe(reason);
  });

  it('accepts a UDP/IPv4 checksum of 0 (no checksum)', () => {
    expect(rejected(buildPacket(V4, { ...UDP, checksum: 'none' } as L4Spec))).toBeUndefined();
  });
});

describe('decodePacket: IPv6', () => {
  it('decodes UDP into exact offsets', () => {
    const v = decoded(buildPacket(V6, UDP));
    expect([v.family, v.protocol, v.length, v.ipHeaderLength, v.addrLength]).toEqual([6, 17, 54, 40, 16]);
    expect([v.srcAddrOffset, v.dstAddrOffset, v.l4Offset, v.l4Length, v.l4ChecksumOffset]).toEqual([8, 24, 40, 14, 46]);
    expect([v.srcPort, v.dstPort, v.payloadOffset, v.payloadLength]).toEqual([5060, 5062, 48, 6]);
    expect(v.srcAddress()).toBe('2001:db8:1::10');
    expect(v.dstAddress()).toBe('2001:db8:2::5');
    expect(v.srcAddrEquals(addr('2001:db8:1::10'))).toBe(true);
    expect(v.srcAddrEquals(addr('198.51.100.10'))).toBe(false);
  });

  it('walks hop-by-hop, destination options, routing (Segments Left 0) and AH', () => {
    const v = decoded(buildPacket({
      ...V6,
      extensions: [
        { kind: 'hop-by-hop', options: [5, 2, 0, 0] },                                     // 8
        { kind: 'destination-options', options: [0x1e, 6, 1, 2, 3, 4, 5, 6, 0x1e, 2, 7, 7] }, // 16
        { kind: 'routing', segmentsLeft: 0, addresses: ['2001:db8:2::5'] },                  // 24
        { kind: 'ah' },                                                                      // 24: (4 + 2) * 4
        { kind: 'destination-options' },                                                     // 8
      ],
    }, TCP));
    expect(v.ipHeaderLength).toBe(40 + 8 + 16 + 24 + 24 + 8);
    expect(v.protocol).toBe(6);
    expect(v.l4Offset).toBe(120);
    expect([v.srcPort, v.dstPort, v.tcpFlags, v.l4ChecksumOffset, v.payloadLength]).toEqual([40000, 21, 0x12, 136, 5]);
  });

  it('accepts an atomic fragment and rejects real fragments', () => {
    const atomic = decoded(buildPacket({ ...V6, extensions: [{ kind: 'fragment', offset: 0, more: false }] }, UDP));
    expect([atomic.protocol, atomic.ipHeaderLength, atomic.srcPort]).toEqual([17, 48, 5060]);
    expect(rejected(buildPacket({ ...V6, extensions: [{ kind: 'fragment', offset: 0, more: true }] }, UDP))).toBe('fragment');
    expect(rejected(buildPacket({ ...V6, extensions: [{ kind: 'fragment', offset: 185, more: false }] }, UDP))).toBe('fragment');
    expect(rejected(buildPacket({ ...V6, extensions: [{ kind: 'fragment', offset: 1, more: false }] }, UDP))).toBe('fragment');
  });

  it('refuses ESP and a routing header with segments left', () => {
    expect(rejected(buildPacket({ ...V6, extensions: [{ kind: 'esp' }] }, UDP))).toBe('unsupported-extension-header');
    expect(rejected(buildPacket({ ...V6, extensions: [{ kind: 'hop-by-hop' }, { kind: 'esp' }] }, UDP))).toBe('unsupported-extension-header');
    expect(rejected(buildPacket({ ...V6, extensions: [{ kind: 'routing', segmentsLeft: 1, addresses: ['2001:db8::99'] }] }, UDP))).toBe('unsupported-extension-header');
  });

  it('stops at no-next-header (59) with nothing to translate', () => {
    const v = decoded(buildPacket({ ...V6, extensions: [{ kind: 'destination-options' }] }, { kind: 'raw', protocol: 59, bytes: new Uint8Array(0) }));
    expect([v.protocol, v.ipHeaderLength, v.l4Length, v.srcPort, v.l4ChecksumOffset]).toEqual([59, 48, 0, 0, -1]);
  });

  it('treats ICMP (1) inside IPv6 as an undecoded protocol', () => {
    const v = decoded(buildPacket(V6, { kind: 'raw', protocol: 1, bytes: Uint8Array.of(3, 3, 0, 0, 0, 0, 0, 0) }));
    expect([v.protocol, v.icmpType, v.l4ChecksumOffset]).toEqual([1, -1, -1]);
    expect(v.inner).toBeUndefined();
  });

  it('decodes a jumbogram (RFC 2675) without checking the UDP length field', () => {
    const payload = new Uint8Array(70_000).fill(0x61);
    const udpLength = 8 + payload.length;
    const jumbo = 8 + udpLength; // hop-by-hop header + UDP
    const jumboOption = [0xc2, 4, (jumbo >>> 24) & 0xff, (jumbo >>> 16) & 0xff, (jumbo >>> 8) & 0xff, jumbo & 0xff];
    const buf = buildPacket({ ...V6, payloadLength: 0, extensions: [{ kind: 'hop-by-hop', options: jumboOption }] }, { kind: 'udp', srcPort: 7, dstPort: 9, payload, length: 0 });
    const v = decoded(buf);
    expect(v.jumbogram).toBe(true);
    expect(v.length).toBe(40 + jumbo);
    expect([v.l4Length, v.payloadLength, v.dstPort]).toEqual([udpLength, payload.length, 9]);
  });

  it('rejects a jumbo payload length that would fit the ordinary field', () => {
    const small = [0xc2, 4, 0, 0, 0, 22];
    const buf = buildPacket({ ...V6, payloadLength: 0, extensions: [{ kind: 'hop-by-hop', options: small }] }, { kind: 'udp', srcPort: 7, dstPort: 9, payload: new Uint8Array(6) });
    expect(rejected(buf)).toBe('bad-ip-total-length');
  });

  it.each<[string, () => Buffer, RejectReason]>([
    ['39 bytes', () => buildPacket(V6, UDP).subarray(0, 39), 'truncated-ip-header'],
    ['payload length past the buffer', () => buildPacket({ ...V6, payloadLength: 15 }, UDP), 'bad-ip-total-length'],
    ['payload length 0 without a jumbo option', () => buildPacket({ ...V6, payloadLength: 0 }, UDP), 'truncated-l4-header'],
    ['a hop-by-hop header longer than the packet', () => buildPacket({ ...V6, payloadLength: 8 }, { kind: 'raw', protocol: 0, bytes: Uint8Array.of(17, 1, 0, 0, 0, 0, 0, 0) }), 'truncated-extension-header'],
    ['one byte of extension header', () => buildPacket(V6, { kind: 'raw', protocol: 60, bytes: Uint8Array.of(17) }), 'truncated-extension-header'],
    ['an AH header longer than the packet', () => buildPacket(V6, { kind: 'raw', protocol: 51, bytes: Uint8Array.of(17, 4, 0, 0, 0, 0, 0, 0) }), 'truncated-extension-header'],
    ['a 4-byte fragment header', () => buildPacket(V6, { kind: 'raw', protocol: 44, bytes: Uint8Array.of(17, 0, 0, 0) }), 'truncated-extension-header'],
    ['UDP with checksum 0', () => buildPacket(V6, { ...UDP, checksum: 'none' } as L4Spec), 'udp6-zero-checksum'],
  ])('rejects %s', (_name, make, reason) => {
    expect(rejected(make())).toBe(reason);
  });
});

describe('decodePacket: ICMP errors', () => {
  const original = buildPacket({ family: 4, src: '203.0.113.1', dst: '203.0.113.9' }, { kind: 'udp', srcPort: 61000, dstPort: 5060, payload: Buffer.from('INVITE sip:bob SIP/2.0') });
  const outer: IpSpec = { family: 4, src: '203.0.113.9', dst: '203.0.113.1' };

  it('decodes the quoted packet of a port unreachable', () => {
    const buf = buildIcmpError(outer, 3, 3, original, 36);
    const v = decoded(buf);
    expect([v.protocol, v.icmpType, v.icmpCode, v.l4ChecksumOffset, v.payloadOffset, v.payloadLength]).toEqual([1, 3, 3, 22, 28, 36]);
    const inner = v.inner!;
    expect(inner).toBeDefined();
    expect(inner.embedded).toBe(true);
    expect([inner.offset, inner.length, inner.family, inner.protocol, inner.ipHeaderLength]).toEqual([28, 36, 4, 17, 20]);
    expect([inner.srcAddrOffset, inner.dstAddrOffset, inner.l4Offset, inner.l4Length]).toEqual([40, 44, 48, 16]);
    expect([inner.srcPort, inner.dstPort, inner.l4ChecksumOffset, inner.payloadLength]).toEqual([61000, 5060, 54, 8]);
    expect(inner.srcAddress()).toBe('203.0.113.1');
    expect(inner.inner).toBeUndefined();
  });

  it('needs the quoted IP header plus 8 L4 bytes', () => {
    expect(rejected(buildIcmpError(outer, 3, 3, original, 28))).toBeUndefined();
    expect(rejected(buildIcmpError(outer, 3, 3, original, 27))).toBe('truncated-icmp-inner');
    expect(rejected(buildIcmpError(outer, 3, 3, original, 19))).toBe('truncated-icmp-inner');
    expect(rejected(buildIcmpError(outer, 11, 0, original, 0))).toBe('truncated-icmp-inner');
  });

  it('reads quoted TCP ports from 8 bytes, without a checksum field', () => {
    const tcp = buildPacket({ family: 4, src: '203.0.113.1', dst: '203.0.113.9' }, { kind: 'tcp', srcPort: 61000, dstPort: 21, flags: 0x02 });
    const inner = decoded(buildIcmpError(outer, 3, 1, tcp, 28)).inner!;
    expect([inner.srcPort, inner.dstPort, inner.tcpFlags, inner.l4ChecksumOffset, inner.payloadLength]).toEqual([61000, 21, 0, -1, 0]);
    const longer = decoded(buildIcmpError(outer, 3, 1, tcp, 38)).inner!;
    expect([longer.tcpFlags, longer.l4ChecksumOffset]).toEqual([0x02, 20 + 8 + 20 + 16]);
  });

  it('accepts a quoted first fragment but not a later one', () => {
    const first = buildPacket({ ...outer, src: '203.0.113.1', dst: '203.0.113.9', moreFragments: true }, UDP);
    expect(decoded(buildIcmpError(outer, 3, 4, first, 28)).inner!.dstPort).toBe(5062);
    const later = buildPacket({ ...outer, fragmentOffset: 10 }, UDP);
    expect(rejected(buildIcmpError(outer, 3, 4, later, 28))).toBe('bad-icmp-inner');
  });

  it('rejects a quoted packet of the other IP version or with a broken header', () => {
    expect(rejected(buildIcmpError(outer, 3, 3, buildPacket(V6, UDP)))).toBe('bad-icmp-inner');
    expect(rejected(buildIcmpError(outer, 3, 3, buildPacket({ ...V4, ihl: 4 }, UDP)))).toBe('bad-icmp-inner');
    expect(rejected(buildIcmpError(outer, 3, 3, buildPacket({ ...V4, totalLength: 12 }, UDP)))).toBe('bad-icmp-inner');
    expect(rejected(buildIcmpError({ ...V6, src: '2001:db8::1' }, 1, 4, buildPacket({ ...V6, extensions: [{ kind: 'esp' }] }, UDP)))).toBe('bad-icmp-inner');
  });

  it('does not decode an error quoted inside an error', () => {
    const inner = buildIcmpError({ family: 4, src: '203.0.113.1', dst: '203.0.113.9' }, 3, 3, original, 28);
    const v = decoded(buildIcmpError(outer, 11, 0, inner));
    expect([v.inner!.protocol, v.inner!.icmpType, v.inner!.icmpCode, v.inner!.l4ChecksumOffset]).toEqual([1, 3, 3, 28 + 20 + 2]);
    expect(v.inner!.inner).toBeUndefined();
  });

  it('decodes ICMPv6 errors, quoted extension headers included', () => {
    const quoted = buildPacket({ ...V6, extensions: [{ kind: 'destination-options' }] }, UDP);
    const v = decoded(buildIcmpError({ family: 6, src: '2001:db8:2::5', dst: '2001:db8:1::10' }, 2, 0, quoted, 56, 1280));
    expect([v.protocol, v.icmpType, v.l4ChecksumOffset]).toEqual([58, 2, 42]);
    const inner = v.inner!;
    expect([inner.offset, inner.length, inner.ipHeaderLength, inner.protocol, inner.srcPort, inner.dstPort]).toEqual([48, 56, 48, 17, 5060, 5062]);
    expect(inner.dstAddress()).toBe('2001:db8:2::5');
  });

  it('leaves informational ICMP alone', () => {
    const v = decoded(buildPacket(V4, { kind: 'icmp', type: 8, code: 0, rest: 0x00010002, body: original }));
    expect([v.icmpType, v.icmpCode, v.payloadLength]).toEqual([8, 0, original.length]);
    expect(v.inner).toBeUndefined();
  });
});

describe('decodePacket: the reusable view', () => {
  it('forgets the previous packet, quoted packet included', () => {
    const view = new PacketView();
    const original = buildPacket(V4, UDP);
    expect(decodePacket(buildIcmpError({ family: 4, src: '203.0.113.5', dst: '198.51.100.10' }, 3, 3, original), view)).toBeUndefined();
    const firstInner = view.inner;
    expect(firstInner).toBeDefined();
    expect(decodePacket(buildPacket(V4, TCP), view)).toBeUndefined();
    expect([view.inner, view.icmpType, view.srcPort]).toEqual([undefined, -1, 40000]);
    // The quoted-packet view is reused, not reallocated.
    expect(decodePacket(buildIcmpError({ family: 4, src: '203.0.113.5', dst: '198.51.100.10' }, 3, 3, original), view)).toBeUndefined();
    expect(view.inner).toBe(firstInner);
  });

  it.each<[string, number, number]>([
    ['a negative offset', -1, 10],
    ['an offset past the buffer', 100, 10],
    ['a fractional offset', 0.5, 10],
    ['a NaN length', 0, Number.NaN],
    ['a negative length', 0, -5],
  ])('treats %s as a truncated packet instead of throwing', (_name, offset, length) => {
    expect(rejected(buildPacket(V4, UDP), offset, length)).toBe('truncated-ip-header');
  });

  it('clamps a length past the end of the buffer', () => {
    const buf = buildPacket(V4, UDP);
    expect(decoded(buf, 0, 1000).length).toBe(buf.length);
  });
});

describe('REJECT_REASONS', () => {
  it('lists each reason once, and only reasons', () => {
    expect(new Set(REJECT_REASONS).size).toBe(REJECT_REASONS.length);
    expect(REJECT_REASONS.length).toBe(14);
    for (const r of REJECT_REASONS) expect(isRejectReason(r)).toBe(true);
    expect(isRejectReason('toString')).toBe(false);
    expect(isRejectReason('fragments')).toBe(false);
  });
});
