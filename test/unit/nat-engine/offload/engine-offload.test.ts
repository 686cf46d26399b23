/**
 * The engine's offload decisions and the offloader that carries them to a
 * driver's fast path: a data channel's TCP flow goes to the kernel once
 * established with `minBytes` carried, with rules that rewrite exactly what
 * the engine rewrites; it comes back at its FIN, its RST or its removal;
 * the kernel's counters keep it from idling out; a refusal leaves it with
 * the engine.
 */

import { endpoint, ipAddress, port } from '@algd/sdk';
import type { FlowOffload, OffloadCounter, OffloadRule } from '../../../../host/nat-engine/drivers/flow-offload';
import type { Flow } from '../../../../host/nat-engine/flow';
import { NatEngine } from '../../../../host/nat-engine/nat-engine';
import { FlowOffloader } from '../../../../host/nat-engine/offload/flow-offloader';
import { offloadRules } from '../../../../host/nat-engine/offload/offload-rules';
import type { OffloadSink } from '../../../../host/nat-engine/offload/offload-sink';
import type { PacketMeta } from '../../../../host/nat-engine/packet-meta';
import type { FlowTranslation } from '../../../../host/nat-engine/translation/flow-translation';
import { addr, buildPacket, TCP_FLAGS, type IpSpec } from '../../../support/packets';

const CLIENT = '198.51.100.2';
const GW = '203.0.113.1';
const SERVER = '203.0.113.2';
const pre: PacketMeta = { origin: 'public', stage: 'prerouting' };
const post: PacketMeta = { origin: 'private', stage: 'postrouting' };
const v4 = (src: string, dst: string): IpSpec => ({ family: 4, src, dst, ttl: 64, id: 1, dontFragment: true });
const { SYN, ACK, FIN, RST } = TCP_FLAGS;

/** A segment of the active data connection: server 20 -> gateway 61000 (before the rewrite), or client 40001 -> server 20 (after routing, before its source rewrite). */
const fromServer = (flags: number, bytes = 0): Buffer => buildPacket(v4(SERVER, GW), { kind: 'tcp', srcPort: 20, dstPort: 61000, flags, payload: Buffer.alloc(bytes) });
const fromClient = (flags: number, bytes = 0): Buffer => buildPacket(v4(CLIENT, SERVER), { kind: 'tcp', srcPort: 40001, dstPort: 20, flags, payload: Buffer.alloc(bytes) });

class RecordingSink implements OffloadSink {
  readonly events: string[] = [];
  offloadFlow(flow: Flow<FlowTranslation>): void {
    this.events.push(`offload #${flow.id} ${flow.offload}`);
  }
  reclaimFlow(flow: Flow<FlowTranslation>): void {
    this.events.push(`reclaim #${flow.id} ${flow.offload}`);
  }
}

function dataConnection(minBytes: number, now: () => number = Date.now) {
  const engine = new NatEngine({ now });
  const sink = new RecordingSink();
  engine.attachOffload(sink, minBytes);
  const mapping = engine.createMapping({ protocol: 'tcp', private: endpoint(CLIENT, 40001), public: endpoint(GW, 61000), remote: { address: ipAddress(SERVER) }, direction: 'inbound', persistent: false, owner: 'ftp-1' });
  const send = (p: Buffer, meta: PacketMeta): string => engine.process(Buffer.from(p), meta);
  // The handshake: SYN in, SYN/ACK back, ACK in.
  expect(send(fromServer(SYN), pre)).toBe('translated');
  expect(send(fromClient(SYN | ACK), post)).toBe('translated');
  expect(send(fromServer(ACK), pre)).toBe('translated');
  return { engine, sink, mapping, send, flow: () => engine.listFlows()[0]! };
}

