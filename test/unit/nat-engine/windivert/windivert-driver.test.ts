import { endpoint, port } from '@algd/sdk';

import type { ProcessOutcome } from '../../../../host/nat-engine/engine-counters';
import type { CaptureSpec } from '../../../../host/nat-engine/drivers/capture-spec';
import type { PacketProcessor } from '../../../../host/nat-engine/drivers/packet-driver';
import { ipPacketLength, WindivertDriver, type WindivertDriverOptions } from '../../../../host/nat-engine/drivers/windivert/windivert-driver';
import { WindivertAddress } from '../../../../host/nat-engine/drivers/windivert/windivert-address';
import { WindivertError, WindivertUnavailableError } from '../../../../host/nat-engine/drivers/windivert/windivert-errors';
import { NatEngine } from '../../../../host/nat-engine/nat-engine';
import type { PacketMeta } from '../../../../host/nat-engine/packet-meta';
import { buildPacket, TCP_FLAGS, toHex } from '../../../support/packets';
import { FakeSource, FakeWindivertLib, fixedAddresses, type Seen } from './fake-windivert';
import { labCaptureSpec } from '../../../../host/lab/lab-capture-spec';

const PRIV = 2;
const PUB = 3;
const LO = 1;

const SPEC: CaptureSpec = labCaptureSpec();

const INDEXES: Record<string, number> = { priv0: PRIV, pub0: PUB };

/** Records what it is asked and answers from a script. */
class ScriptedProcessor implements PacketProcessor {
  readonly seen: { meta: PacketMeta; bytes: string }[] = [];
  constructor(private readonly answer: (bytes: Buffer, i: number) => ProcessOutcome = () => 'pass') {}
  process(buf: Buffer, meta: PacketMeta, offset = 0, length = buf.length - offset): ProcessOutcome {
    const bytes = buf.subarray(offset, offset + length);
    this.seen.push({ meta, bytes: toHex(bytes) });
    return this.answer(bytes, this.seen.length - 1);
  }
}

function setup(opts: Partial<WindivertDriverOptions> = {}) {
  const lib = new FakeWindivertLib();
  const source = new FakeSource();
  const logs: string[] = [];
  const driver = new WindivertDriver({
    lib,
    resolveInterfaceIndex: (name) => {
      const idx = INDEXES[name];
      if (idx === undefined) throw new Error(`no adapter ${name}`);
      return idx;
    },
    localAddresses: fixedAddresses({ '198.51.100.1': PRIV, '203.0.113.1': PUB, '127.0.0.1': LO }),
    createSource: () => source,
    log: (level, message) => logs.push(`${level}: ${message}`),
    closeTimeoutMs: 200,
    ...opts,
  });
  lib.onShutdown = () => source.end(232);
  return { lib, source, driver, logs };
}

const syn = (src: string, sport: number, dst: string, dport: number): Buffer =>
  buildPacket({ family: 4, src, dst, ttl: 64 }, { kind: 'tcp', srcPort: sport, dstPort: dport, flags: TCP_FLAGS.SYN });

