import { endpoint, ipAddress, port } from '@algd/sdk';
import { NatEngine, type NatEngineEvents } from '../../../host/nat-engine/nat-engine';
import type { PacketMeta } from '../../../host/nat-engine/packet-meta';
import type { MappingSpec } from '../../../host/nat-engine/translation/mapping';
import { buildIcmpError, buildPacket, TCP_FLAGS, toHex, type IpSpec, type L4Spec } from '../../support/packets';

const CLIENT = '198.51.100.2';
const GW_PUBLIC = '203.0.113.1';
const SERVER = '203.0.113.2';
const OTHER = '203.0.113.9';
const LISTENER = endpoint('127.0.0.1', 3001);

const fromPrivate: PacketMeta = { origin: 'private', stage: 'single' };
const fromPublic: PacketMeta = { origin: 'public', stage: 'single' };
const fromLocal: PacketMeta = { origin: 'local', stage: 'single' };

function v4(src: string, dst: string): IpSpec {
  return { family: 4, src, dst, ttl: 64, id: 0x1234, dontFragment: true };
}
function tcp(srcPort: number, dstPort: number, flags: number, payload?: string): L4Spec {
  return { kind: 'tcp', srcPort, dstPort, seq: 1000, ack: flags & TCP_FLAGS.ACK ? 5000 : 0, flags, window: 64240, ...(payload ? { payload: Buffer.from(payload) } : {}) };
}
function udp(srcPort: number, dstPort: number, payload: string): L4Spec {
  return { kind: 'udp', srcPort, dstPort, payload: Buffer.from(payload) };
}

/** Runs `packet` through the engine; returns the outcome and the bytes as they leave, in hex. */
function run(engine: NatEngine, packet: Buffer, meta: PacketMeta): [string, string] {
  const copy = Buffer.from(packet);
  return [engine.process(copy, meta), toHex(copy)];
}

class Clock {
  t = 1_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

describe('NatEngine: redirect to a loopback listener', () => {
  const syn = buildPacket(v4(CLIENT, SERVER), tcp(40000, 21, TCP_FLAGS.SYN));

  it('sends a captured SYN to the listener and translates the reply back to the original server', () => {
    const engine = new NatEngine();
    engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });

    expect(run(engine, syn, fromPrivate)).toEqual(['translated', toHex(buildPacket(v4(CLIENT, '127.0.0.1'), tcp(40000, 3001, TCP_FLAGS.SYN)))]);
    expect(engine.originalDestination('tcp', endpoint(CLIENT, 40000), LISTENER)).toEqual(endpoint(SERVER, 21));

    const synAck = buildPacket(v4('127.0.0.1', CLIENT), tcp(3001, 40000, TCP_FLAGS.SYN | TCP_FLAGS.ACK));
    expect(run(engine, synAck, fromLocal)).toEqual(['translated', toHex(buildPacket(v4(SERVER, CLIENT), tcp(21, 40000, TCP_FLAGS.SYN | TCP_FLAGS.ACK)))]);

    const data = buildPacket(v4(CLIENT, SERVER), tcp(40000, 21, TCP_FLAGS.ACK | TCP_FLAGS.PSH, 'USER anonymous\r\n'));
    expect(run(engine, data, fromPrivate)).toEqual(['translated', toHex(buildPacket(v4(CLIENT, '127.0.0.1'), tcp(40000, 3001, TCP_FLAGS.ACK | TCP_FLAGS.PSH, 'USER anonymous\r\n')))]);
    expect(engine.flowCount).toBe(1);
    expect(engine.listRedirects()[0]!.hits).toBe(1);
  });

