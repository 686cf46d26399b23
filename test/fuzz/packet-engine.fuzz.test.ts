/**
 * The NAT engine's packet codec and `process()` on arbitrary and mutated
 * packets: nothing throws, every outcome is a known one and counted once,
 * a packet the codec refuses is dropped for the codec's reason, and a
 * translation keeps correct checksums correct.
 */

import fc from 'fast-check';
import { endpoint, ipAddress, port } from '@algd/sdk';
import { ENGINE_DROP_REASONS } from '../../host/nat-engine/engine-counters';
import { NatEngine } from '../../host/nat-engine/nat-engine';
import { decodePacket, PacketView, REJECT_REASONS, verifyChecksums } from '../../host/nat-engine/packet';
import type { PacketMeta } from '../../host/nat-engine/packet-meta';
import { buildIcmpError, buildPacket, type IpSpec, type L4Spec } from '../support/packets';
import { FUZZ_TEST_TIMEOUT_MS, fuzzParams } from './fuzz-settings';

jest.setTimeout(FUZZ_TEST_TIMEOUT_MS);

const OUTCOMES = new Set<string>(['pass', 'translated', ...REJECT_REASONS, ...ENGINE_DROP_REASONS]);

// The test network: the engine redirects FTP and SIP and holds a mapping, so packets reach every translation path.
const V4 = ['198.51.100.2', '203.0.113.2', '203.0.113.1', '127.0.0.1', '203.0.113.9'];
const V6 = ['2001:db8:1::2', '2001:db8:2::2', '2001:db8:2::1', '::1'];
const PORTS = [21, 5060, 3001, 3002, 40000, 61000, 61001, 20, 0, 65535];

function engineUnderTest(): NatEngine {
  const engine = new NatEngine();
  engine.addRedirect({ protocol: 'tcp', port: port(21), listener: endpoint('127.0.0.1', 3001) });
  engine.addRedirect({ protocol: 'udp', port: port(5060), listener: endpoint('127.0.0.1', 3002) });
  engine.addRedirect({ protocol: 'tcp', port: port(21), listener: endpoint('::1', 3001) });
  engine.createMapping({ protocol: 'tcp', private: endpoint('198.51.100.2', 5001), public: endpoint('203.0.113.1', 61000), remote: { address: ipAddress('203.0.113.2') }, direction: 'inbound', persistent: true, owner: 'fuzz' });
  engine.createMapping({ protocol: 'tcp', private: endpoint('198.51.100.2', 0), public: endpoint('203.0.113.1', 61001), remote: { address: ipAddress('203.0.113.2'), port: port(40001) }, direction: 'outbound', persistent: true, owner: 'fuzz' });
  engine.createMapping({ protocol: 'udp', private: endpoint('198.51.100.2', 4000), public: endpoint('203.0.113.1', 61002), direction: 'inbound', persistent: true, owner: 'fuzz' });
  return engine;
}

const portArb = fc.oneof(fc.constantFrom(...PORTS), fc.integer({ min: 0, max: 65535 }));
const ipSpec: fc.Arbitrary<IpSpec> = fc.oneof(
  fc.record({ family: fc.constant(4 as const), src: fc.constantFrom(...V4), dst: fc.constantFrom(...V4) }),
  fc.record({ family: fc.constant(6 as const), src: fc.constantFrom(...V6), dst: fc.constantFrom(...V6) }),
);
const l4Spec: fc.Arbitrary<L4Spec> = fc.oneof(
  fc.record({ kind: fc.constant('tcp' as const), srcPort: portArb, dstPort: portArb, flags: fc.integer({ min: 0, max: 0x3f }), seq: fc.nat(), payload: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('udp' as const), srcPort: portArb, dstPort: portArb, payload: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('icmp' as const), type: fc.constantFrom(0, 3, 8, 11, 1, 128, 129), code: fc.integer({ min: 0, max: 4 }), body: fc.uint8Array({ maxLength: 16 }) }),
);

/** Packets of the connections the engine translates: a client's FTP connection and its listener's replies, the server's data connection to the mapping. */
const SYN = 0x02;
const ACK = 0x10;
const clientPort = fc.constantFrom(40000, 40001);
const conversation: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({ c: clientPort, f: fc.constantFrom(SYN, ACK, ACK | 0x08, ACK | 0x01, 0x04) }).map(({ c, f }) => buildPacket({ family: 4, src: '198.51.100.2', dst: '203.0.113.2' }, { kind: 'tcp', srcPort: c, dstPort: 21, flags: f, payload: Buffer.from('USER x\r\n') })),
  fc.record({ c: clientPort, f: fc.constantFrom(SYN | ACK, ACK, ACK | 0x01) }).map(({ c, f }) => buildPacket({ family: 4, src: '127.0.0.1', dst: '198.51.100.2' }, { kind: 'tcp', srcPort: 3001, dstPort: c, flags: f })),
  fc.constantFrom(SYN, ACK, SYN | ACK).map((f) => buildPacket({ family: 4, src: '203.0.113.2', dst: '203.0.113.1' }, { kind: 'tcp', srcPort: 20, dstPort: 61000, flags: f, payload: Buffer.from('data') })),
  fc.constantFrom(SYN | ACK, ACK).map((f) => buildPacket({ family: 4, src: '198.51.100.2', dst: '203.0.113.2' }, { kind: 'tcp', srcPort: 5001, dstPort: 20, flags: f })),
  fc.constant(buildPacket({ family: 4, src: '198.51.100.2', dst: '203.0.113.2' }, { kind: 'udp', srcPort: 5062, dstPort: 5060, payload: Buffer.from('OPTIONS') })),
  fc.constant(buildPacket({ family: 6, src: '2001:db8:1::2', dst: '2001:db8:2::2' }, { kind: 'tcp', srcPort: 40002, dstPort: 21, flags: SYN })),
);

