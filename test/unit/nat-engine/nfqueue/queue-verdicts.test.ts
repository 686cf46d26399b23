import { endpoint, ipAddress, port } from '@algd/sdk';

import { InterfaceSides } from '../../../../host/nat-engine/drivers/nfqueue/interface-sides';
import { NFQA_SKB_CSUMNOTREADY, NFQA_SKB_GSO } from '../../../../host/nat-engine/drivers/nfqueue/nfqueue-lib';
import { NF_INET_HOOK, type NfqueuePacket } from '../../../../host/nat-engine/drivers/nfqueue/nfqueue-packet';
import { QueueVerdicts } from '../../../../host/nat-engine/drivers/nfqueue/queue-verdicts';
import { NatEngine } from '../../../../host/nat-engine/nat-engine';
import type { PacketMeta } from '../../../../host/nat-engine/packet-meta';
import { buildPacket, TCP_FLAGS, toHex, type IpSpec, type L4Spec } from '../../../support/packets';

const PRIV = 3;
const PUB = 7;
const OTHER = 9;
const CLIENT = '198.51.100.2';
const SERVER = '203.0.113.2';
const GW_PUBLIC = '203.0.113.1';

const v4 = (src: string, dst: string): IpSpec => ({ family: 4, src, dst, ttl: 64, id: 1, dontFragment: true });
const tcp = (srcPort: number, dstPort: number, flags: number): L4Spec => ({ kind: 'tcp', srcPort, dstPort, seq: 1, ack: flags & TCP_FLAGS.ACK ? 1 : 0, flags, window: 1000 });
const udp = (srcPort: number, dstPort: number, text: string): L4Spec => ({ kind: 'udp', srcPort, dstPort, payload: Buffer.from(text) });

/** A queued packet as the socket hands it over: inside a larger receive buffer, at an offset. */
function queued(bytes: Buffer, fields: { hook: number; in?: number; out?: number; mark?: number; skbInfo?: number }): NfqueuePacket {
  const buffer = Buffer.alloc(bytes.length + 100, 0xee);
  bytes.copy(buffer, 40);
  return {
    id: 1,
    buffer,
    offset: 40,
    length: bytes.length,
    get payload() {
      return buffer.subarray(40, 40 + bytes.length);
    },
    hook: fields.hook,
    hwProtocol: 0x0800,
    inIfIndex: fields.in ?? 0,
    outIfIndex: fields.out ?? 0,
    mark: fields.mark ?? 0,
    skbInfo: fields.skbInfo ?? 0,
  };
}

function setup(): { engine: NatEngine; verdicts: QueueVerdicts; seen: PacketMeta[] } {
  const engine = new NatEngine();
  engine.addRedirect({ protocol: 'tcp', port: port(21), listener: endpoint('127.0.0.1', 3001) });
  const seen: PacketMeta[] = [];
  const processor = {
    process: (buf: Buffer, meta: PacketMeta, offset?: number, length?: number) => (seen.push(meta), engine.process(buf, meta, offset, length)),
    get lastTranslationComplete() {
      return engine.lastTranslationComplete;
    },
    get lastKernelRedirect() {
      return engine.lastKernelRedirect;
    },
  };
  const sides = new InterfaceSides(
    [
      { name: 'priv0', side: 'private' },
      { name: 'pub0', side: 'public' },
    ],
    (name) => ({ priv0: PRIV, pub0: PUB })[name],
  );
  return { engine, verdicts: new QueueVerdicts(processor, sides, () => undefined), seen };
}

