/**
 * Property tests (fast-check, fixed seed): the decoder never throws and
 * only rejects with a listed reason; valid packets decode to the fields
 * they were built with; incremental rewrites give exactly the bytes of a
 * packet built with the new addresses and ports (checksums by the reference
 * implementation) and of a full recomputation.
 */
import fc from 'fast-check';
import { ipAddress } from '@algd/sdk';
import { decodePacket, fillChecksums, PacketView, REJECT_REASONS, rewriteDestination, rewriteSource, verifyChecksums, type RejectReason } from '../../../../host/nat-engine/packet';
import { addr, buildPacket, getU16, ipHeaderLengthOf, protocolOf, pseudoHeader6, referenceChecksum, toHex, type IpSpec, type TcpSpec, type UdpSpec } from '../../../support/packets';
import {
  addr4Arb, addr6Arb, anyErrorCaseArb, anyPlainCaseArb, applyErrorRewrite, applyRewrite, buildCase, buildErrorCase, errorRewriteCaseArb, ipv4Arb, ipv6Arb, portArb,
  quotedLength, rewriteCaseArb, rewrittenCase, rewrittenErrorCase, SEED, tcpArb, udpArb, type ErrorCase, type ErrorRewriteOp, type PlainCase,
} from './packet-arbitraries';

const RUNS = { seed: SEED, numRuns: 2000 };

function expectListed(reason: RejectReason | undefined): void {
  if (reason !== undefined) expect(REJECT_REASONS).toContain(reason);
}

/**
 * Broken structural promises of an accepted view: every offset inside the
 * packet, the parts adding up. Plain checks collected into one list, since
 * jest's expect is too slow to call dozens of times per run.
 */
function malformations(v: PacketView, offset: number, available: number): string[] {
  const out: string[] = [];
  const check = (ok: boolean, what: string) => { if (!ok) out.push(what); };
  const end = v.offset + v.length;
  check(v.offset === offset, `offset ${v.offset} != ${offset}`);
  check(v.length <= available, `length ${v.length} > ${available}`);
  check(v.l4Offset === v.offset + v.ipHeaderLength, 'l4Offset != offset + ipHeaderLength');
  check(v.l4Length >= 0 && v.l4Offset + v.l4Length === end, 'L4 does not end with the packet');
  check(v.payloadOffset >= v.l4Offset && v.payloadLength >= 0 && v.payloadOffset + v.payloadLength === end, 'payload does not end with the packet');
  check(v.addrLength === (v.family === 4 ? 4 : 16), 'addrLength');
  check(v.srcAddrOffset + v.addrLength <= v.l4Offset && v.dstAddrOffset + v.addrLength <= v.l4Offset, 'addresses outside the IP header');
  check(v.l4ChecksumOffset === -1 || (v.l4ChecksumOffset >= v.l4Offset && v.l4ChecksumOffset + 2 <= end), 'checksum field outside L4');
  check(!(v.isTcp() || v.isUdp()) || v.l4Length >= 8, 'ports not all there');
  check(v.srcPort >= 0 && v.srcPort <= 0xffff && v.dstPort >= 0 && v.dstPort <= 0xffff, 'ports');
  if (v.inner !== undefined) {
    check(!v.embedded && v.inner.embedded && v.inner.inner === undefined, 'nesting');
    check(v.inner.family === v.family, 'quoted family');
    out.push(...malformations(v.inner, v.l4Offset + 8, end - (v.l4Offset + 8)).map((m) => `inner: ${m}`));
  }
  return out;
}

function expectWellFormed(v: PacketView, offset: number, available: number): void {
  expect(malformations(v, offset, available)).toEqual([]);
}

/** A packet in the middle of a buffer, junk around it. */
const framedArb = <T>(arb: fc.Arbitrary<T>) => fc.tuple(arb, fc.uint8Array({ maxLength: 7 }), fc.uint8Array({ maxLength: 24 }));

function frame(prefix: Uint8Array, packet: Uint8Array, suffix: Uint8Array): Buffer {
  return Buffer.concat([prefix, packet, suffix]);
}

/** Random bytes dressed as IP: a plausible first byte and length field, so the decoder gets past the first checks. */
const ipLikeArb = fc.tuple(fc.uint8Array({ minLength: 20, maxLength: 160 }), fc.boolean(), fc.constantFrom(0, 1, 6, 17, 43, 44, 50, 51, 58, 59, 60)).map(([bytes, v6, next]) => {
  const b = Buffer.from(bytes);
  if (!v6) {
    b[0] = 0x40 | (5 + (b[0]! % 3));
    b.writeUInt16BE(b.length, 2);
    b[6]! &= 0x40;
    b[9] = next === 58 ? 1 : next;
  } else if (b.length >= 40) {
    b[0] = 0x60;
    b.writeUInt16BE(b.length - 40, 4);
    b[6] = next;
  }
  return b;
});