  it('redirects IPv6 connections to an IPv6 listener', () => {
    const engine = new NatEngine();
    engine.addRedirect({ protocol: 'tcp', port: port(21), listener: endpoint('::1', 3002) });
    const ip = (src: string, dst: string): IpSpec => ({ family: 6, src, dst, hopLimit: 64 });
    const syn6 = buildPacket(ip('2001:db8:1::2', '2001:db8:2::2'), tcp(40000, 21, TCP_FLAGS.SYN));
    expect(run(engine, syn6, fromPrivate)).toEqual(['translated', toHex(buildPacket(ip('2001:db8:1::2', '::1'), tcp(40000, 3002, TCP_FLAGS.SYN)))]);
    expect(engine.originalDestination('tcp', endpoint('2001:db8:1::2', 40000), endpoint('::1', 3002))).toEqual(endpoint('2001:db8:2::2', 21));
    // The IPv4 SYN is not captured by an IPv6-only redirect.
    expect(run(engine, syn, fromPrivate)).toEqual(['pass', toHex(syn)]);
  });

  it('leaves alone connections it did not see open, other origins and unrelated traffic', () => {
    const engine = new NatEngine();
    engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });
    const midStream = buildPacket(v4(CLIENT, SERVER), tcp(40001, 21, TCP_FLAGS.ACK, 'LIST\r\n'));
    expect(run(engine, midStream, fromPrivate)).toEqual(['pass', toHex(midStream)]);
    expect(run(engine, syn, fromPublic)).toEqual(['pass', toHex(syn)]);
    const web = buildPacket(v4(CLIENT, SERVER), tcp(40002, 80, TCP_FLAGS.SYN));
    expect(run(engine, web, fromPrivate)).toEqual(['pass', toHex(web)]);
    const ping = buildPacket(v4(CLIENT, SERVER), { kind: 'icmp', type: 8, code: 0, rest: 0x00010001 });
    expect(run(engine, ping, fromPrivate)).toEqual(['pass', toHex(ping)]);
    expect(engine.flowCount).toBe(0);
  });

  it('forgets the original destination when the connection ends, and refuses a conflicting redirect', () => {
    const clock = new Clock();
    const engine = new NatEngine({ now: clock.now });
    engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });
    expect(() => engine.addRedirect({ protocol: 'tcp', port: port(21), listener: endpoint('127.0.0.1', 3005) })).toThrow(/conflicts/);
    run(engine, syn, fromPrivate);
    run(engine, buildPacket(v4('127.0.0.1', CLIENT), tcp(3001, 40000, TCP_FLAGS.RST | TCP_FLAGS.ACK)), fromLocal);
    clock.advance(11_000);
    engine.tick();
    expect(engine.flowCount).toBe(0);
    expect(engine.originalDestination('tcp', endpoint(CLIENT, 40000), LISTENER)).toBeUndefined();
  });

  it('a new SYN on the 5-tuple of a closing connection opens a new flow', () => {
    const engine = new NatEngine();
    engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });
    run(engine, syn, fromPrivate);
    run(engine, buildPacket(v4('127.0.0.1', CLIENT), tcp(3001, 40000, TCP_FLAGS.RST | TCP_FLAGS.ACK)), fromLocal);
    expect(run(engine, syn, fromPrivate)[0]).toBe('translated');
    expect(engine.counters.flowsCreated).toBe(2);
    expect(engine.flowCount).toBe(1);
  });
});

