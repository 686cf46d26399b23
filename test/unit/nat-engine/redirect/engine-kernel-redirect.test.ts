/**
 * TCP redirects handed to a driver's kernel redirect: the engine installs
 * one entry per captured (family, port), flags the SYNs it captures for the
 * driver and leaves them unchanged, keeps no flow for them, and answers the
 * listener's original-destination lookup until it expires. A redirect whose
 * entry is not installed lets its connections through, counted. UDP
 * redirects stay with the engine.
 */

import { endpoint, port, type Port } from '@algd/sdk';
import type { KernelRedirect, KernelRedirectEntry } from '../../../../host/nat-engine/drivers/kernel-redirect';
import { NatEngine } from '../../../../host/nat-engine/nat-engine';
import type { PacketMeta } from '../../../../host/nat-engine/packet-meta';
import { buildPacket, TCP_FLAGS, type IpSpec } from '../../../support/packets';

const CLIENT = '198.51.100.2';
const SERVER = '203.0.113.2';
const LISTENER = endpoint('127.0.0.1', 3021);
const pre: PacketMeta = { origin: 'private', stage: 'prerouting' };
const v4 = (src: string, dst: string): IpSpec => ({ family: 4, src, dst, ttl: 64, id: 1, dontFragment: true });
const { SYN, ACK } = TCP_FLAGS;
const syn = (srcPort = 40001, dstPort = 21, flags: number = SYN): Buffer => buildPacket(v4(CLIENT, SERVER), { kind: 'tcp', srcPort, dstPort, flags });

/** Records the calls; `set` resolves or rejects when the test says. */
class FakeKernel implements KernelRedirect {
  readonly calls: string[] = [];
  private pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  auto = true;

  set(entry: KernelRedirectEntry): Promise<void> {
    this.calls.push(`set ${entry.family}/${entry.port} ${entry.listener.address}:${entry.listener.port}`);
    if (this.auto) return Promise.resolve();
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  delete(family: 4 | 6, p: Port): Promise<void> {
    this.calls.push(`delete ${family}/${p}`);
    return Promise.resolve();
  }
  settle(ok: boolean): void {
    for (const p of this.pending.splice(0)) (ok ? p.resolve() : p.reject(new Error('refused')));
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('NatEngine with a kernel redirect', () => {
  it('installs the TCP redirects in place and later ones, and removes them; UDP ones stay', async () => {
    const engine = new NatEngine();
    const kernel = new FakeKernel();
    const ftp = engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });
    engine.addRedirect({ protocol: 'udp', port: port(5060), listener: endpoint('127.0.0.1', 3060) });
    await engine.useKernelRedirect(kernel);
    expect(kernel.calls).toEqual(['set 4/21 127.0.0.1:3021']);
    expect(ftp.carrier).toBe('installed');
    const rtsp = engine.addRedirect({ protocol: 'tcp', port: port(554), listener: endpoint('127.0.0.1', 3554) });
    expect(rtsp.carrier).toBe('pending');
    await flush();
    expect(rtsp.carrier).toBe('installed');
    engine.removeRedirect(ftp);
    expect(kernel.calls).toEqual(['set 4/21 127.0.0.1:3021', 'set 4/554 127.0.0.1:3554', 'delete 4/21']);
    expect(ftp.carrier).toBe('userland');
    expect(engine.listRedirects().map((r) => r.describe())).toEqual(['udp port 5060 (IPv4) -> 127.0.0.1:3060', 'tcp port 554 (IPv4) -> 127.0.0.1:3554, kernel redirect installed']);
  });

  it('passes a captured SYN unchanged, flagged, with no flow, and tells the listener where it was going', async () => {
    let now = 1_000;
    const engine = new NatEngine({ now: () => now });
    const rule = engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });
    await engine.useKernelRedirect(new FakeKernel());
    const packet = syn();
    const before = Buffer.from(packet);
    expect(engine.process(packet, pre)).toBe('pass');
    expect(engine.lastKernelRedirect).toBe(true);
    expect(packet.equals(before)).toBe(true);
    expect(engine.flowCount).toBe(0);
    expect([rule.hits, engine.counters.redirected, engine.counters.redirectsMissed]).toEqual([1, 1, 0]);
    expect(engine.originalDestination('tcp', endpoint(CLIENT, 40001), LISTENER)).toEqual(endpoint(SERVER, 21));
    expect(engine.originalDestination('tcp', endpoint(CLIENT, 40002), LISTENER)).toBeUndefined();

    // A retransmitted SYN is the same connection; other packets and other ports are not flagged.
    expect(engine.process(syn(), pre)).toBe('pass');
    expect(rule.hits).toBe(1);
    expect(engine.process(syn(40001, 21, ACK), pre)).toBe('pass');
    expect(engine.lastKernelRedirect).toBe(false);
    expect(engine.process(syn(40003, 80), pre)).toBe('pass');
    expect(engine.lastKernelRedirect).toBe(false);
    // From a public adapter: not captured (the rule takes private clients only).
    expect(engine.process(syn(40004), { origin: 'public', stage: 'prerouting' })).toBe('pass');
    expect(engine.lastKernelRedirect).toBe(false);

    now += 59_000;
    engine.tick(now);
    expect(engine.originalDestination('tcp', endpoint(CLIENT, 40001), LISTENER)).toEqual(endpoint(SERVER, 21));
    now += 2_000;
    engine.tick(now);
    expect(engine.originalDestination('tcp', endpoint(CLIENT, 40001), LISTENER)).toBeUndefined();
  });

  it('lets SYNs through uncaptured and counted while the entry is pending or refused', async () => {
    const engine = new NatEngine();
    const kernel = new FakeKernel();
    kernel.auto = false;
    const rule = engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });
    const using = engine.useKernelRedirect(kernel);
    expect(engine.process(syn(), pre)).toBe('pass');
    expect(engine.lastKernelRedirect).toBe(false);
    kernel.settle(false);
    await using;
    expect(rule.carrier).toBe('refused');
    expect(engine.process(syn(40002), pre)).toBe('pass');
    expect(engine.lastKernelRedirect).toBe(false);
    expect([rule.missed, rule.hits, engine.flowCount]).toEqual([2, 0, 0]);
    expect([engine.counters.redirected, engine.counters.redirectsMissed]).toEqual([0, 2]);
    expect(rule.describe()).toBe('tcp port 21 (IPv4) -> 127.0.0.1:3021, kernel redirect refused (2 let through while not installed)');
  });

  it('keeps UDP redirects in userland, and takes TCP ones back when the driver leaves', async () => {
    const engine = new NatEngine();
    const rule = engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });
    engine.addRedirect({ protocol: 'udp', port: port(5060), listener: endpoint('127.0.0.1', 3060) });
    await engine.useKernelRedirect(new FakeKernel());
    const invite = buildPacket(v4(CLIENT, SERVER), { kind: 'udp', srcPort: 5062, dstPort: 5060, payload: Buffer.from('INVITE') });
    expect(engine.process(invite, pre)).toBe('translated');
    expect(engine.lastKernelRedirect).toBe(false);
    expect(engine.flowCount).toBe(1);

    await engine.useKernelRedirect(undefined);
    expect(rule.carrier).toBe('userland');
    expect(engine.process(syn(), pre)).toBe('translated');
    expect(engine.lastKernelRedirect).toBe(false);
    expect(engine.flowCount).toBe(2);
  });
});