/** A well-formed packet, or an ICMP error quoting one (possibly cut short). */
const validPacket: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: conversation },
  { weight: 4, arbitrary: fc.tuple(ipSpec, l4Spec).map(([ip, l4]) => buildPacket(ip, l4)) },
  {
    weight: 1,
    arbitrary: fc.tuple(ipSpec, l4Spec, ipSpec, fc.nat({ max: 80 })).map(([ip, l4, outer, quoted]) => {
      const original = buildPacket(ip, l4);
      const o: IpSpec = outer.family === ip.family ? outer : ip;
      return buildIcmpError(o, o.family === 4 ? 3 : 1, 3, original, Math.min(quoted, original.length));
    }),
  },
);

/** Mutations of a packet: flipped bytes, a cut, bytes appended. */
const mutated: fc.Arbitrary<Buffer> = fc.tuple(
  validPacket,
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
  fc.option(fc.nat(), { nil: undefined }),
  fc.uint8Array({ maxLength: 8 }),
).map(([packet, flips, cut, extra]) => {
  const out = Buffer.from(packet);
  for (const [at, value] of flips) out[at % out.length] = value;
  const cutAt = cut === undefined ? out.length : cut % (out.length + 1);
  return Buffer.concat([out.subarray(0, cutAt), extra]);
});

const anyPacket = fc.oneof(
  { weight: 3, arbitrary: mutated },
  { weight: 2, arbitrary: validPacket },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)) },
);

const meta: fc.Arbitrary<PacketMeta> = fc.record({
  origin: fc.constantFrom('private' as const, 'public' as const, 'local' as const),
  stage: fc.constantFrom('prerouting' as const, 'postrouting' as const, 'single' as const),
  checksumPartial: fc.boolean(),
});

describe('decodePacket', () => {
  it('never throws, whatever the bytes, offset and length; a refusal is a known reason', () => {
    const view = new PacketView();
    fc.assert(fc.property(anyPacket, fc.integer({ min: -4, max: 200 }), fc.integer({ min: -4, max: 200 }), (packet, offset, length) => {
      const r = decodePacket(packet, view, offset, length, { verifyIpChecksum: true });
      if (r !== undefined) expect(REJECT_REASONS).toContain(r);
    }), fuzzParams(2000));
  });
});

describe('NatEngine.process', () => {
  it('a sequence of packets: never throws, each outcome known, counted exactly once, codec refusals dropped for the codec\'s reason', () => {
    const seen = new Set<string>();
    fc.assert(fc.property(fc.array(fc.tuple(anyPacket, meta), { minLength: 1, maxLength: 30 }), (packets) => {
      const engine = engineUnderTest();
      const view = new PacketView();
      for (const [packet, m] of packets) {
        const codec = decodePacket(Buffer.from(packet), view);
        const outcome = engine.process(packet, m);
        expect(OUTCOMES.has(outcome)).toBe(true);
        seen.add(outcome);
        if (codec !== undefined) expect(outcome).toBe(codec);
      }
      const c = engine.counters;
      const drops = Object.values(c.drops).reduce((a, b) => a + b, 0);
      expect(c.packets).toBe(packets.length);
      expect(c.passed + c.translated + drops).toBe(c.packets);
      // Timers and teardown on whatever state the packets left.
      engine.tick(Date.now() + 3_600_000);
      engine.clear();
      expect(engine.flowCount).toBe(0);
    }), fuzzParams(600));
    // Passes, translations and several kinds of drop were reached.
    expect([...seen]).toEqual(expect.arrayContaining(['pass', 'translated', 'truncated-ip-header', 'bad-ip-version']));
    expect(seen.size).toBeGreaterThanOrEqual(6);
  });

  it('a translated packet with correct checksums still has correct checksums', () => {
    const check = new PacketView();
    let translated = 0;
    fc.assert(fc.property(fc.array(fc.tuple(validPacket, meta.map((m) => ({ ...m, checksumPartial: false }))), { minLength: 1, maxLength: 20 }), (packets) => {
      const engine = engineUnderTest();
      for (const [packet, m] of packets) {
        if (decodePacket(packet, check) !== undefined || !verifyChecksums(check)) continue;
        const outcome = engine.process(packet, m);
        if (outcome !== 'translated') continue;
        translated++;
        expect(decodePacket(packet, check)).toBeUndefined();
        expect(verifyChecksums(check)).toBe(true);
      }
    }), fuzzParams(600));
    // The generators reach the translations (a property over no translated packet would prove nothing).
    expect(translated).toBeGreaterThan(20);
  });
});