describe('NatEngine: data-channel mappings', () => {
  const activeFtp: MappingSpec = {
    protocol: 'tcp',
    private: endpoint(CLIENT, 50000),
    public: endpoint(GW_PUBLIC, 61000),
    remote: { address: ipAddress(SERVER) },
    direction: 'inbound',
    persistent: false,
    owner: 'session-1',
  };

  function recorder(): { events: string[]; handlers: NatEngineEvents } {
    const events: string[] = [];
    return {
      events,
      handlers: {
        mappingUsed: (m) => events.push(`used ${m.id}`),
        mappingEnded: (m, reason) => events.push(`ended ${m.id} ${reason}`),
        mappingReleased: (m) => events.push(`released ${m.id}`),
      },
    };
  }

  it('carries an inbound connection to the private endpoint and its replies back out as the public one (one-shot)', () => {
    const clock = new Clock();
    const { events, handlers } = recorder();
    const engine = new NatEngine({ now: clock.now, events: handlers });
    const m = engine.createMapping(activeFtp);

    const stranger = buildPacket(v4(OTHER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.SYN));
    expect(run(engine, stranger, fromPublic)).toEqual(['pass', toHex(stranger)]);

    const syn = buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.SYN));
    expect(run(engine, syn, fromPublic)).toEqual(['translated', toHex(buildPacket(v4(SERVER, CLIENT), tcp(20, 50000, TCP_FLAGS.SYN)))]);
    const synAck = buildPacket(v4(CLIENT, SERVER), tcp(50000, 20, TCP_FLAGS.SYN | TCP_FLAGS.ACK));
    expect(run(engine, synAck, fromPrivate)).toEqual(['translated', toHex(buildPacket(v4(GW_PUBLIC, SERVER), tcp(61000, 20, TCP_FLAGS.SYN | TCP_FLAGS.ACK)))]);
    expect(events).toEqual([`used ${m.id}`, `ended ${m.id} used`]);

    // One-shot: a second connection to the same public port is not carried.
    const second = buildPacket(v4(SERVER, GW_PUBLIC), tcp(2020, 61000, TCP_FLAGS.SYN));
    expect(run(engine, second, fromPublic)).toEqual(['pass', toHex(second)]);
    expect(engine.listMappings().map((x) => [x.active, x.liveFlows])).toEqual([[false, 1]]);

    // The public port is released only once the connection made through it is gone.
    run(engine, buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.RST)), fromPublic);
    clock.advance(11_000);
    engine.tick();
    expect(events).toEqual([`used ${m.id}`, `ended ${m.id} used`, `released ${m.id}`]);
    expect(engine.listMappings()).toEqual([]);
    expect([engine.counters.mappingsCreated, engine.counters.mappingsEnded]).toEqual([1, 1]);
  });

  it('an unused one-shot mapping expires after its lifetime', () => {
    const clock = new Clock();
    const { events, handlers } = recorder();
    const engine = new NatEngine({ now: clock.now, events: handlers });
    const m = engine.createMapping({ ...activeFtp, lifetimeMs: 5000 });
    clock.advance(4999);
    engine.tick();
    expect(events).toEqual([]);
    clock.advance(1);
    engine.tick();
    expect(events).toEqual([`ended ${m.id} expired`, `released ${m.id}`]);
    // Ended once, however many ticks see it.
    engine.tick();
    expect([engine.counters.mappingsCreated, engine.counters.mappingsEnded]).toEqual([1, 1]);
    const late = buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.SYN));
    expect(run(engine, late, fromPublic)).toEqual(['pass', toHex(late)]);
  });

  it('a renewed mapping expires its new lifetime after the renewal, keeping its id, endpoints and counters', () => {
    const clock = new Clock();
    const { events, handlers } = recorder();
    const engine = new NatEngine({ now: clock.now, events: handlers });
    const m = engine.createMapping({ ...activeFtp, lifetimeMs: 5000 });
    expect(m.expiresAt).toBe(1_005_000);
    clock.advance(4000);
    engine.renewMapping(m, 5000);
    expect(m.expiresAt).toBe(1_009_000);
    clock.advance(1000); // past the first lifetime
    engine.tick();
    expect(events).toEqual([]);
    expect(engine.listMappings()).toEqual([m]);
    clock.advance(3999);
    engine.tick();
    expect(events).toEqual([]);
    clock.advance(1);
    engine.tick();
    expect(events).toEqual([`ended ${m.id} expired`, `released ${m.id}`]);
    expect([engine.counters.mappingsCreated, engine.counters.mappingsEnded]).toEqual([1, 1]);
  });

  it('refuses to renew a mapping that has ended or is not its own, and a lifetime that is not positive', () => {
    const engine = new NatEngine();
    const m = engine.createMapping({ ...activeFtp, persistent: true });
    for (const bad of [0, -1, Number.NaN]) expect(() => engine.renewMapping(m, bad)).toThrow(`a mapping's lifetime must be positive, not ${bad}`);
    expect(m.expiresAt).toBe(Infinity);
    const foreign = new NatEngine().createMapping({ ...activeFtp, public: endpoint(GW_PUBLIC, 61001) });
    expect(() => engine.renewMapping(foreign, 1000)).toThrow(`mapping ${foreign.id} is not installed`);
    engine.removeMapping(m);
    expect(() => engine.renewMapping(m, 1000)).toThrow(`mapping ${m.id} is not installed`);
    // Ended but still carrying a connection: installed, yet not renewable.
    const used = engine.createMapping({ ...activeFtp, public: endpoint(GW_PUBLIC, 61002) });
    run(engine, buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61002, TCP_FLAGS.SYN)), fromPublic);
    expect(() => engine.renewMapping(used, 1000)).toThrow(`mapping ${used.id} has ended (used)`);
  });

  it('a persistent two-way UDP mapping carries both directions for every flow, restricted to the remote port', () => {
    const engine = new NatEngine();
    engine.createMapping({
      protocol: 'udp',
      private: endpoint(CLIENT, 8000),
      public: endpoint(GW_PUBLIC, 61002),
      remote: { address: ipAddress(SERVER), port: port(9000) },
      direction: 'both',
      persistent: true,
      owner: 'call-1',
    });
    const out = buildPacket(v4(CLIENT, SERVER), udp(8000, 9000, 'rtp-out'));
    expect(run(engine, out, fromPrivate)).toEqual(['translated', toHex(buildPacket(v4(GW_PUBLIC, SERVER), udp(61002, 9000, 'rtp-out')))]);
    const back = buildPacket(v4(SERVER, GW_PUBLIC), udp(9000, 61002, 'rtp-in'));
    expect(run(engine, back, fromPublic)).toEqual(['translated', toHex(buildPacket(v4(SERVER, CLIENT), udp(9000, 8000, 'rtp-in')))]);
    const wrongPort = buildPacket(v4(SERVER, GW_PUBLIC), udp(9001, 61002, 'x'));
    expect(run(engine, wrongPort, fromPublic)).toEqual(['pass', toHex(wrongPort)]);
    expect(engine.listMappings()[0]!.active).toBe(true);
  });

  it("a new UDP mapping for the same private endpoint supersedes the flows an ended one left (a phone's next call from the same RTP port)", () => {
    const { events, handlers } = recorder();
    const engine = new NatEngine({ events: handlers });
    const call = (publicPort: number, owner: string) => engine.createMapping({
      protocol: 'udp', private: endpoint(CLIENT, 6000), public: endpoint(GW_PUBLIC, publicPort), remote: { address: ipAddress(SERVER) }, direction: 'both', persistent: true, owner,
    });
    const first = call(61002, 'call-1');
    expect(run(engine, buildPacket(v4(CLIENT, SERVER), udp(6000, 20000, 'rtp-1')), fromPrivate)[0]).toBe('translated');
    // The call ends (BYE): its mapping goes, its flow lives on until it idles out.
    engine.removeMapping(first);
    expect(engine.flowCount).toBe(1);

    const second = call(61004, 'call-2');
    expect(engine.flowCount).toBe(0);
    expect(events).toEqual([`used ${first.id}`, `ended ${first.id} removed`, `released ${first.id}`]);
    // The far side sends to the port the second call announced, and the phone's RTP leaves from it.
    const inbound = buildPacket(v4(SERVER, GW_PUBLIC), udp(20000, 61004, 'rtp-in'));
    expect(run(engine, inbound, fromPublic)).toEqual(['translated', toHex(buildPacket(v4(SERVER, CLIENT), udp(20000, 6000, 'rtp-in')))]);
    const outbound = buildPacket(v4(CLIENT, SERVER), udp(6000, 20000, 'rtp-2'));
    expect(run(engine, outbound, fromPrivate)).toEqual(['translated', toHex(buildPacket(v4(GW_PUBLIC, SERVER), udp(61004, 20000, 'rtp-2')))]);
    expect(engine.counters.snapshot().drops).toEqual({});
    expect(second.liveFlows).toBe(1);

    // Another private port, or TCP, is left alone.
    engine.removeMapping(second);
    engine.createMapping({ protocol: 'udp', private: endpoint(CLIENT, 6002), public: endpoint(GW_PUBLIC, 61006), direction: 'both', persistent: true, owner: 'call-3' });
    expect(engine.flowCount).toBe(1);
  });

  it('removing an owner ends its mappings and, when asked, cuts their connections', () => {
    const { events, handlers } = recorder();
    const engine = new NatEngine({ events: handlers });
    const a = engine.createMapping({ ...activeFtp, persistent: true });
    const b = engine.createMapping({ ...activeFtp, public: endpoint(GW_PUBLIC, 61001), private: endpoint(CLIENT, 50001) });
    engine.createMapping({ ...activeFtp, public: endpoint(GW_PUBLIC, 61003), owner: 'session-2' });
    run(engine, buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.SYN)), fromPublic);
    expect(engine.removeMappingsOf('session-1', { closeFlows: true })).toBe(2);
    expect(events).toEqual([`used ${a.id}`, `ended ${a.id} removed`, `released ${a.id}`, `ended ${b.id} removed`, `released ${b.id}`]);
    expect(engine.flowCount).toBe(0);
    expect(engine.listMappings().map((m) => m.owner)).toEqual(['session-2']);
  });

  it('removing an owner without cutting connections ends its active mappings, and finds the ended ones again while they carry connections', () => {
    const { events, handlers } = recorder();
    const engine = new NatEngine({ events: handlers });
    const a = engine.createMapping({ ...activeFtp, persistent: true });
    const b = engine.createMapping({ ...activeFtp, public: endpoint(GW_PUBLIC, 61001), private: endpoint(CLIENT, 50001) });
    const c = engine.createMapping({ ...activeFtp, public: endpoint(GW_PUBLIC, 61003), owner: 'session-2' });
    run(engine, buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.SYN)), fromPublic);
    expect(engine.removeMappingsOf('session-1')).toBe(2);
    // a carries a connection: ended, not released; b is gone.
    expect(engine.listMappings().map((m) => m.id)).toEqual([a.id, c.id]);
    expect(engine.removeMappingsOf('session-1')).toBe(0);
    expect(engine.removeMappingsOf('nobody', { closeFlows: true })).toBe(0);
    expect(engine.removeMappingsOf('session-1', { closeFlows: true })).toBe(1);
    expect(engine.removeMappingsOf('session-1', { closeFlows: true })).toBe(0);
    expect(events).toEqual([`used ${a.id}`, `ended ${a.id} removed`, `ended ${b.id} removed`, `released ${b.id}`, `released ${a.id}`]);
    expect(engine.listMappings().map((m) => m.id)).toEqual([c.id]);
    expect(c.active).toBe(true);
  });

  it('refuses a second mapping of the same public endpoint and one across address families', () => {
    const engine = new NatEngine();
    engine.createMapping(activeFtp);
    expect(() => engine.createMapping({ ...activeFtp, private: endpoint(CLIENT, 50001) })).toThrow(/already mapped/);
    expect(() => engine.createMapping({ ...activeFtp, public: endpoint('2001:db8:2::1', 61000) })).toThrow(/IPv4 and IPv6/);
    // UDP on the same public endpoint is another mapping; once the TCP one has ended its endpoint is free again.
    expect(engine.createMapping({ ...activeFtp, protocol: 'udp' }).protocol).toBe('udp');
    engine.removeMapping(engine.listMappings().find((m) => m.protocol === 'tcp')!);
    expect(engine.createMapping({ ...activeFtp, private: endpoint(CLIENT, 50001) }).active).toBe(true);
  });

  it('applies destination rewrites before routing and source rewrites after it', () => {
    const engine = new NatEngine();
    engine.createMapping(activeFtp);
    const syn = buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.SYN));
    const translatedSyn = toHex(buildPacket(v4(SERVER, CLIENT), tcp(20, 50000, TCP_FLAGS.SYN)));
    expect(run(engine, syn, { origin: 'public', stage: 'prerouting' })).toEqual(['translated', translatedSyn]);
    expect(run(engine, Buffer.from(translatedSyn, 'hex'), { origin: 'public', stage: 'postrouting' })).toEqual(['pass', translatedSyn]);

    const synAck = buildPacket(v4(CLIENT, SERVER), tcp(50000, 20, TCP_FLAGS.SYN | TCP_FLAGS.ACK));
    expect(run(engine, synAck, { origin: 'private', stage: 'prerouting' })).toEqual(['pass', toHex(synAck)]);
    expect(run(engine, synAck, { origin: 'private', stage: 'postrouting' })).toEqual(['translated', toHex(buildPacket(v4(GW_PUBLIC, SERVER), tcp(61000, 20, TCP_FLAGS.SYN | TCP_FLAGS.ACK)))]);
  });

  it('creates outbound-mapping flows after routing too, but never redirects or inbound mappings there', () => {
    const engine = new NatEngine();
    engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });
    engine.createMapping(activeFtp);
    engine.createMapping({ ...activeFtp, protocol: 'udp', private: endpoint(CLIENT, 8000), public: endpoint(GW_PUBLIC, 61002), remote: { address: ipAddress(SERVER), port: port(9000) }, direction: 'outbound', persistent: true });
    const post = (origin: PacketMeta['origin']): PacketMeta => ({ origin, stage: 'postrouting' });

    // A destination rewrite after routing would send the packet the wrong way: not created.
    const ftpSyn = buildPacket(v4(CLIENT, SERVER), tcp(40000, 21, TCP_FLAGS.SYN));
    expect(run(engine, ftpSyn, post('private'))).toEqual(['pass', toHex(ftpSyn)]);
    const inboundSyn = buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.SYN));
    expect(run(engine, inboundSyn, post('public'))).toEqual(['pass', toHex(inboundSyn)]);
    expect(engine.flowCount).toBe(0);

    // The first datagram of an outbound mapping, seen only after routing, creates its flow there.
    const out = buildPacket(v4(CLIENT, SERVER), udp(8000, 9000, 'rtp-out'));
    expect(run(engine, out, post('private'))).toEqual(['translated', toHex(buildPacket(v4(GW_PUBLIC, SERVER), udp(61002, 9000, 'rtp-out')))]);
    const back = buildPacket(v4(SERVER, GW_PUBLIC), udp(9000, 61002, 'rtp-in'));
    expect(run(engine, back, { origin: 'public', stage: 'prerouting' })).toEqual(['translated', toHex(buildPacket(v4(SERVER, CLIENT), udp(9000, 8000, 'rtp-in')))]);
    expect(engine.flowCount).toBe(1);
    expect(engine.listFlows()[0]!.state).toBe('replied');
  });

  it('tracks each direction at the stage it is rewritten, so a connection seen half before and half after routing closes', () => {
    const clock = new Clock();
    const engine = new NatEngine({ now: clock.now });
    engine.createMapping({ ...activeFtp, direction: 'outbound', private: endpoint(CLIENT, 50000), public: endpoint(GW_PUBLIC, 61000), remote: { address: ipAddress(SERVER), port: port(21) } });
    const pre: PacketMeta = { origin: 'public', stage: 'prerouting' };
    const post: PacketMeta = { origin: 'private', stage: 'postrouting' };
    const fromClient = (flags: number): Buffer => buildPacket(v4(CLIENT, SERVER), tcp(50000, 21, flags));
    const fromServer = (flags: number): Buffer => buildPacket(v4(SERVER, GW_PUBLIC), tcp(21, 61000, flags));

    // The client's packets are seen only after routing, the server's before and after (as the nfqueue driver shows them).
    expect(run(engine, fromClient(TCP_FLAGS.SYN), post)[0]).toBe('translated');
    const synAck = fromServer(TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    expect(run(engine, synAck, pre)[0]).toBe('translated');
    expect(run(engine, buildPacket(v4(SERVER, CLIENT), tcp(21, 50000, TCP_FLAGS.SYN | TCP_FLAGS.ACK)), { origin: 'public', stage: 'postrouting' })[0]).toBe('pass');
    run(engine, fromClient(TCP_FLAGS.ACK), post);
    const flow = engine.listFlows()[0]!;
    expect(flow.state).toBe('established');
    expect([flow.packets.original, flow.packets.reply]).toEqual([2, 1]);

    run(engine, fromClient(TCP_FLAGS.FIN | TCP_FLAGS.ACK), post);
    run(engine, fromServer(TCP_FLAGS.FIN | TCP_FLAGS.ACK), pre);
    run(engine, fromClient(TCP_FLAGS.ACK), post);
    expect(flow.state).toBe('time_wait');
    clock.advance(121_000);
    engine.tick();
    expect(engine.flowCount).toBe(0);
  });

  it('a mapping with a private source shows the gateway as the private host\'s peer, rewriting both ends in each direction across the two stages', () => {
    const engine = new NatEngine();
    engine.createMapping({ ...activeFtp, private: endpoint(CLIENT, 50000), public: endpoint(GW_PUBLIC, 61000), privateSource: endpoint('198.51.100.1', 61001), remote: { address: ipAddress(SERVER) } });
    const pre: PacketMeta = { origin: 'public', stage: 'prerouting' };
    const post = (origin: 'public' | 'private'): PacketMeta => ({ origin, stage: 'postrouting' });
    // The remote's SYN: destination rewritten before routing, source after it.
    const syn = Buffer.from(buildPacket(v4(SERVER, GW_PUBLIC), tcp(40000, 61000, TCP_FLAGS.SYN)));
    expect(engine.process(syn, pre)).toBe('translated');
    expect(toHex(syn)).toBe(toHex(buildPacket(v4(SERVER, CLIENT), tcp(40000, 50000, TCP_FLAGS.SYN))));
    expect(engine.process(syn, post('public'))).toBe('translated');
    expect(toHex(syn)).toBe(toHex(buildPacket(v4('198.51.100.1', CLIENT), tcp(61001, 50000, TCP_FLAGS.SYN))));
    // The private host's answer, to the gateway: back to the remote, from the public endpoint.
    const synAck = Buffer.from(buildPacket(v4(CLIENT, '198.51.100.1'), tcp(50000, 61001, TCP_FLAGS.SYN | TCP_FLAGS.ACK)));
    expect(engine.process(synAck, { origin: 'private', stage: 'prerouting' })).toBe('translated');
    expect(engine.process(synAck, post('private'))).toBe('translated');
    expect(toHex(synAck)).toBe(toHex(buildPacket(v4(GW_PUBLIC, SERVER), tcp(61000, 40000, TCP_FLAGS.SYN | TCP_FLAGS.ACK))));
    expect(() => engine.createMapping({ ...activeFtp, direction: 'outbound', private: endpoint(CLIENT, 50001), public: endpoint(GW_PUBLIC, 61002), privateSource: endpoint('198.51.100.1', 61003) })).toThrow('a private source needs an inbound mapping');
  });

  it("an outbound mapping for any private port sends the host's connection out from the public endpoint, and replies back to its own port", () => {
    const engine = new NatEngine();
    engine.createMapping({ ...activeFtp, direction: 'outbound', private: endpoint(CLIENT, 0), public: endpoint(GW_PUBLIC, 61000), remote: { address: ipAddress(SERVER), port: port(50000) } });
    const syn = buildPacket(v4(CLIENT, SERVER), tcp(40123, 50000, TCP_FLAGS.SYN));
    expect(run(engine, syn, fromPrivate)).toEqual(['translated', toHex(buildPacket(v4(GW_PUBLIC, SERVER), tcp(61000, 50000, TCP_FLAGS.SYN)))]);
    const synAck = buildPacket(v4(SERVER, GW_PUBLIC), tcp(50000, 61000, TCP_FLAGS.SYN | TCP_FLAGS.ACK));
    expect(run(engine, synAck, fromPublic)).toEqual(['translated', toHex(buildPacket(v4(SERVER, CLIENT), tcp(50000, 40123, TCP_FLAGS.SYN | TCP_FLAGS.ACK)))]);
    // One-shot: another connection of the host to that port is not taken.
    expect(run(engine, buildPacket(v4(CLIENT, SERVER), tcp(40124, 50000, TCP_FLAGS.SYN)), fromPrivate)[0]).toBe('pass');
    // Only an outbound mapping may take any private port.
    expect(() => engine.createMapping({ ...activeFtp, private: endpoint(CLIENT, 0), public: endpoint(GW_PUBLIC, 61001) })).toThrow('only an outbound mapping may take any private port');
  });

  it('translates an ICMP error about a mapped connection, outer and quoted headers', () => {
    const engine = new NatEngine();
    engine.createMapping(activeFtp);
    run(engine, buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.SYN)), fromPublic);
    // The client's host refuses: its ICMP error quotes the SYN as it arrived (server -> client).
    const quotedAsSeen = buildPacket(v4(SERVER, CLIENT), tcp(20, 50000, TCP_FLAGS.SYN));
    const error = buildIcmpError(v4(CLIENT, SERVER), 3, 3, quotedAsSeen, 28);
    const quotedAsSent = buildPacket(v4(SERVER, GW_PUBLIC), tcp(20, 61000, TCP_FLAGS.SYN));
    expect(run(engine, error, fromPrivate)).toEqual(['translated', toHex(buildIcmpError(v4(GW_PUBLIC, SERVER), 3, 3, quotedAsSent, 28))]);
  });
});