describe('QueueVerdicts: the nfqueue driver\'s packets to engine calls to verdicts', () => {
  it('redirect: the client\'s SYN before routing, the listener\'s reply after; translated packets carry the algd mark bit, other bits kept, and the SYN the done bit', () => {
    const { verdicts, seen } = setup();
    const syn = queued(buildPacket(v4(CLIENT, SERVER), tcp(40000, 21, TCP_FLAGS.SYN)), { hook: NF_INET_HOOK.PRE_ROUTING, in: PRIV, mark: 0x5 });
    const reply = queued(buildPacket(v4('127.0.0.1', CLIENT), tcp(3001, 40000, TCP_FLAGS.SYN | TCP_FLAGS.ACK)), { hook: NF_INET_HOOK.POST_ROUTING, in: 0, out: PRIV });
    const [d1, d2] = verdicts.handle([syn, reply]);
    expect(seen).toEqual([
      { origin: 'private', stage: 'prerouting' },
      { origin: 'local', stage: 'postrouting' },
    ]);
    // The client's direction rewrites only its destination: nothing is left for after routing.
    expect(d1).toMatchObject({ verdict: 'accept', mark: 0x30000005 });
    expect(toHex(d1!.modified!)).toBe(toHex(buildPacket(v4(CLIENT, '127.0.0.1'), tcp(40000, 3001, TCP_FLAGS.SYN))));
    expect(d2).toMatchObject({ verdict: 'accept', mark: 0x20000000 });
    expect(toHex(d2!.modified!)).toBe(toHex(buildPacket(v4(SERVER, CLIENT), tcp(21, 40000, TCP_FLAGS.SYN | TCP_FLAGS.ACK))));
    // Rewritten in place, in the receive buffer, and nowhere else.
    expect(syn.buffer[39]).toBe(0xee);
    expect(syn.buffer[40 + syn.length]).toBe(0xee);
  });

  it('kernel redirect: the captured SYN is accepted unchanged with the redirect bit added to its mark; other packets as usual', async () => {
    const { engine, verdicts } = setup();
    await engine.useKernelRedirect({ set: async () => undefined, delete: async () => undefined });
    const syn = queued(buildPacket(v4(CLIENT, SERVER), tcp(40000, 21, TCP_FLAGS.SYN)), { hook: NF_INET_HOOK.PRE_ROUTING, in: PRIV, mark: 0x5 });
    const web = queued(buildPacket(v4(CLIENT, SERVER), tcp(40001, 80, TCP_FLAGS.SYN)), { hook: NF_INET_HOOK.PRE_ROUTING, in: PRIV });
    const [d1, d2] = verdicts.handle([syn, web]);
    expect([d1!.verdict, d1!.modified, d1!.mark]).toEqual(['accept', undefined, 0x40000005]);
    expect([d2!.verdict, d2!.modified, d2!.mark]).toEqual(['accept', undefined, undefined]);
    expect(engine.originalDestination('tcp', endpoint(CLIENT, 40000), endpoint('127.0.0.1', 3001))).toEqual(endpoint(SERVER, 21));
  });

  it('a packet rewritten at both ends (a mapping with a private source) is not done before routing: no done bit', () => {
    const { engine, verdicts } = setup();
    engine.createMapping({ protocol: 'tcp', private: endpoint(CLIENT, 50000), public: endpoint(GW_PUBLIC, 61000), privateSource: endpoint('198.51.100.1', 61001), remote: { address: ipAddress(SERVER) }, direction: 'inbound', persistent: true, owner: 't' });
    const plain = endpoint(CLIENT, 50001);
    engine.createMapping({ protocol: 'tcp', private: plain, public: endpoint(GW_PUBLIC, 61002), remote: { address: ipAddress(SERVER) }, direction: 'inbound', persistent: true, owner: 't' });
    const [both, destOnly] = verdicts.handle([
      queued(buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.SYN)), { hook: NF_INET_HOOK.PRE_ROUTING, in: PUB }),
      queued(buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61002, TCP_FLAGS.SYN)), { hook: NF_INET_HOOK.PRE_ROUTING, in: PUB }),
    ]);
    expect(both).toMatchObject({ verdict: 'accept', mark: 0x20000000 });
    expect(destOnly).toMatchObject({ verdict: 'accept', mark: 0x30000000 });
    expect(toHex(destOnly!.modified!)).toBe(toHex(buildPacket(v4(SERVER, CLIENT), tcp(20, 50001, TCP_FLAGS.SYN))));
  });

  it('an outbound mapping\'s first datagram, seen only after routing, is translated there', () => {
    const { engine, verdicts, seen } = setup();
    engine.createMapping({ protocol: 'udp', private: endpoint(CLIENT, 8000), public: endpoint(GW_PUBLIC, 61002), remote: { address: ipAddress(SERVER) }, direction: 'outbound', persistent: true, owner: 't' });
    const [d] = verdicts.handle([queued(buildPacket(v4(CLIENT, SERVER), udp(8000, 9000, 'x')), { hook: NF_INET_HOOK.POST_ROUTING, in: PRIV, out: PUB })]);
    expect(seen).toEqual([{ origin: 'private', stage: 'postrouting' }]);
    expect(toHex(d!.modified!)).toBe(toHex(buildPacket(v4(GW_PUBLIC, SERVER), udp(61002, 9000, 'x'))));
  });

  it('plain accept for what the engine passes, drop for what it drops; unknown interfaces count as public', () => {
    const { verdicts, seen } = setup();
    const web = queued(buildPacket(v4(CLIENT, SERVER), tcp(40001, 80, TCP_FLAGS.SYN)), { hook: NF_INET_HOOK.POST_ROUTING, in: OTHER, out: PUB });
    const broken = queued(buildPacket(v4(CLIENT, SERVER), tcp(40002, 21, TCP_FLAGS.SYN)).subarray(0, 30), { hook: NF_INET_HOOK.PRE_ROUTING, in: PRIV });
    const fromOutside = queued(buildPacket(v4(SERVER, GW_PUBLIC), tcp(21, 61000, TCP_FLAGS.SYN)), { hook: NF_INET_HOOK.PRE_ROUTING, in: OTHER });
    const decisions = verdicts.handle([web, broken, fromOutside]);
    expect(decisions.map((d) => [d.verdict, d.modified, d.mark])).toEqual([
      ['accept', undefined, undefined],
      ['drop', undefined, undefined],
      ['accept', undefined, undefined],
    ]);
    expect(seen.map((m) => m.origin)).toEqual(['public', 'private', 'public']);
  });

  it('adds no policy of its own: a packet of an algd connection the engine passes is accepted (the nat guard judges it in the kernel)', () => {
    const { verdicts } = setup();
    const stray = buildPacket(v4(CLIENT, SERVER), tcp(50000, 20, TCP_FLAGS.ACK));
    const [d] = verdicts.handle([queued(stray, { hook: NF_INET_HOOK.POST_ROUTING, in: PRIV, out: PUB, mark: 0x20000000 })]);
    expect(d).toEqual({ verdict: 'accept' });
  });

  it('a partial-checksum packet (CSUMNOTREADY) goes to the engine with checksumPartial and leaves translated with a complete checksum', () => {
    const { verdicts, seen } = setup();
    const syn = queued(buildPacket(v4(CLIENT, SERVER), tcp(40000, 21, TCP_FLAGS.SYN)), { hook: NF_INET_HOOK.PRE_ROUTING, in: PRIV });
    const replyBytes = buildPacket(v4('127.0.0.1', CLIENT), tcp(3001, 40000, TCP_FLAGS.SYN | TCP_FLAGS.ACK));
    // As CHECKSUM_PARTIAL leaves it: the TCP field holds the folded pseudo-header sum (127.0.0.1, CLIENT, 6, 20).
    const pseudo = 0x7f00 + 0x0001 + 0xc633 + 0x6402 + 6 + 20;
    replyBytes.writeUInt16BE((pseudo & 0xffff) + (pseudo >>> 16), 36);
    const reply = queued(replyBytes, { hook: NF_INET_HOOK.POST_ROUTING, in: 0, out: PRIV, skbInfo: NFQA_SKB_CSUMNOTREADY | NFQA_SKB_GSO });
    const [, d] = verdicts.handle([syn, reply]);
    expect(seen[1]).toEqual({ origin: 'local', stage: 'postrouting', checksumPartial: true });
    expect(toHex(d!.modified!)).toBe(toHex(buildPacket(v4(SERVER, CLIENT), tcp(21, 40000, TCP_FLAGS.SYN | TCP_FLAGS.ACK))));
    expect(verdicts.completedChecksums).toBe(1);
  });

  it('a partial UDP GSO packet stays partial (the kernel segments it from the partial sum); a partial non-GSO one is completed', () => {
    const { engine, verdicts } = setup();
    engine.createMapping({ protocol: 'udp', private: endpoint(CLIENT, 8000), public: endpoint(GW_PUBLIC, 61002), remote: { address: ipAddress(SERVER) }, direction: 'outbound', persistent: true, owner: 't' });
    // UDP 8000 -> 9000, 'x': pseudo-header sum of (CLIENT, SERVER, 17, 9) as the field.
    const partialOf = (src: string): Buffer => {
      const b = buildPacket(v4(src, SERVER), udp(8000, 9000, 'x'));
      const words = [...src.split('.'), ...SERVER.split('.')].map(Number);
      let sum = 17 + 9;
      for (let i = 0; i < 8; i += 2) sum += (words[i]! << 8) | words[i + 1]!;
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      b.writeUInt16BE(sum, 26);
      return b;
    };
    const gso = queued(partialOf(CLIENT), { hook: NF_INET_HOOK.POST_ROUTING, in: PRIV, out: PUB, skbInfo: NFQA_SKB_CSUMNOTREADY | NFQA_SKB_GSO });
    const [d] = verdicts.handle([gso]);
    // Still the pseudo-header sum, now of the new source (the port is not in it).
    const expected = partialOf(GW_PUBLIC);
    expected.writeUInt16BE(61002, 20);
    expect(toHex(d!.modified!)).toBe(toHex(expected));
    expect(verdicts.completedChecksums).toBe(0);
    const [e] = verdicts.handle([queued(partialOf(CLIENT), { hook: NF_INET_HOOK.POST_ROUTING, in: PRIV, out: PUB, skbInfo: NFQA_SKB_CSUMNOTREADY })]);
    expect(toHex(e!.modified!)).toBe(toHex(buildPacket(v4(GW_PUBLIC, SERVER), udp(61002, 9000, 'x'))));
    expect(verdicts.completedChecksums).toBe(1);
  });

  it('accepts, untouched and counted, a packet from a hook algd does not queue', () => {
    const { verdicts, seen } = setup();
    const [d] = verdicts.handle([queued(buildPacket(v4(CLIENT, SERVER), tcp(1, 21, TCP_FLAGS.SYN)), { hook: NF_INET_HOOK.LOCAL_OUT })]);
    expect(d).toEqual({ verdict: 'accept' });
    expect(seen).toEqual([]);
    expect(verdicts.unexpected).toBe(1);
  });
});
