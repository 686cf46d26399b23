/**
 * The compat library's filter language and checksum helper, through the
 * TypeScript binding. These helpers need no privileges and no netfilter,
 * so the filter generator is checked here against the compat library's
 * evaluator packet by packet. The library is built first (gcc and the
 * libnetfilter_queue headers; skipped without gcc unless ALGD_REQUIRE_ALL=1).
 */

import { port } from '@algd/sdk';

import type { CaptureSpec } from '../../../../host/nat-engine/drivers/capture-spec';
import { buildCompatLibrary } from '../../../../host/nat-engine/drivers/windivert/compat-library';
import { WindivertAddress } from '../../../../host/nat-engine/drivers/windivert/windivert-address';
import { buildWindivertFilter } from '../../../../host/nat-engine/drivers/windivert/windivert-filter';
import { loadWindivertLib, type WindivertLib } from '../../../../host/nat-engine/drivers/windivert/windivert-lib';
import { buildPacket, TCP_FLAGS, toHex, type IpSpec, type L4Spec } from '../../../support/packets';
import { describeIfTool } from '../../../support/require-tool';
import { labCaptureSpec } from '../../../../host/lab/lab-capture-spec';

jest.setTimeout(60_000);

const SPEC: CaptureSpec = labCaptureSpec({
  controlPorts: [
    { protocol: 'tcp', port: port(21) },
    { protocol: 'udp', port: port(5060) },
  ],
});
const PRIV = 2;
const PUB = 3;
const LO = 1;

interface Seen {
  readonly outbound?: boolean;
  readonly loopback?: boolean;
  readonly ifIdx: number;
}

function address(seen: Seen): Buffer {
  const a = new WindivertAddress();
  a.outbound = seen.outbound ?? false;
  a.loopback = seen.loopback ?? false;
  a.ifIdx = seen.ifIdx;
  return a.buf;
}

const v4 = (src: string, dst: string): IpSpec => ({ family: 4, src, dst });
const tcp = (srcPort: number, dstPort: number, flags: number = TCP_FLAGS.SYN): L4Spec => ({ kind: 'tcp', srcPort, dstPort, flags });
const udp = (srcPort: number, dstPort: number): L4Spec => ({ kind: 'udp', srcPort, dstPort, payload: Buffer.from('x') });