describe('WindivertDriver', () => {
  it('opens the network layer with the generated filter and configured priority, checks the driver version and sets the queue', async () => {
    const { lib, driver, logs } = setup({ priority: -5, queueLength: 8192, queueTimeMs: 500 });
    await driver.open(SPEC, new ScriptedProcessor());
    expect(lib.opens).toEqual([{ filter: driver.filter, layer: 0, priority: -5, flags: 0 }]);
    expect(driver.filter).toMatch(/^\(inbound and ifIdx == 2 and tcp\.DstPort == 21\) or /);
    expect(lib.calls).toEqual(['open', 'get 3', 'set 0=8192', 'set 1=500']);
    expect(logs).toEqual([`info: windivert: capturing with /opt/algd/WinDivert.dll at priority -5: ${driver.filter}`]);
    await expect(driver.open(SPEC, new ScriptedProcessor())).rejects.toThrow(/already open/);
    await driver.close();
  });

  it('turns a failed WinDivertOpen into the documented cause, naming the driver folder', async () => {
    const { lib, driver } = setup();
    lib.failOpen = 2;
    const err = await driver.open(SPEC, new ScriptedProcessor()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WindivertError);
    expect((err as WindivertError).code).toBe(2);
    expect((err as Error).message).toMatch(/^WinDivertOpen failed: the WinDivert driver files .* were not found in \/opt\/algd: .*\[ERROR_FILE_NOT_FOUND \(2\)\]$/);
    expect(lib.calls).toEqual(['open']);
    // Nothing stays open: a later open works.
    lib.failOpen = undefined;
    await driver.open(SPEC, new ScriptedProcessor());
    await driver.close();
  });

  it('refuses a driver of another major version and a rejected queue parameter, closing the handle', async () => {
    const old = setup();
    old.lib.versionMajor = 1;
    await expect(old.driver.open(SPEC, new ScriptedProcessor())).rejects.toThrow(WindivertUnavailableError);
    await expect(old.driver.open(SPEC, new ScriptedProcessor())).rejects.toThrow(/driver is version 1\.x; algd needs 2\.x/);
    expect(old.lib.calls.slice(0, 3)).toEqual(['open', 'get 3', 'close']);

    const bad = setup();
    bad.lib.failSetParam = 87;
    await expect(bad.driver.open(SPEC, new ScriptedProcessor())).rejects.toThrow(/WinDivertSetParam\(QUEUE_LENGTH, 4096\) failed/);
    expect(bad.lib.calls).toEqual(['open', 'get 3', 'set 0=4096', 'close']);
  });

  it('refuses adapters it cannot resolve and an interface configured on both sides, before opening', async () => {
    const { lib, driver } = setup();
    await expect(driver.open({ ...SPEC, adapters: [{ name: 'eth9', side: 'private' }] }, new ScriptedProcessor())).rejects.toThrow(/no adapter eth9/);
    const both = setup({ resolveInterfaceIndex: () => 4 });
    await expect(both.driver.open(SPEC, new ScriptedProcessor())).rejects.toThrow(/adapter "pub0" \(interface 4\) is configured both private and public/);
    expect([lib.calls, both.lib.calls]).toEqual([[], []]);
  });

  it('tells the engine where each packet came from (stage single)', async () => {
    const { source, driver } = setup();
    const processor = new ScriptedProcessor();
    await driver.open(SPEC, processor);
    const p = syn('198.51.100.2', 40000, '203.0.113.2', 21);
    const cases: [Seen, string][] = [
      [{ ifIdx: PRIV }, 'private'],
      [{ ifIdx: PUB }, 'public'],
      [{ ifIdx: 99 }, 'public'],
      [{ outbound: true, ifIdx: PUB }, 'private'],
      [{ outbound: true, ifIdx: PRIV }, 'local'],
      [{ outbound: true, loopback: true, ifIdx: LO }, 'local'],
      [{ outbound: true, ifIdx: 99 }, 'local'],
    ];
    source.feed(cases.map(([seen]) => ({ bytes: p, seen })));
    expect(processor.seen.map((s) => s.meta)).toEqual(cases.map(([, origin]) => ({ origin, stage: 'single' })));
    await driver.close();
  });

  it('re-sends the accepted packets of a batch in one SendEx, compacted with their addresses verbatim, and drops the rest', async () => {
    const { lib, source, driver } = setup();
    const outcomes: ProcessOutcome[] = ['pass', 'no-l4-header' as ProcessOutcome, 'translated', 'flow-table-full', 'pass'];
    const processor = new ScriptedProcessor((bytes, i) => {
      if (outcomes[i] === 'translated') bytes[8] = 63; // the engine rewrites in place
      return outcomes[i]!;
    });
    await driver.open(SPEC, processor);
    const packets = [0, 1, 2, 3, 4].map((i) => syn('198.51.100.2', 40000 + i, '203.0.113.2', 21));
    packets.push(buildPacket({ family: 6, src: '2001:db8:1::2', dst: '2001:db8:2::2' }, { kind: 'udp', srcPort: 1, dstPort: 2, payload: Buffer.from('six') }));
    outcomes.push('pass');
    source.feed(packets.map((bytes, i) => ({ bytes, seen: { ifIdx: PRIV, token: 0xa0 + i } })));

    expect(lib.sent).toHaveLength(1);
    const expected = [packets[0]!, Buffer.from(packets[2]!), packets[4]!, packets[5]!];
    expected[1]![8] = 63;
    expect(lib.sent[0]!.packets.map(toHex)).toEqual(expected.map(toHex));
    expect(lib.sent[0]!.addresses.map((a) => a.readUInt32LE(24))).toEqual([0xa0, 0xa2, 0xa4, 0xa5]);
    const a = new WindivertAddress(lib.sent[0]!.addresses[3]!);
    expect([a.outbound, a.ifIdx, a.ipv6, a.ipChecksum, a.tcpChecksum, a.udpChecksum]).toEqual([false, PRIV, true, true, true, true]);
    expect(driver.stats).toEqual({ received: 6, accepted: 4, dropped: 2, modified: 1, errors: 0 });
    expect(source.nexts).toBe(1);
    await driver.close();
  });

  it("sends a translated inbound packet that now comes from one of the gateway's addresses outbound, from that address's interface", async () => {
    const { lib, source, driver } = setup();
    // A data channel that shows the gateway as the client's peer: the server's SYN now goes from 198.51.100.1 to the client.
    const processor = new ScriptedProcessor((bytes, i) => {
      if (i === 0) bytes.set([198, 51, 100, 1], 12);
      return i === 2 ? 'pass' : 'translated';
    });
    await driver.open(SPEC, processor);
    source.feed([
      { bytes: syn('203.0.113.2', 20, '203.0.113.1', 61000), seen: { ifIdx: PUB } },
      { bytes: syn('203.0.113.2', 20, '203.0.113.1', 61002), seen: { ifIdx: PUB } },
      { bytes: syn('198.51.100.2', 40000, '203.0.113.2', 80), seen: { ifIdx: PRIV } },
    ]);
    const sent = lib.sent[0]!.addresses.map((b) => new WindivertAddress(b));
    // Rewritten to a local source: outbound from priv0. Translated but from a foreign address, or untouched: as captured.
    expect(sent.map((a) => [a.outbound, a.ifIdx])).toEqual([[true, PRIV], [false, PUB], [false, PRIV]]);
    await driver.close();
  });

  it('changes its capture while running: a handle with the new filter opens before the old one is drained and closed', async () => {
    const sources: FakeSource[] = [];
    const { lib, driver, logs } = setup({ createSource: () => { const s = new FakeSource(); sources.push(s); return s; } });
    lib.onShutdown = () => sources.find((s) => !s.stopped && !s.ended)?.end(232);
    const processor = new ScriptedProcessor();
    await driver.open(SPEC, processor);
    const first = driver.filter;
    const more: CaptureSpec = { ...SPEC, controlPorts: [...SPEC.controlPorts, { protocol: 'tcp', port: port(2121) }] };
    await driver.updateCapture(more);
    expect(lib.opens.map((o) => o.filter)).toEqual([first, driver.filter]);
    expect(driver.filter).toContain('tcp.DstPort == 2121');
    expect(lib.calls.slice(lib.calls.indexOf('open', 1))).toEqual(['open', 'get 3', 'set 0=4096', 'set 1=2000', 'shutdown 1', 'close']);
    expect(sources.map((s) => s.stopped)).toEqual([true, false]);
    expect(logs.filter((l) => l.startsWith('error'))).toEqual([]);
    // The new handle's packets reach the engine.
    sources[1]!.feed([{ bytes: syn('198.51.100.2', 40000, '203.0.113.2', 2121), seen: { ifIdx: PRIV } }]);
    expect(processor.seen).toHaveLength(1);
    // The same capture again: nothing reopened.
    await driver.updateCapture(more);
    expect(lib.opens).toHaveLength(2);
    await driver.close();
    expect(sources.map((s) => s.stopped)).toEqual([true, true]);
    await expect(driver.updateCapture(SPEC)).rejects.toThrow(/not open/);
  });

  it('sends nothing for an all-dropped batch, and counts a failed SendEx', async () => {
    const { lib, source, driver, logs } = setup();
    let verdict: ProcessOutcome = 'flow-table-full';
    await driver.open(SPEC, new ScriptedProcessor(() => verdict));
    source.feed([{ bytes: syn('198.51.100.2', 1, '203.0.113.2', 21), seen: { ifIdx: PRIV } }]);
    expect(lib.sent).toEqual([]);
    verdict = 'pass';
    lib.failSend = 1232;
    source.feed([{ bytes: syn('198.51.100.2', 1, '203.0.113.2', 21), seen: { ifIdx: PRIV } }]);
    expect(driver.stats).toEqual({ received: 2, accepted: 0, dropped: 2, modified: 0, errors: 1 });
    expect(logs).toContain('warn: windivert: WinDivertSendEx of 1 packets failed: ERROR_HOST_UNREACHABLE (1232)');
    expect(source.nexts).toBe(2);
    await driver.close();
  });

  it('sends what precedes a malformed packet and drops the unparseable rest of the batch', async () => {
    const { lib, source, driver, logs } = setup();
    await driver.open(SPEC, new ScriptedProcessor());
    const good = syn('198.51.100.2', 1, '203.0.113.2', 21);
    source.packets.set(good, 0);
    source.packets.set([0x00, 0x01, 0x02], good.length);
    source.feedRaw(3, good.length + 3);
    expect(lib.sent[0]!.packets.map(toHex)).toEqual([toHex(good)]);
    expect(driver.stats).toEqual({ received: 3, accepted: 1, dropped: 2, modified: 0, errors: 1 });
    expect(logs.some((l) => /malformed batch \(packet 1 of 3 at byte 40 of 43\); 2 packets dropped/.test(l))).toBe(true);
    await driver.close();
  });

  it('keeps a packet the engine throws on from taking the loop down', async () => {
    const { lib, source, driver } = setup();
    await driver.open(SPEC, new ScriptedProcessor((_b, i) => {
      if (i === 0) throw new Error('boom');
      return 'pass';
    }));
    source.feed([0, 1].map((i) => ({ bytes: syn('198.51.100.2', i + 1, '203.0.113.2', 21), seen: { ifIdx: PRIV } })));
    expect(lib.sent[0]!.packets).toHaveLength(1);
    expect(driver.stats).toMatchObject({ received: 2, accepted: 1, dropped: 1, errors: 1 });
    await driver.close();
  });

  describe('with the engine, the ICS redirect path of the module comment', () => {
    const SERVER = '203.0.113.2';
    const BOUNDARY = '203.0.113.1';

    it('redirects an ICS-translated connection to a listener on the boundary address, and injects the reply inbound on the boundary adapter', async () => {
      const { lib, source, driver } = setup();
      const engine = new NatEngine();
      engine.addRedirect({ protocol: 'tcp', port: port(21), listener: endpoint(BOUNDARY, 3001) });
      await driver.open(SPEC, engine);

      // The client's SYN after ICS: from the boundary address and an ICS port, leaving by pub0.
      source.feed([{ bytes: syn(BOUNDARY, 50123, SERVER, 21), seen: { outbound: true, ifIdx: PUB } }]);
      const redirected = lib.sent[0]!;
      expect(toHex(redirected.packets[0]!)).toBe(toHex(syn(BOUNDARY, 50123, BOUNDARY, 3001)));
      const out = new WindivertAddress(redirected.addresses[0]!);
      expect([out.outbound, out.loopback, out.ifIdx]).toEqual([true, false, PUB]); // reflected: Outbound kept

      // The listener's SYN-ACK, a loopback packet; after translation it comes "from" the server.
      const synAck = (src: string, sport: number) => buildPacket({ family: 4, src, dst: BOUNDARY, ttl: 64 }, { kind: 'tcp', srcPort: sport, dstPort: 50123, flags: TCP_FLAGS.SYN | TCP_FLAGS.ACK, seq: 7, ack: 1 });
      source.feed([{ bytes: synAck(BOUNDARY, 3001), seen: { outbound: true, loopback: true, ifIdx: LO } }]);
      const reply = lib.sent[1]!;
      expect(toHex(reply.packets[0]!)).toBe(toHex(synAck(SERVER, 21)));
      const back = new WindivertAddress(reply.addresses[0]!);
      expect([back.outbound, back.loopback, back.ifIdx, back.subIfIdx]).toEqual([false, false, PUB, 0]);
      expect([back.ipChecksum, back.tcpChecksum]).toEqual([true, true]);
      expect(driver.stats).toEqual({ received: 2, accepted: 2, dropped: 0, modified: 2, errors: 0 });
      await driver.close();
    });

    it('keeps loopback packets that stay local on the loopback path', async () => {
      const { lib, source, driver } = setup();
      await driver.open(SPEC, new ScriptedProcessor((bytes) => {
        bytes.writeUInt16BE(3002, 20); // a translation between two local endpoints
        return 'translated';
      }));
      const p = buildPacket({ family: 4, src: BOUNDARY, dst: BOUNDARY }, { kind: 'tcp', srcPort: 3001, dstPort: 50123, flags: TCP_FLAGS.ACK });
      source.feed([{ bytes: p, seen: { outbound: true, loopback: true, ifIdx: LO } }]);
      const a = new WindivertAddress(lib.sent[0]!.addresses[0]!);
      expect([a.outbound, a.loopback, a.ifIdx]).toEqual([true, true, LO]);
      await driver.close();
    });

    it('redirects a client seen inbound on the private adapter to a listener on the private address, keeping the valid-checksum flags', async () => {
      const { lib, source, driver } = setup();
      const engine = new NatEngine();
      engine.addRedirect({ protocol: 'tcp', port: port(21), listener: endpoint('198.51.100.1', 3001) });
      await driver.open(SPEC, engine);
      source.feed([{ bytes: syn('198.51.100.2', 40000, SERVER, 21), seen: { ifIdx: PRIV } }]);
      expect(toHex(lib.sent[0]!.packets[0]!)).toBe(toHex(syn('198.51.100.2', 40000, '198.51.100.1', 3001)));
      const a = new WindivertAddress(lib.sent[0]!.addresses[0]!);
      expect([a.outbound, a.ifIdx, a.ipChecksum, a.tcpChecksum]).toEqual([false, PRIV, true, true]);
      await driver.close();
    });
  });

  describe('closing', () => {
    it('shuts receiving down, drains what is still queued through the engine, then closes; idempotent', async () => {
      const { lib, source, driver } = setup();
      const processor = new ScriptedProcessor();
      await driver.open(SPEC, processor);
      lib.onShutdown = () => {
        // Packets queued before the shutdown still arrive, then ERROR_NO_DATA.
        setImmediate(() => {
          source.feed([{ bytes: syn('198.51.100.2', 9, '203.0.113.2', 21), seen: { ifIdx: PRIV } }]);
          source.end(232);
        });
      };
      const first = driver.close();
      const second = driver.close();
      expect(second).toBe(first);
      await first;
      expect(lib.calls.slice(-3)).toEqual(['shutdown 1', 'send', 'close']);
      expect(processor.seen).toHaveLength(1);
      expect(source.stopped).toBe(true);
      await driver.close();
      expect(lib.calls.filter((c) => c === 'close')).toHaveLength(1);
    });

    it('closes the handle anyway when the queue does not drain in time', async () => {
      const { lib, driver, logs } = setup({ closeTimeoutMs: 50 });
      lib.onShutdown = () => undefined; // the source never ends
      await driver.open(SPEC, new ScriptedProcessor());
      await driver.close();
      expect(lib.calls.slice(-2)).toEqual(['shutdown 1', 'close']);
      expect(logs).toContain('warn: windivert: the packet queue did not drain within 50 ms; closing the handle anyway');
    });

    it('logs a receive thread that ends on its own', async () => {
      const { source, driver, logs } = setup();
      await driver.open(SPEC, new ScriptedProcessor());
      source.end(6);
      expect(logs).toContain('error: windivert: receiving stopped unexpectedly (ERROR_INVALID_HANDLE (6)); captured traffic is no longer processed');
      await driver.close();
    });

    it('closing a driver that never opened does nothing', async () => {
      const { lib, driver } = setup();
      await driver.close();
      expect(lib.calls).toEqual([]);
    });
  });
});

describe('ipPacketLength', () => {
  it('reads IPv4 and IPv6 lengths and refuses what does not fit', () => {
    const v4 = syn('198.51.100.2', 1, '203.0.113.2', 21);
    const v6 = buildPacket({ family: 6, src: '2001:db8:1::2', dst: '2001:db8:2::2' }, { kind: 'udp', srcPort: 1, dstPort: 2 });
    const both = Buffer.concat([v4, v6]);
    expect(ipPacketLength(both, 0, both.length)).toBe(40);
    expect(ipPacketLength(both, 40, both.length)).toBe(48);
    expect(ipPacketLength(both, 40, both.length - 1)).toBe(0);
    expect(ipPacketLength(Buffer.from('4500001300', 'hex'), 0, 5)).toBe(0); // total length 19 < 20
    expect(ipPacketLength(Buffer.from('00', 'hex'), 0, 1)).toBe(0);
    expect(ipPacketLength(both, both.length, both.length)).toBe(0);
  });
});