describe('decodePacket never throws', () => {
  it('on random bytes at random offsets and lengths', () => {
    const view = new PacketView();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: -4, max: 130 }), fc.integer({ min: -4, max: 130 }), (bytes, offset, length) => {
      const buf = Buffer.from(bytes);
      expectListed(decodePacket(buf, view, offset, length));
      const reason = decodePacket(buf, view);
      expectListed(reason);
      if (reason === undefined) expectWellFormed(view, 0, buf.length);
    }), RUNS);
  });

  it('on random bytes that look like IPv4/IPv6 headers', () => {
    const view = new PacketView();
    fc.assert(fc.property(ipLikeArb, (buf) => {
      const reason = decodePacket(buf, view);
      expectListed(reason);
      if (reason === undefined) expectWellFormed(view, 0, buf.length);
    }), RUNS);
  });

  it('on valid packets and ICMP errors cut at every length', () => {
    const view = new PacketView();
    fc.assert(fc.property(fc.oneof(anyPlainCaseArb.map(buildCase), anyErrorCaseArb.map(buildErrorCase)), (buf) => {
      // Plain checks in the loop (jest's expect is slow); one assertion on what went wrong.
      const wrong: string[] = [];
      for (let length = 0; length < buf.length; length++) {
        const reason = decodePacket(buf, view, 0, length);
        // The IP length promises more than there is: always a listed reason, the same for a shorter buffer.
        if (reason === undefined || !REJECT_REASONS.includes(reason)) wrong.push(`${length}: ${String(reason)}`);
        else if (decodePacket(buf.subarray(0, length), view) !== reason) wrong.push(`${length}: differs when the buffer ends there`);
      }
      expect(wrong).toEqual([]);
      expect(decodePacket(buf, view)).toBeUndefined();
    }), RUNS);
  });

  it('on valid packets with mutated bytes; what it accepts is well-formed and rewrites stay inside the packet', () => {
    const view = new PacketView();
    const mutations = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });
    let accepted = 0;
    fc.assert(fc.property(fc.oneof(anyPlainCaseArb.map(buildCase), anyErrorCaseArb.map(buildErrorCase)), mutations, addr4Arb, portArb, (built, changes, to, port) => {
      const packet = Buffer.from(built);
      for (const [at, value] of changes) packet[at % packet.length] = value;
      const buf = frame(Buffer.alloc(3, 0xa5), packet, Buffer.alloc(9, 0xa5));
      const reason = decodePacket(buf, view, 3, packet.length);
      expectListed(reason);
      if (reason !== undefined) return;
      accepted++;
      expectWellFormed(view, 3, packet.length);
      const a = view.family === 4 ? addr(to) : addr(`2001:db8::${port.toString(16)}`);
      rewriteSource(view, a, port);
      rewriteDestination(view, a, port);
      expect(toHex(buf.subarray(0, 3))).toBe('a5a5a5');
      expect(toHex(buf.subarray(3 + packet.length))).toBe('a5'.repeat(9));
    }), RUNS);
    // Not vacuous: many mutated packets still decode (payload bytes, ports, TTL…) and get rewritten.
    expect(accepted).toBeGreaterThan(RUNS.numRuns / 4);
  });
});