describeIfTool('gcc', 'the compat library helpers (filter language, checksums)', () => {
  let lib: WindivertLib;

  beforeAll(() => {
    lib = loadWindivertLib(buildCompatLibrary());
  });

  const matches = (filter: string, ip: IpSpec, l4: L4Spec, seen: Seen): boolean => {
    const packet = buildPacket(ip, l4);
    const r = lib.WinDivertHelperEvalFilter(filter, packet, packet.length, address(seen));
    if (!r && lib.lastError() !== 0) throw new Error(`WinDivertHelperEvalFilter failed: ${lib.lastError()}`);
    return r === 1;
  };

  describe('the generated filter selects exactly what the driver documents', () => {
    let filter: string;
    beforeAll(() => {
      filter = buildWindivertFilter(SPEC, new Map([['priv0', PRIV], ['pub0', PUB]]));
      expect(lib.WinDivertHelperCompileFilter(filter, 0, null, 0, [null], [0])).toBe(1);
    });

    it.each<[string, IpSpec, L4Spec, Seen, boolean]>([
      ['a client connecting to an FTP server, inbound on priv0', v4('198.51.100.2', '203.0.113.2'), tcp(40000, 21), { ifIdx: PRIV }, true],
      ['a client SIP datagram, inbound on priv0', v4('198.51.100.2', '203.0.113.2'), udp(5060, 5060), { ifIdx: PRIV }, true],
      ['UDP to port 21 (not a control port for UDP)', v4('198.51.100.2', '203.0.113.2'), udp(40000, 21), { ifIdx: PRIV }, false],
      ['FTP from the internet, inbound on pub0', v4('203.0.113.2', '203.0.113.1'), tcp(40000, 21), { ifIdx: PUB }, false],
      ['an ICS-translated client connection, outbound on pub0', v4('203.0.113.1', '203.0.113.2'), tcp(50123, 21), { outbound: true, ifIdx: PUB }, true],
      ['the host\'s own upstream connection from a listener-range port', v4('203.0.113.1', '203.0.113.2'), tcp(3005, 21), { outbound: true, ifIdx: PUB }, false],
      ['the same ICS packet seen as loopback', v4('203.0.113.1', '203.0.113.2'), tcp(50123, 21), { outbound: true, loopback: true, ifIdx: LO }, false],
      ['a listener reply over loopback', v4('203.0.113.1', '203.0.113.1'), tcp(3001, 50123, TCP_FLAGS.SYN | TCP_FLAGS.ACK), { outbound: true, loopback: true, ifIdx: LO }, true],
      ['a listener reply to a client on priv0', v4('198.51.100.1', '198.51.100.2'), tcp(3001, 40000, TCP_FLAGS.ACK), { outbound: true, ifIdx: PRIV }, true],
      ['a listener-range source leaving by pub0 (not a reply to a client)', v4('203.0.113.1', '203.0.113.2'), tcp(3001, 80), { outbound: true, ifIdx: PUB }, false],
      ['an inbound data connection to a mapping port', v4('203.0.113.2', '203.0.113.1'), tcp(20, 61000), { ifIdx: PUB }, true],
      ['an inbound RTP datagram to the last mapping port', v4('203.0.113.2', '203.0.113.1'), udp(7000, 64999), { ifIdx: PUB }, true],
      ['a datagram just above the mapping ports', v4('203.0.113.2', '203.0.113.1'), udp(7000, 65000), { ifIdx: PUB }, false],
      ["a private host's reply to a data channel that shows the gateway as its peer (a mapping port on the private side)", v4('198.51.100.2', '198.51.100.1'), tcp(40000, 61000), { ifIdx: PRIV }, true],
      ['a mapping port reached from the private side, outbound (the gateway\'s own packet)', v4('198.51.100.1', '198.51.100.2'), tcp(61000, 40000), { ifIdx: PRIV, outbound: true }, false],
      ['an IPv6 client to an FTP server', { family: 6, src: '2001:db8:1::2', dst: '2001:db8:2::2' }, tcp(40000, 21), { ifIdx: PRIV }, true],
      ['ordinary web traffic', v4('198.51.100.2', '203.0.113.2'), tcp(40000, 80), { ifIdx: PRIV }, false],
    ])('%s: %s', (_what, ip, l4, seen, expected) => {
      expect(matches(filter, ip, l4, seen)).toBe(expected);
    });

    it('an IPv4-only capture leaves IPv6 alone', () => {
      const only4 = buildWindivertFilter({ ...SPEC, families: [4] }, new Map([['priv0', PRIV], ['pub0', PUB]]));
      expect(matches(only4, v4('198.51.100.2', '203.0.113.2'), tcp(40000, 21), { ifIdx: PRIV })).toBe(true);
      expect(matches(only4, { family: 6, src: '2001:db8:1::2', dst: '2001:db8:2::2' }, tcp(40000, 21), { ifIdx: PRIV })).toBe(false);
    });
  });

  describe('language semantics, as WinDivert', () => {
    const syn21 = [v4('198.51.100.2', '203.0.113.2'), tcp(40000, 21), { ifIdx: PRIV }] as const;
    const udp53 = [v4('198.51.100.2', '203.0.113.2'), udp(40000, 53), { ifIdx: PRIV }] as const;

    it.each<[string, boolean, boolean]>([
      // [filter, matches the TCP SYN to 21, matches the UDP datagram to 53]
      ['tcp.DstPort == 21', true, false],
      ['tcp.DstPort = 21', true, false],
      ['tcp.DstPort != 21', false, false],
      ['not tcp.DstPort == 21', false, false], // a negated test on an absent field is still false
      ['!udp.DstPort == 53', false, false],
      ['not not udp.DstPort == 53', false, true],
      ['tcp.DstPort < 22 and tcp.DstPort > 20 && tcp.DstPort <= 21 and tcp.DstPort >= 21', true, false],
      ['tcp.DstPort == 0x15', true, false],
      ['tcp || udp', true, true],
      ['udp.DstPort == 53 or tcp.DstPort == 21 and tcp.Ack', false, true], // and binds tighter than or
      ['(udp.DstPort == 53 or tcp.DstPort == 21) and tcp.Syn', true, false],
      ['tcp.Syn and not tcp.Ack and not tcp.Rst', true, false],
      ['inbound and not outbound and not loopback and ifIdx == 2 and subIfIdx == 0', true, true],
      ['ip and not ipv6 and not icmp', true, true],
      ['true', true, true],
      ['false or zero', false, false],
      ['udp.PayloadLength == 1 and udp.Length == 9', false, true],
      ['tcp.PayloadLength == 0', true, false],
    ])('%s', (filter, onSyn, onUdp) => {
      expect(matches(filter, ...syn21)).toBe(onSyn);
      expect(matches(filter, ...udp53)).toBe(onUdp);
    });

    it.each<[string, string, number]>([
      ['not (tcp)', '"not" applies to a single test, not to a parenthesized filter', 4],
      ['ip.SrcAddr == 10.0.0.1', 'unknown or unsupported field', 0],
      ['TCP.DstPort == 21', 'unknown or unsupported field', 0],
      ['tcp.DstPort == 4294967296', 'expected a number (decimal or 0x-hex, at most 2^32-1)', 15],
      ['tcp.DstPort == ', 'expected a number (decimal or 0x-hex, at most 2^32-1)', 15],
      ['(tcp ? udp : icmp)', 'expected ")"', 5],
      ['tcp and', 'expected a field', 7],
      ['(tcp', 'expected ")"', 4],
      ['tcp udp', 'unexpected token', 4],
      ['tcp & udp', 'unexpected token', 4],
      ['', 'expected a field', 0],
    ])('refuses %j: %s at %i', (filter, error, pos) => {
      const err: (string | null)[] = [null];
      const at = [0];
      expect(lib.WinDivertHelperCompileFilter(filter, 0, null, 0, err, at)).toBe(0);
      expect(lib.lastError()).toBe(87);
      expect([err[0], at[0]]).toEqual([error, pos]);
    });

    it('refuses other layers', () => {
      expect(lib.WinDivertHelperCompileFilter('true', 1, null, 0, [null], [0])).toBe(0);
      expect(lib.lastError()).toBe(87);
    });
  });

  describe('WinDivertHelperCalcChecksums', () => {
    it.each<[string, IpSpec, L4Spec, number[]]>([
      ['IPv4 TCP', v4('198.51.100.2', '203.0.113.2'), { kind: 'tcp', srcPort: 40000, dstPort: 21, flags: TCP_FLAGS.PSH | TCP_FLAGS.ACK, payload: Buffer.from('USER anonymous\r\n') }, [10, 20 + 16]],
      ['IPv4 UDP', v4('198.51.100.2', '203.0.113.2'), { kind: 'udp', srcPort: 5060, dstPort: 5060, payload: Buffer.from('INVITE sip:x SIP/2.0\r\n') }, [10, 20 + 6]],
      ['IPv6 UDP', { family: 6, src: '2001:db8:1::2', dst: '2001:db8:2::2' }, { kind: 'udp', srcPort: 1, dstPort: 2, payload: Buffer.from('odd') }, [40 + 6]],
      ['IPv6 ICMPv6', { family: 6, src: '2001:db8:1::2', dst: '2001:db8:2::2' }, { kind: 'icmp', type: 128, code: 0, rest: 0x12340001 }, [40 + 2]],
      ['IPv4 ICMP', v4('198.51.100.2', '203.0.113.2'), { kind: 'icmp', type: 8, code: 0, rest: 0x12340001 }, [10, 20 + 2]],
    ])('recomputes every checksum of %s to the reference value and sets the address flags', (_what, ip, l4, fields) => {
      const good = buildPacket(ip, l4);
      const broken = Buffer.from(good);
      for (const at of fields) broken.writeUInt16BE(0x1234, at);
      const a = new WindivertAddress();
      expect(lib.WinDivertHelperCalcChecksums(broken, broken.length, a.buf, 0)).toBe(1);
      expect(toHex(broken)).toBe(toHex(good));
      expect([a.ipChecksum, a.tcpChecksum, a.udpChecksum]).toEqual([true, true, true]);
    });

    it('leaves the checksums the flags exclude', () => {
      const good = buildPacket(v4('198.51.100.2', '203.0.113.2'), tcp(40000, 21));
      const broken = Buffer.from(good);
      broken.writeUInt16BE(0x1234, 10);
      broken.writeUInt16BE(0x1234, 36);
      expect(lib.WinDivertHelperCalcChecksums(broken, broken.length, null, 1 /* NO_IP_CHECKSUM */)).toBe(1);
      expect(broken.readUInt16BE(10)).toBe(0x1234);
      expect(broken.readUInt16BE(36)).toBe(good.readUInt16BE(36));
    });

    it('refuses bytes that are not an IP packet', () => {
      expect(lib.WinDivertHelperCalcChecksums(Buffer.from([0x12, 0x34]), 2, null, 0)).toBe(0);
      expect(lib.lastError()).toBe(87);
    });
  });
});