describe('NatEngine: offloading a data channel\'s flow', () => {
  it('offloads once, when established with minBytes carried, with the rules of its two rewrites', () => {
    const { sink, send, flow } = dataConnection(3000);
    send(fromServer(ACK, 1460), pre);
    send(fromClient(ACK), post);
    expect(sink.events).toEqual([]);
    send(fromServer(ACK, 1460), pre);
    expect(sink.events).toEqual([]);
    send(fromServer(ACK, 1460), pre);
    expect(sink.events).toEqual([`offload #${flow().id} kernel`]);
    send(fromServer(ACK, 1460), pre);
    expect(sink.events).toHaveLength(1);
    const rules: OffloadRule[] = [
      { hook: 'prerouting', match: { family: 4, protocol: 6, srcAddr: addr(SERVER), srcPort: 20, dstAddr: addr(GW), dstPort: 61000 }, rewrite: { side: 'dst', addr: addr(CLIENT), port: 40001 } },
      { hook: 'postrouting', match: { family: 4, protocol: 6, srcAddr: addr(CLIENT), srcPort: 40001, dstAddr: addr(SERVER), dstPort: 20 }, rewrite: { side: 'src', addr: addr(GW), port: 61000 } },
    ];
    expect(offloadRules(flow())).toEqual(rules);
  });

  it.each([
    ['a FIN', (send: (p: Buffer, m: PacketMeta) => string) => send(fromServer(FIN | ACK), pre)],
    ['an RST', (send: (p: Buffer, m: PacketMeta) => string) => send(fromClient(RST), post)],
  ])('takes the flow back for good at %s (the fast path leaves those to the engine)', (_what, close) => {
    const { sink, send, flow } = dataConnection(0);
    send(fromServer(ACK, 10), pre);
    const id = flow().id;
    close(send);
    expect(sink.events).toEqual([`offload #${id} kernel`, `reclaim #${id} retired`]);
    send(fromServer(ACK, 10), pre);
    expect(sink.events).toHaveLength(2);
  });

  it('takes the flow back when it leaves the table (its mapping removed with its flows), and offloads nothing after detach', () => {
    const { engine, sink, mapping, send, flow } = dataConnection(0);
    send(fromServer(ACK, 10), pre);
    const id = flow().id;
    engine.removeMapping(mapping, { closeFlows: true });
    expect(sink.events).toEqual([`offload #${id} kernel`, `reclaim #${id} retired`]);
    const again = dataConnection(5);
    again.engine.detachOffload();
    again.send(fromServer(ACK, 10), pre);
    expect(again.sink.events).toEqual([]);
    expect(again.flow().offload).toBe('none');
  });

  it('leaves redirected control connections and UDP to the engine', () => {
    const engine = new NatEngine();
    const sink = new RecordingSink();
    engine.attachOffload(sink, 0);
    engine.createMapping({ protocol: 'udp', private: endpoint(CLIENT, 10000), public: endpoint(GW, 61002), direction: 'both', persistent: true, owner: 'sip-1' });
    const rtp = (src: string, sp: number, dst: string, dp: number): Buffer => buildPacket(v4(src, dst), { kind: 'udp', srcPort: sp, dstPort: dp, payload: Buffer.alloc(160) });
    engine.process(rtp(CLIENT, 10000, SERVER, 30000), { origin: 'private', stage: 'single' });
    engine.process(rtp(SERVER, 30000, GW, 61002), { origin: 'public', stage: 'single' });
    engine.addRedirect({ protocol: 'tcp', port: port(21), listener: endpoint('127.0.0.1', 3000) });
    engine.process(buildPacket(v4(CLIENT, SERVER), { kind: 'tcp', srcPort: 40000, dstPort: 21, flags: SYN }), { origin: 'private', stage: 'prerouting' });
    expect(engine.flowCount).toBe(2);
    expect(sink.events).toEqual([]);
    for (const f of engine.listFlows()) expect(offloadRules(f)).toBeUndefined();
  });
});