describe('decodePacket on valid packets', () => {
  /** The fields a view of `c` must have (ports and ICMP fields by kind; payload only for a whole packet). */
  function fieldsOf(v: PacketView) {
    return {
      family: v.family, offset: v.offset, length: v.length, ipHeaderLength: v.ipHeaderLength, protocol: v.protocol,
      src: v.srcAddress(), dst: v.dstAddress(), l4Offset: v.l4Offset, srcPort: v.srcPort, dstPort: v.dstPort,
      ...(v.embedded ? {} : { tcpFlags: v.tcpFlags, payloadLength: v.payloadLength, l4ChecksumOffset: v.l4ChecksumOffset, icmpType: v.icmpType, icmpCode: v.icmpCode }),
    };
  }

  function expectedFields(c: PlainCase, offset: number, length: number, embedded: boolean): ReturnType<typeof fieldsOf> {
    const headerLength = ipHeaderLengthOf(c.ip);
    const l4Offset = offset + headerLength;
    const l4 = c.l4;
    const transport = l4.kind === 'tcp' || l4.kind === 'udp';
    return {
      family: c.ip.family, offset, length, ipHeaderLength: headerLength, protocol: protocolOf(l4, c.ip.family),
      src: ipAddress(c.ip.src), dst: ipAddress(c.ip.dst), l4Offset,
      srcPort: transport ? l4.srcPort : 0, dstPort: transport ? l4.dstPort : 0,
      ...(embedded ? {} : {
        tcpFlags: l4.kind === 'tcp' ? l4.flags ?? 0x10 : 0,
        payloadLength: l4.kind === 'icmp' ? l4.body?.length ?? 0 : l4.kind === 'raw' ? l4.bytes.length : l4.payload?.length ?? 0,
        l4ChecksumOffset: l4Offset + (l4.kind === 'tcp' ? 16 : l4.kind === 'udp' ? 6 : 2),
        icmpType: l4.kind === 'icmp' ? l4.type : -1,
        icmpCode: l4.kind === 'icmp' ? l4.code : -1,
      }),
    };
  }

  function expectFields(v: PacketView, c: PlainCase, offset: number, length: number): void {
    expect(fieldsOf(v)).toEqual(expectedFields(c, offset, length, v.embedded));
    expect(v.srcAddrEquals(addr(c.ip.src)) && v.dstAddrEquals(addr(c.ip.dst))).toBe(true);
  }

  it('gives the fields they were built with, wherever they sit in the buffer', () => {
    const view = new PacketView();
    fc.assert(fc.property(framedArb(anyPlainCaseArb), ([c, prefix, suffix]) => {
      const packet = buildCase(c);
      const buf = frame(prefix, packet, suffix);
      expect(decodePacket(buf, view, prefix.length)).toBeUndefined();
      expectFields(view, c, prefix.length, packet.length);
      expect(view.inner).toBeUndefined();
      expect(verifyChecksums(view)).toBe(true);
    }), RUNS);
  });

  it('decodes the quoted packet of ICMP errors', () => {
    const view = new PacketView();
    fc.assert(fc.property(framedArb(anyErrorCaseArb), ([e, prefix, suffix]) => {
      const packet = buildErrorCase(e);
      const buf = frame(prefix, packet, suffix);
      expect(decodePacket(buf, view, prefix.length)).toBeUndefined();
      expect(view.inner).toBeDefined();
      expect([view.icmpType, view.icmpCode]).toEqual([e.type, e.code]);
      const outerHeader = ipHeaderLengthOf(e.outer);
      expectFields(view.inner!, e.inner, prefix.length + outerHeader + 8, quotedLength(e));
    }), RUNS);
  });

  it('needs exactly the quoted IP header plus 8 L4 bytes', () => {
    const view = new PacketView();
    fc.assert(fc.property(anyErrorCaseArb, (e) => {
      const whole = buildCase(e.inner);
      const needed = ipHeaderLengthOf(e.inner.ip) + 8;
      for (let quoted = 0; quoted <= Math.min(whole.length, needed + 2); quoted++) {
        const buf = buildPacket(e.outer, { kind: 'icmp', type: e.type, code: e.code, rest: e.rest, body: whole.subarray(0, quoted) });
        expect(decodePacket(buf, view)).toBe(quoted >= needed ? undefined : 'truncated-icmp-inner');
      }
    }), { seed: SEED, numRuns: 300 });
  });
});

/**
 * The bytes an ICMP error should have after `op`: the error built around the
 * translated packet, except for one thing no NAT can do: when the quote ends
 * in the middle of the TCP checksum, its first byte cannot be adjusted (the
 * carry from the missing byte is unknown), so it stays as it was.
 */
function expectedError(e: ErrorCase, op: ErrorRewriteOp): Buffer {
  const expected = buildErrorCase(rewrittenErrorCase(e, op));
  const innerHeader = ipHeaderLengthOf(e.inner.ip);
  if (e.inner.l4.kind !== 'tcp' || quotedLength(e) !== innerHeader + 17) return expected;
  const outerHeader = ipHeaderLengthOf(e.outer);
  const halfChecksumAt = outerHeader + 8 + innerHeader + 16;
  expected[halfChecksumAt] = buildErrorCase(e)[halfChecksumAt]!;
  const icmp = Uint8Array.from(expected.subarray(outerHeader));
  icmp[2] = 0;
  icmp[3] = 0;
  const outer = rewrittenErrorCase(e, op).outer;
  const checksum = outer.family === 4
    ? referenceChecksum(icmp)
    : referenceChecksum(pseudoHeader6(addr(outer.src), addr(outer.dst), 58, icmp.length), icmp);
  expected.writeUInt16BE(checksum, outerHeader + 2);
  return expected;
}