describe('NatEngine: drops are counted with their reason', () => {
  it('drops and counts malformed packets, and refuses new flows when the table is full', () => {
    const engine = new NatEngine({ maxFlows: 1 });
    engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });
    const truncated = buildPacket(v4(CLIENT, SERVER), tcp(40000, 21, TCP_FLAGS.SYN)).subarray(0, 30);
    expect(run(engine, truncated, fromPrivate)[0]).toBe('bad-ip-total-length');
    expect(run(engine, buildPacket(v4(CLIENT, SERVER), tcp(40000, 21, TCP_FLAGS.SYN)), fromPrivate)[0]).toBe('translated');
    const secondSyn = buildPacket(v4(CLIENT, SERVER), tcp(40001, 21, TCP_FLAGS.SYN));
    expect(run(engine, secondSyn, fromPrivate)[0]).toBe('flow-table-full');
    expect(engine.counters.snapshot()).toEqual({
      packets: 3,
      passed: 0,
      translated: 1,
      flowsCreated: 1,
      mappingsCreated: 0,
      mappingsEnded: 0,
      redirected: 1,
      redirectsMissed: 0,
      drops: { 'bad-ip-total-length': 1, 'flow-table-full': 1 },
    });
  });

  it('clear() removes every rule, mapping and flow', () => {
    const engine = new NatEngine();
    engine.addRedirect({ protocol: 'tcp', port: port(21), listener: LISTENER });
    engine.createMapping({ protocol: 'udp', private: endpoint(CLIENT, 8000), public: endpoint(GW_PUBLIC, 61002), direction: 'both', persistent: true, owner: 'x' });
    run(engine, buildPacket(v4(CLIENT, SERVER), tcp(40000, 21, TCP_FLAGS.SYN)), fromPrivate);
    engine.clear();
    expect([engine.flowCount, engine.listMappings().length, engine.listRedirects().length]).toEqual([0, 0, 0]);
  });
});