class FakeKernel implements FlowOffload {
  readonly installed = new Map<number, readonly OffloadRule[]>();
  counts = new Map<number, OffloadCounter>();
  refuse = false;
  async add(id: number, rules: readonly OffloadRule[]): Promise<void> {
    if (this.refuse) throw new Error('Could not process rule');
    this.installed.set(id, rules);
  }
  async remove(id: number): Promise<OffloadCounter | undefined> {
    if (!this.installed.delete(id)) return undefined;
    return this.counts.get(id);
  }
  async counters(): Promise<Map<number, OffloadCounter>> {
    return new Map([...this.counts].filter(([id]) => this.installed.has(id)));
  }
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('FlowOffloader', () => {
  function rig() {
    let t = 1_000_000;
    const kernel = new FakeKernel();
    const logs: string[] = [];
    // The handshake with nothing offloaded yet: the offloader takes over from here.
    const c = dataConnection(Number.MAX_SAFE_INTEGER, () => t);
    const offloader = new FlowOffloader(kernel, { touch: (f) => c.engine.touchFlow(f), log: (level, m) => logs.push(`${level} ${m}`), now: () => t, syncMs: 5_000 });
    c.engine.attachOffload(offloader, 0);
    return { ...c, kernel, offloader, logs, advance: (ms: number) => (t += ms), now: () => t };
  }

  it('installs the flow\'s rules, keeps it alive while the kernel counts its packets, and removes them at its FIN with the last figures', async () => {
    const r = rig();
    r.send(fromServer(ACK, 10), pre);
    await settle();
    const id = r.flow().id;
    expect([...r.kernel.installed.keys()]).toEqual([id]);
    expect(r.offloader.stats).toEqual({ flows: 1, offloaded: 1, reclaimed: 0, refused: 0, packets: 0, bytes: 0 });
    // Two hours of kernel-only traffic: the engine sees nothing, the counters move, the flow stays.
    for (let i = 1; i <= 24; i++) {
      r.advance(300_000);
      r.kernel.counts.set(id, { packets: i * 1000, bytes: i * 1_500_000 });
      await r.offloader.tick();
      r.engine.tick();
    }
    expect(r.engine.flowCount).toBe(1);
    expect(r.offloader.stats).toMatchObject({ packets: 24_000, bytes: 36_000_000 });
    r.kernel.counts.set(id, { packets: 24_010, bytes: 36_015_000 });
    r.send(fromServer(FIN | ACK), pre);
    await settle();
    expect(r.kernel.installed.size).toBe(0);
    expect(r.offloader.stats).toEqual({ flows: 0, offloaded: 1, reclaimed: 1, refused: 0, packets: 24_010, bytes: 36_015_000 });
  });

  it('lets a flow whose counters stand still idle out as the engine would, and takes its rules away then', async () => {
    const r = rig();
    r.send(fromServer(ACK, 10), pre);
    await settle();
    r.kernel.counts.set(r.flow().id, { packets: 5, bytes: 500 });
    await r.offloader.tick(r.advance(10_000));
    r.advance(7440 * 1000 + 1);
    await r.offloader.tick();
    r.engine.tick();
    await settle();
    expect(r.engine.flowCount).toBe(0);
    expect(r.kernel.installed.size).toBe(0);
    expect(r.offloader.stats).toMatchObject({ flows: 0, reclaimed: 1 });
  });

  it('a flow the kernel refused stays with the engine for good, counted and logged', async () => {
    const r = rig();
    r.kernel.refuse = true;
    r.send(fromServer(ACK, 10), pre);
    await settle();
    expect(r.flow().offload).toBe('retired');
    expect(r.offloader.stats).toEqual({ flows: 0, offloaded: 0, reclaimed: 0, refused: 1, packets: 0, bytes: 0 });
    expect(r.logs).toEqual([expect.stringMatching(/^warn offload: the kernel refused flow #\d+ .* the engine keeps translating it: Could not process rule$/)]);
    r.kernel.refuse = false;
    r.send(fromServer(ACK, 10), pre);
    await settle();
    expect(r.kernel.installed.size).toBe(0);
  });

  it('hands nothing to the kernel once stopped', async () => {
    const r = rig();
    r.offloader.stop();
    r.send(fromServer(ACK, 10), pre);
    await settle();
    expect(r.kernel.installed.size).toBe(0);
    expect(r.flow().offload).toBe('retired');
  });
});