describe('incremental rewrites', () => {
  it('equal the packet built with the new addresses and ports, and a full recomputation', () => {
    const view = new PacketView();
    fc.assert(fc.property(framedArb(rewriteCaseArb), ([[c, op], prefix, suffix]) => {
      const packet = buildCase(c);
      const buf = frame(prefix, packet, suffix);
      expect(decodePacket(buf, view, prefix.length)).toBeUndefined();
      applyRewrite(view, op);
      const rewritten = buf.subarray(prefix.length, prefix.length + packet.length);
      expect(toHex(rewritten)).toBe(toHex(buildCase(rewrittenCase(c, op))));
      const recomputed = Buffer.from(buf);
      const again = new PacketView();
      expect(decodePacket(recomputed, again, prefix.length)).toBeUndefined();
      fillChecksums(again);
      expect(toHex(recomputed)).toBe(toHex(buf));
      expect(toHex(buf.subarray(0, prefix.length))).toBe(toHex(prefix));
      expect(toHex(buf.subarray(prefix.length + packet.length))).toBe(toHex(suffix));
    }), RUNS);
  });

  it('equal the ICMP error built with the new outer and quoted addresses and ports', () => {
    const view = new PacketView();
    fc.assert(fc.property(framedArb(errorRewriteCaseArb), ([[e, op], prefix, suffix]) => {
      const packet = buildErrorCase(e);
      const buf = frame(prefix, packet, suffix);
      expect(decodePacket(buf, view, prefix.length)).toBeUndefined();
      applyErrorRewrite(view, op);
      expect(toHex(buf.subarray(prefix.length, prefix.length + packet.length))).toBe(toHex(expectedError(e, op)));
      expect(verifyChecksums(view)).toBe(true);
    }), RUNS);
  });

  it('turn a computed UDP checksum of 0 into 0xffff and keep a TCP one at 0x0000', () => {
    const view = new PacketView();
    const caseArb = fc.oneof(fc.tuple(ipv4Arb, addr4Arb), fc.tuple(ipv6Arb, addr6Arb));
    fc.assert(fc.property(caseArb, fc.oneof(tcpArb, udpArb), portArb, ([ip, newSrc], l4, newPort) => {
      // Append a 16-bit word chosen so that the rewritten segment's checksum computes to 0:
      // the checksum with the word at 0 is the word that completes the sum to 0xffff.
      const withWord = <T extends TcpSpec | UdpSpec>(spec: T, word: number): T => {
        const payload = spec.payload ?? new Uint8Array(0);
        return { ...spec, payload: Buffer.concat([payload, Buffer.alloc(payload.length % 2), Buffer.from([word >> 8, word & 0xff])]) };
      };
      const after: IpSpec = { ...ip, src: newSrc };
      const checksumAt = ipHeaderLengthOf(ip) + (l4.kind === 'tcp' ? 16 : 6);
      const word = getU16(buildPacket(after, { ...withWord(l4, 0), srcPort: newPort }), checksumAt);
      const expected = buildPacket(after, { ...withWord(l4, word), srcPort: newPort });
      expect(getU16(expected, checksumAt)).toBe(l4.kind === 'tcp' ? 0x0000 : 0xffff);

      const buf = buildPacket(ip, withWord(l4, word));
      expect(decodePacket(buf, view)).toBeUndefined();
      rewriteSource(view, addr(newSrc), newPort);
      expect(toHex(buf)).toBe(toHex(expected));
    }), RUNS);
  });

  it('leave a UDP/IPv4 checksum of 0 ("none") at 0', () => {
    const view = new PacketView();
    fc.assert(fc.property(ipv4Arb, udpArb, addr4Arb, portArb, (ip, udp, to, port) => {
      const none: UdpSpec = { ...udp, checksum: 'none' };
      const buf = buildPacket(ip, none);
      expect(decodePacket(buf, view)).toBeUndefined();
      rewriteSource(view, addr(to), port);
      rewriteDestination(view, addr(to), port);
      expect(toHex(buf)).toBe(toHex(buildPacket({ ...ip, src: to, dst: to }, { ...none, srcPort: port, dstPort: port })));
    }), RUNS);
  });
});
