import { endpoint, ipAddress, port, type AdapterInfo, type DataChannelEvent, type DataChannelRequest, type Endpoint, type IpAddress, type SessionInfo } from '@algd/sdk';
import { NatEngine } from '../../../host/nat-engine/nat-engine';
import type { PacketMeta } from '../../../host/nat-engine/packet-meta';
import { PortPool } from '../../../host/nat-engine/ports';
import type { Mapping } from '../../../host/nat-engine/translation/mapping';
import { DataChannelHub } from '../../../host/plugin-api/resources/data-channel-hub';
import { PublicPortLedger } from '../../../host/plugin-api/resources/public-port-ledger';
import type { SourceAddressLookup } from '../../../host/plugin-api/resources/route-lookup';
import { ServiceRefusedError, SessionServices } from '../../../host/plugin-api/resources/session-services';
import { buildPacket, TCP_FLAGS } from '../../support/packets';
import { seededRandom } from '../nat-engine/ports/seeded-random';

// The documentation topology: client 198.51.100.2 behind the gateway, server 203.0.113.2, gateway 203.0.113.1.
const CLIENT = '198.51.100.2';
const SERVER = '203.0.113.2';
const GATEWAY = '203.0.113.1';
const ADAPTERS: readonly AdapterInfo[] = [
  { name: 'priv0', type: 'private', addresses: [ipAddress('198.51.100.1'), ipAddress('2001:db8:1::1')] },
  { name: 'pub0', type: 'boundary', addresses: [ipAddress(GATEWAY), ipAddress('2001:db8:2::1')] },
];
const FTP_SESSION: SessionInfo = {
  id: 'ftp-1',
  plugin: 'ftp',
  protocol: 'tcp',
  client: endpoint(CLIENT, 40000),
  server: endpoint(SERVER, 21),
  // The kernel's ephemeral source port of the upstream leg: not from the mapping pool.
  boundary: endpoint(GATEWAY, 50000),
  clientSide: 'private',
  adapters: ADAPTERS,
};
const FROM_PUBLIC: PacketMeta = { origin: 'public', stage: 'single' };
/** With random seed 1, fresh single ports come out of 61000-61009 in this order (see PortPool's search). */
const FIRST_PORTS = [61006, 61000, 61005] as const;
const T0 = 1_000_000;

interface RigOptions {
  readonly session?: Partial<SessionInfo>;
  readonly maxDataChannels?: number;
  readonly lookup?: SourceAddressLookup;
  readonly inboundChannelsFromGateway?: boolean;
}

/** A real engine and hub, a port ledger over 61000-61009 with a seeded search, and the session's services. */
function rig(opts: RigOptions = {}) {
  const clock = { now: T0 };
  const hub = new DataChannelHub();
  const engine = new NatEngine({ events: hub, now: () => clock.now });
  const pool = new PortPool({ from: 61000, to: 61009 }, { random: seededRandom(1) });
  const ledger = new PublicPortLedger(pool);
  const events: DataChannelEvent[] = [];
  const changes: number[] = [];
  const lookups: string[] = [];
  const session: SessionInfo = { ...FTP_SESSION, ...opts.session };
  const services = servicesFor(session, opts.maxDataChannels ?? 4);
  function servicesFor(info: SessionInfo, maxDataChannels: number, sink = { events, changes }): SessionServices {
    return new SessionServices(info, {
      engine,
      ledger,
      hub,
      sourceLookup: opts.lookup ?? (async (dest) => { lookups.push(dest); return undefined; }),
      maxDataChannels,
      inboundChannelsFromGateway: opts.inboundChannelsFromGateway,
      onEvent: (e) => sink.events.push(e),
      onChannelsChanged: (n) => sink.changes.push(n),
    });
  }
  /** Reserved ports of the pool, ascending. */
  const reserved = (): number[] => {
    const out: number[] = [];
    for (let p = 61000; p <= 61009; p++) if (pool.isReserved(p)) out.push(p);
    return out;
  };
  const mapping = (id: number): Mapping => {
    const m = engine.listMappings().find((x) => x.id === id);
    if (m === undefined) throw new Error(`no mapping ${id} in the engine`);
    return m;
  };
  /** A SYN from `from` to the gateway's `publicPort`, as it arrives on the public side. */
  const synTo = (publicPort: number, from: Endpoint = endpoint(SERVER, 20), to: string = GATEWAY): string =>
    engine.process(buildPacket({ family: 4, src: from.address, dst: to }, { kind: 'tcp', srcPort: from.port, dstPort: publicPort, flags: TCP_FLAGS.SYN }), FROM_PUBLIC);
  return { clock, hub, engine, pool, ledger, events, changes, lookups, session, services, servicesFor, reserved, mapping, synTo };
}

/** An inbound one-shot channel to the client's port `privatePort`, open to the server only. */
function inbound(privatePort: number, extra: Partial<DataChannelRequest> = {}): DataChannelRequest {
  return { protocol: 'tcp', private: endpoint(CLIENT, privatePort), remote: { address: ipAddress(SERVER) }, direction: 'inbound', ...extra };
}

/** Awaits a call that must be refused; returns the message. */
async function refusal(call: Promise<unknown>): Promise<string> {
  let value: unknown;
  try {
    value = await call;
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceRefusedError);
    return (err as Error).message;
  }
  throw new Error(`expected a refusal, got ${JSON.stringify(value)}`);
}

describe('SessionServices.createDataChannel: whose address', () => {
  it("opens a channel to the client's own address on a fresh boundary port, owned by the session", async () => {
    const r = rig();
    const channel = await r.services.createDataChannel(inbound(40001));
    expect(channel).toStrictEqual({
      id: 1,
      protocol: 'tcp',
      private: { address: CLIENT, port: 40001 },
      public: { address: GATEWAY, port: FIRST_PORTS[0] },
      direction: 'inbound',
      persistent: false,
    });
    const [m, ...others] = r.engine.listMappings();
    expect(others).toEqual([]);
    expect(m!.id).toBe(1);
    expect(m!.owner).toBe('ftp-1');
    expect(m!.active).toBe(true);
    expect(m!.persistent).toBe(false);
    expect(m!.expiresAt).toBe(T0 + 30_000);
    expect(m!.describe()).toBe(`tcp 198.51.100.2:40001 <-> 203.0.113.1:${FIRST_PORTS[0]} inbound remote 203.0.113.2`);
    expect(r.services.describeChannels()).toEqual([m!.describe()]);
    expect(r.services.liveChannels).toBe(1);
    expect(r.hub.size).toBe(1);
    expect(r.reserved()).toEqual([FIRST_PORTS[0]]);
    expect(r.ledger.size).toBe(1);
    expect(r.changes).toEqual([1]);
    // The mapping works: the server's connection to the announced port reaches the client.
    expect(r.synTo(FIRST_PORTS[0])).toBe('translated');
  });

  it("opens a channel to the server's own address, and keeps persistent, lifetime and remote port", async () => {
    const r = rig();
    const channel = await r.services.createDataChannel({
      protocol: 'udp', private: endpoint(SERVER, 5004), remote: { address: ipAddress(CLIENT), port: port(5006) },
      direction: 'both', persistent: true, lifetimeMs: 86_400_000,
    });
    expect(channel).toStrictEqual({ id: 1, protocol: 'udp', private: { address: SERVER, port: 5004 }, public: { address: GATEWAY, port: FIRST_PORTS[0] }, direction: 'both', persistent: true });
    expect(r.mapping(1).describe()).toBe(`udp 203.0.113.2:5004 <-> 203.0.113.1:${FIRST_PORTS[0]} both remote 198.51.100.2:5006`);
    expect(r.mapping(1).expiresAt).toBe(T0 + 86_400_000);
  });

  it('canonicalises the addresses of a request that crossed the thread boundary (IPv6 session)', async () => {
    const r = rig({ session: { client: endpoint('2001:db8:1::2', 40000), server: endpoint('2001:db8:2::2', 21), boundary: endpoint('2001:db8:2::1', 50000) } });
    const request = { protocol: 'tcp', private: { address: '2001:DB8:1:0:0::2', port: 40001 }, direction: 'inbound' } as unknown as DataChannelRequest;
    const channel = await r.services.createDataChannel(request);
    expect(channel.private).toStrictEqual({ address: '2001:db8:1::2', port: 40001 });
    expect(channel.public).toStrictEqual({ address: '2001:db8:2::1', port: FIRST_PORTS[0] });
    expect(r.services.describeChannels()).toEqual([`tcp [2001:db8:1::2]:40001 <-> [2001:db8:2::1]:${FIRST_PORTS[0]} inbound`]);
  });

  it.each([
    ['a host next to the client', '198.51.100.7'],
    ['a host next to the server', '203.0.113.9'],
    ['the gateway itself', GATEWAY],
  ])('refuses a channel to %s (no bounce), naming it, and takes nothing', async (_what, address) => {
    const r = rig();
    const message = await refusal(r.services.createDataChannel(inbound(40001, { private: endpoint(address, 40001) })));
    expect(message).toBe(`data channel refused: ${address} is not a peer of session ftp-1 (client 198.51.100.2, server 203.0.113.2)`);
    expect(r.engine.listMappings()).toEqual([]);
    expect(r.reserved()).toEqual([]);
    expect(r.changes).toEqual([]);
  });

  it('refuses to mix IPv4 and IPv6', async () => {
    const r = rig();
    expect(await refusal(r.services.createDataChannel(inbound(40001, { remote: { address: ipAddress('2001:db8:2::2') } }))))
      .toBe('data channel refused: remote and private addresses are of different IP versions');
    expect(await refusal(r.services.createDataChannel(inbound(40001, { public: endpoint('2001:db8:2::1', 61000) }))))
      .toBe('data channel refused: public endpoint [2001:db8:2::1]:61000 is neither reserved by session ftp-1 nor its boundary endpoint');
    // An IPv6 private address in an IPv4 session is no peer of it.
    expect(await refusal(r.services.createDataChannel(inbound(40001, { private: endpoint('2001:db8:1::2', 40001), remote: undefined }))))
      .toBe('data channel refused: 2001:db8:1::2 is not a peer of session ftp-1 (client 198.51.100.2, server 203.0.113.2)');
    // A session whose client is IPv6 but whose upstream leg left over IPv4 has no IPv6 public address to offer.
    const mixed = rig({ session: { client: endpoint('2001:db8:1::2', 40000) } });
    expect(await refusal(mixed.services.createDataChannel(inbound(40001, { private: endpoint('2001:db8:1::2', 40001), remote: undefined }))))
      .toBe("data channel refused: the session's public address 203.0.113.1 is not IPv6");
    expect(r.engine.listMappings()).toEqual([]);
    expect(mixed.engine.listMappings()).toEqual([]);
    expect(r.reserved()).toEqual([]);
    expect(mixed.reserved()).toEqual([]);
  });
});

describe('SessionServices.createDataChannel: the public endpoint', () => {
  it('takes a fresh port from the ledger on the boundary address when public is omitted, and gives it back with the mapping', async () => {
    const r = rig();
    const a = await r.services.createDataChannel(inbound(40001));
    const b = await r.services.createDataChannel(inbound(40002));
    expect([a.public, b.public]).toStrictEqual([endpoint(GATEWAY, FIRST_PORTS[0]), endpoint(GATEWAY, FIRST_PORTS[1])]);
    expect(r.reserved()).toEqual([FIRST_PORTS[1], FIRST_PORTS[0]]);
    r.engine.removeMapping(r.mapping(a.id));
    expect(r.reserved()).toEqual([FIRST_PORTS[1]]);
    expect(r.ledger.size).toBe(1);
    expect(r.services.describeChannels()).toEqual([`tcp 198.51.100.2:40002 <-> 203.0.113.1:${FIRST_PORTS[1]} inbound remote 203.0.113.2`]);
  });

  it("accepts the session's boundary endpoint for the session's own protocol only", async () => {
    const r = rig();
    const boundary = FTP_SESSION.boundary;
    expect(await refusal(r.services.createDataChannel(inbound(40001, { protocol: 'udp', public: boundary }))))
      .toBe('data channel refused: the boundary endpoint 203.0.113.1:50000 is a tcp endpoint');
    const channel = await r.services.createDataChannel(inbound(40001, { public: boundary }));
    expect(channel.public).toStrictEqual(boundary);
    // The upstream leg's port is not the ledger's: nothing taken, nothing given back.
    expect(r.reserved()).toEqual([]);
    expect(r.ledger.size).toBe(0);
    // One active channel per public endpoint; the refusal leaves the ledger alone.
    expect(await refusal(r.services.createDataChannel(inbound(40002, { public: boundary }))))
      .toBe('data channel refused: public endpoint 203.0.113.1:50000 is already mapped (tcp 198.51.100.2:40001 <-> 203.0.113.1:50000 inbound remote 203.0.113.2)');
    r.engine.removeMapping(r.mapping(channel.id));
    expect(r.services.liveChannels).toBe(0);
    expect(r.ledger.size).toBe(0);
    expect(r.reserved()).toEqual([]);
  });

  it("holds a relay session's boundary port while a channel uses it: the port returns with its last holder", async () => {
    const hub = new DataChannelHub();
    const engine = new NatEngine({ events: hub });
    const pool = new PortPool({ from: 61000, to: 61009 }, { random: seededRandom(1) });
    const ledger = new PublicPortLedger(pool);
    // The datagram relay binds its upstream socket to a port of the ledger.
    const [relayPort] = ledger.take({ count: 1, protocol: 'udp' });
    expect(relayPort).toBe(FIRST_PORTS[0]);
    const session: SessionInfo = { ...FTP_SESSION, id: 'tftp-1', plugin: 'tftp', protocol: 'udp', boundary: endpoint(GATEWAY, relayPort!) };
    const services = new SessionServices(session, { engine, ledger, hub, sourceLookup: async () => undefined, maxDataChannels: 1, onEvent: () => {} });
    const channel = await services.createDataChannel({ protocol: 'udp', private: endpoint(CLIENT, 40000), public: session.boundary, direction: 'inbound', persistent: true });
    expect(channel.public).toStrictEqual(endpoint(GATEWAY, FIRST_PORTS[0]));
    // The relay lets go first: the channel still holds the port.
    ledger.let(relayPort!);
    expect(pool.isReserved(relayPort!)).toBe(true);
    expect(ledger.size).toBe(1);
    engine.removeMapping(engine.listMappings()[0]!);
    expect(pool.isReserved(relayPort!)).toBe(false);
    expect(ledger.size).toBe(0);
  });

  it("carries a channel from exactly the server to exactly the client on the boundary: listed and expiring, but never translating", async () => {
    const r = rig({ session: { id: 'sip-1', plugin: 'sip', protocol: 'udp', client: endpoint(CLIENT, 5060), server: endpoint(SERVER, 5060), boundary: endpoint(GATEWAY, 61003) } });
    const registration: DataChannelRequest = {
      protocol: 'udp', private: endpoint(CLIENT, 5060), public: endpoint(GATEWAY, 61003), remote: { address: ipAddress(SERVER), port: port(5060) },
      direction: 'inbound', persistent: true, lifetimeMs: 60_000,
    };
    const channel = await r.services.createDataChannel(registration);
    expect(r.services.describeChannels()).toEqual(['udp 198.51.100.2:5060 <-> 203.0.113.1:61003 inbound remote 203.0.113.2:5060 carried by its session']);
    expect(r.services.liveChannels).toBe(1);
    // The registrar's request to the boundary is left to the session's own socket.
    const invite = buildPacket({ family: 4, src: SERVER, dst: GATEWAY }, { kind: 'udp', srcPort: 5060, dstPort: 61003, payload: Buffer.from('INVITE') });
    expect(r.engine.process(invite, FROM_PUBLIC)).toBe('pass');
    r.clock.now += 60_000;
    r.engine.tick(r.clock.now);
    expect(r.services.liveChannels).toBe(0);
    expect(r.events).toEqual([]);
    await r.services.removeDataChannel(channel.id);

    // Anything less exact is an ordinary channel: another remote port, or another private port, is translated.
    const other = await r.services.createDataChannel({ ...registration, remote: { address: ipAddress(SERVER), port: port(5070) } });
    expect(r.mapping(other.id).describe()).toBe('udp 198.51.100.2:5060 <-> 203.0.113.1:61003 inbound remote 203.0.113.2:5070');
    const fromOther = buildPacket({ family: 4, src: SERVER, dst: GATEWAY }, { kind: 'udp', srcPort: 5070, dstPort: 61003, payload: Buffer.from('INVITE') });
    expect(r.engine.process(fromOther, FROM_PUBLIC)).toBe('translated');
  });

  it('accepts a port the session reserved, refuses one it did not', async () => {
    const r = rig();
    const other = r.servicesFor({ ...FTP_SESSION, id: 'ftp-2', client: endpoint('198.51.100.3', 40000) }, 4, { events: [], changes: [] });
    const mine = await r.services.reservePorts({ protocol: 'tcp' });
    const theirs = await other.reservePorts({ protocol: 'tcp' });
    expect(mine).toStrictEqual({ id: 1, address: GATEWAY, ports: [FIRST_PORTS[0]] });
    expect(theirs).toStrictEqual({ id: 1, address: GATEWAY, ports: [FIRST_PORTS[1]] });

    const channel = await r.services.createDataChannel(inbound(40001, { public: endpoint(GATEWAY, FIRST_PORTS[0]) }));
    expect(channel.public).toStrictEqual(endpoint(GATEWAY, FIRST_PORTS[0]));
    expect(r.ledger.size).toBe(2);
    for (const [public_, shown] of [
      [endpoint(GATEWAY, 61009), '203.0.113.1:61009'],
      [endpoint(GATEWAY, FIRST_PORTS[1]), `203.0.113.1:${FIRST_PORTS[1]}`],
      [endpoint('203.0.113.9', FIRST_PORTS[0]), `203.0.113.9:${FIRST_PORTS[0]}`],
    ] as const) {
      expect(await refusal(r.services.createDataChannel(inbound(40002, { public: public_ }))))
        .toBe(`data channel refused: public endpoint ${shown} is neither reserved by session ftp-1 nor its boundary endpoint`);
    }
    expect(r.reserved()).toEqual([FIRST_PORTS[1], FIRST_PORTS[0]]);
  });

  it('gives back the hold it took on a reserved port when the engine refuses the mapping', async () => {
    const r = rig();
    const reservation = await r.services.reservePorts({ protocol: 'tcp' });
    const first = await r.services.createDataChannel(inbound(40001, { public: endpoint(GATEWAY, FIRST_PORTS[0]) }));
    expect(await refusal(r.services.createDataChannel(inbound(40002, { public: endpoint(GATEWAY, FIRST_PORTS[0]) }))))
      .toBe(`data channel refused: public endpoint 203.0.113.1:${FIRST_PORTS[0]} is already mapped (tcp 198.51.100.2:40001 <-> 203.0.113.1:${FIRST_PORTS[0]} inbound remote 203.0.113.2)`);
    await r.services.releasePorts(reservation.id);
    expect(r.reserved()).toEqual([FIRST_PORTS[0]]);
    // With the first channel gone no holder is left: a leaked hold would keep the port.
    r.engine.removeMapping(r.mapping(first.id));
    expect(r.reserved()).toEqual([]);
    expect(r.ledger.size).toBe(0);
  });
});

describe('SessionServices.createDataChannel: the cap', () => {
  it('refuses the (N+1)th active channel without taking a port, and allows one after a channel was removed', async () => {
    const r = rig({ maxDataChannels: 2 });
    const a = await r.services.createDataChannel(inbound(40001));
    await r.services.createDataChannel(inbound(40002));
    expect(await refusal(r.services.createDataChannel(inbound(40003)))).toBe('data channel refused: session ftp-1 already holds 2 (the cap is 2)');
    expect(r.reserved()).toEqual([FIRST_PORTS[1], FIRST_PORTS[0]]);
    r.engine.removeMapping(r.mapping(a.id));
    const c = await r.services.createDataChannel(inbound(40003));
    expect(c.id).toBe(3);
    expect(await refusal(r.services.createDataChannel(inbound(40004)))).toBe('data channel refused: session ftp-1 already holds 2 (the cap is 2)');
  });

  it('counts active channels, not live ones: a used one-shot channel still carrying its connection frees a place', async () => {
    const r = rig({ maxDataChannels: 2 });
    const a = await r.services.createDataChannel(inbound(40001));
    await r.services.createDataChannel(inbound(40002));
    expect(r.synTo(a.public.port)).toBe('translated');
    expect(r.mapping(a.id).endReason).toBe('used');
    expect(r.mapping(a.id).liveFlows).toBe(1);
    const c = await r.services.createDataChannel(inbound(40003));
    expect(c.public.port).toBe(FIRST_PORTS[2]);
    expect(r.services.liveChannels).toBe(3);
    expect(await refusal(r.services.createDataChannel(inbound(40004)))).toBe('data channel refused: session ftp-1 already holds 2 (the cap is 2)');
  });

  it('counts an expired channel as ended', async () => {
    const r = rig({ maxDataChannels: 1 });
    await r.services.createDataChannel(inbound(40001, { lifetimeMs: 5_000 }));
    expect(await refusal(r.services.createDataChannel(inbound(40002)))).toBe('data channel refused: session ftp-1 already holds 1 (the cap is 1)');
    r.clock.now = T0 + 4_999;
    r.engine.tick();
    expect(await refusal(r.services.createDataChannel(inbound(40002)))).toBe('data channel refused: session ftp-1 already holds 1 (the cap is 1)');
    r.clock.now = T0 + 5_000;
    r.engine.tick();
    expect((await r.services.createDataChannel(inbound(40002))).id).toBe(2);
  });
});

describe('SessionServices.createDataChannel: requests are re-validated', () => {
  const base = inbound(40001) as unknown as Record<string, unknown>;
  it.each<[string, unknown, string]>([
    ['port 70000', { ...base, private: { address: CLIENT, port: 70000 } }, 'data channel refused: not a port number: 70000'],
    ["address 'x'", { ...base, private: { address: 'x', port: 40001 } }, 'data channel refused: not an IP address: "x"'],
    ["direction 'sideways'", { ...base, direction: 'sideways' }, 'data channel refused: direction must be "inbound", "outbound" or "both"'],
    ['lifetimeMs -1', { ...base, lifetimeMs: -1 }, 'data channel refused: lifetimeMs must be between 1 ms and 24 h'],
    ['lifetimeMs 0', { ...base, lifetimeMs: 0 }, 'data channel refused: lifetimeMs must be between 1 ms and 24 h'],
    ['lifetimeMs over a day', { ...base, lifetimeMs: 86_400_001 }, 'data channel refused: lifetimeMs must be between 1 ms and 24 h'],
    ['lifetimeMs NaN', { ...base, lifetimeMs: NaN }, 'data channel refused: lifetimeMs must be between 1 ms and 24 h'],
    ['lifetimeMs as text', { ...base, lifetimeMs: '5000' }, 'data channel refused: lifetimeMs must be between 1 ms and 24 h'],
    ["protocol 'sctp'", { ...base, protocol: 'sctp' }, 'data channel refused: protocol must be "tcp" or "udp"'],
    ['no request', null, 'data channel refused: the request must be an object'],
    ['a text request', 'open please', 'data channel refused: the request must be an object'],
    ['private port 0', { ...base, private: { address: CLIENT, port: 0 } }, 'data channel refused: private port must not be 0 (any port is for outbound channels only)'],
    ['public port 0', { ...base, public: { address: GATEWAY, port: 0 } }, 'data channel refused: public port must not be 0'],
    ['public port 1.5', { ...base, public: { address: GATEWAY, port: 1.5 } }, 'data channel refused: not a port number: 1.5'],
    ['private as text', { ...base, private: '198.51.100.2:40001' }, 'data channel refused: private must be an endpoint'],
    ['no private endpoint', { ...base, private: undefined }, 'data channel refused: private must be an endpoint'],
    ['remote address', { ...base, remote: { address: 'nowhere' } }, 'data channel refused: not an IP address: "nowhere"'],
    ['remote port -1', { ...base, remote: { address: SERVER, port: -1 } }, 'data channel refused: not a port number: -1'],
  ])('refuses %s with a clear message and takes nothing', async (_what, request, message) => {
    const r = rig();
    expect(await refusal(r.services.createDataChannel(request as DataChannelRequest))).toBe(message);
    expect(r.engine.listMappings()).toEqual([]);
    expect(r.reserved()).toEqual([]);
    expect(r.services.liveChannels).toBe(0);
  });

  it('reads persistent as true only when it is true', async () => {
    const r = rig();
    const channel = await r.services.createDataChannel({ ...inbound(40001), persistent: 'yes' } as unknown as DataChannelRequest);
    expect(channel.persistent).toBe(false);
    expect(r.synTo(channel.public.port)).toBe('translated');
    expect(r.events).toEqual([]);
  });

  it('refuses a notify that is neither a boolean nor { used?, ended? } of known reasons', async () => {
    const r = rig();
    for (const [notify, why] of [
      [1, 'notify must be true, false or { used?, ended? }'],
      [['expired'], 'notify must be true, false or { used?, ended? }'],
      [{ used: 'yes' }, 'notify.used must be true or false'],
      [{ ended: 'expired' }, 'notify.ended must be a list of end reasons'],
      [{ ended: ['expired', 'gone'] }, 'notify.ended: "gone" is not one of used, expired, removed'],
    ] as const) {
      await expect(r.services.createDataChannel({ ...inbound(40001), notify } as unknown as DataChannelRequest)).rejects.toThrow(`data channel refused: ${why}`);
    }
  });
});

describe('SessionServices.reservePorts', () => {
  it('hands out scattered, contiguous and even/odd ports from the pool on the boundary address', async () => {
    const r = rig({ maxDataChannels: 8 });
    expect(await r.services.reservePorts({ protocol: 'tcp', count: 3 })).toStrictEqual({ id: 1, address: GATEWAY, ports: [61006, 61000, 61005] });
    expect(await r.services.reservePorts({ protocol: 'udp', count: 3, contiguous: true })).toStrictEqual({ id: 2, address: GATEWAY, ports: [61007, 61008, 61009] });
    expect(await r.services.reservePorts({ protocol: 'udp', parity: 'even-odd' })).toStrictEqual({ id: 3, address: GATEWAY, ports: [61002, 61003] });
    // 61001 and 61004 are left, not next to each other.
    expect(await refusal(r.services.reservePorts({ protocol: 'tcp', count: 2, contiguous: true })))
      .toBe('reservePorts: port pool 61000-61009 cannot provide 2 contiguous tcp ports: 8 of 10 ports reserved, the others in use by the OS or not fitting the request');
    expect(await r.services.reservePorts({ protocol: 'tcp', count: 2 })).toStrictEqual({ id: 4, address: GATEWAY, ports: [61001, 61004] });
    expect(await refusal(r.services.reservePorts({ protocol: 'udp' })))
      .toBe('reservePorts: port pool 61000-61009 cannot provide 1 udp port: 10 of 10 ports reserved, the others in use by the OS or not fitting the request');
    expect(r.pool.available).toBe(0);
    expect(r.ledger.size).toBe(10);
  });

  it('reserves on the IPv6 boundary address in an IPv6 session', async () => {
    const r = rig({ session: { client: endpoint('2001:db8:1::2', 40000), server: endpoint('2001:db8:2::2', 21), boundary: endpoint('2001:db8:2::1', 50000) } });
    expect(await r.services.reservePorts({ protocol: 'udp', parity: 'even-odd', count: 4 })).toStrictEqual({ id: 1, address: '2001:db8:2::1', ports: [61004, 61005, 61006, 61007] });
  });

  it.each<[string, unknown, string]>([
    ["protocol 'icmp'", { protocol: 'icmp' }, 'reservePorts: protocol must be "tcp" or "udp"'],
    ['no request', null, 'reservePorts: protocol must be "tcp" or "udp"'],
    ['count 0', { protocol: 'tcp', count: 0 }, 'reservePorts: count must be 1 to 16'],
    ['count 17', { protocol: 'tcp', count: 17 }, 'reservePorts: count must be 1 to 16'],
    ['count 2.5', { protocol: 'tcp', count: 2.5 }, 'reservePorts: count must be 1 to 16'],
    ['count as text', { protocol: 'tcp', count: '2' }, 'reservePorts: count must be 1 to 16'],
    ["parity 'odd-even'", { protocol: 'udp', parity: 'odd-even' }, 'reservePorts: parity must be "even-odd"'],
  ])('refuses %s and takes nothing', async (_what, request, message) => {
    const r = rig({ maxDataChannels: 16 });
    expect(await refusal(r.services.reservePorts(request as never))).toBe(message);
    expect(r.reserved()).toEqual([]);
  });

  it('holds at most two reserved ports per allowed data channel', async () => {
    const r = rig({ maxDataChannels: 2 });
    const three = await r.services.reservePorts({ protocol: 'udp', count: 3 });
    expect(await refusal(r.services.reservePorts({ protocol: 'udp', parity: 'even-odd' })))
      .toBe('reservePorts: session ftp-1 would hold 5 reserved ports (the cap is 4, two per data channel)');
    const one = await r.services.reservePorts({ protocol: 'udp' });
    expect(one.id).toBe(2);
    expect(await refusal(r.services.reservePorts({ protocol: 'udp' })))
      .toBe('reservePorts: session ftp-1 would hold 5 reserved ports (the cap is 4, two per data channel)');
    await r.services.releasePorts(three.id);
    expect((await r.services.reservePorts({ protocol: 'udp', count: 3 })).ports).toHaveLength(3);
  });
});

describe('SessionServices.releasePorts', () => {
  it('returns the ports to the pool, except one a channel still uses: that one returns with the channel', async () => {
    const r = rig();
    const reservation = await r.services.reservePorts({ protocol: 'tcp', count: 2 });
    expect(reservation.ports).toEqual([FIRST_PORTS[0], FIRST_PORTS[1]]);
    const channel = await r.services.createDataChannel(inbound(40001, { public: endpoint(GATEWAY, FIRST_PORTS[0]) }));
    await expect(r.services.releasePorts(reservation.id)).resolves.toBeUndefined();
    expect(r.reserved()).toEqual([FIRST_PORTS[0]]);
    expect(r.ledger.size).toBe(1);
    // The channel carries a connection: its port stays held after the channel ended.
    expect(r.synTo(FIRST_PORTS[0])).toBe('translated');
    expect(r.mapping(channel.id).active).toBe(false);
    expect(r.reserved()).toEqual([FIRST_PORTS[0]]);
    // The connection times out (SYN sent, 120 s): the mapping is released and the port with it.
    r.clock.now = T0 + 120_000;
    r.engine.tick();
    expect(r.engine.listMappings()).toEqual([]);
    expect(r.reserved()).toEqual([]);
    expect(r.ledger.size).toBe(0);
    expect(r.services.liveChannels).toBe(0);
  });

  it("refuses a reservation the session does not have", async () => {
    const r = rig();
    const other = r.servicesFor({ ...FTP_SESSION, id: 'ftp-2' }, 4, { events: [], changes: [] });
    const theirs = await other.reservePorts({ protocol: 'tcp' });
    expect(await refusal(r.services.releasePorts(7))).toBe('no reservation 7 in session ftp-1');
    expect(await refusal(r.services.releasePorts(theirs.id))).toBe('no reservation 1 in session ftp-1');
    expect(r.reserved()).toEqual([FIRST_PORTS[0]]);
  });
});

describe('SessionServices.removeDataChannel', () => {
  it("ends the session's channel; removing it again after its release does nothing; a foreign id is an error", async () => {
    const r = rig();
    const other = r.servicesFor({ ...FTP_SESSION, id: 'ftp-2' }, 4, { events: [], changes: [] });
    const mine = await r.services.createDataChannel(inbound(40001, { notify: true }));
    const theirs = await other.createDataChannel(inbound(40002));
    await expect(r.services.removeDataChannel(mine.id)).resolves.toBeUndefined();
    expect(r.events).toEqual([{ kind: 'ended', channel: mine.id, reason: 'removed' }]);
    expect(r.engine.listMappings().map((m) => m.id)).toEqual([theirs.id]);
    await expect(r.services.removeDataChannel(mine.id)).resolves.toBeUndefined();
    expect(await refusal(r.services.removeDataChannel(99))).toBe('no data channel 99 in session ftp-1');
    expect(await refusal(r.services.removeDataChannel(theirs.id))).toBe(`no data channel ${theirs.id} in session ftp-1`);
    expect(r.mapping(theirs.id).active).toBe(true);
    expect(r.events).toHaveLength(1);
  });

  it('ends a channel that carries a connection without cutting it', async () => {
    const r = rig();
    const channel = await r.services.createDataChannel(inbound(40001, { persistent: true }));
    expect(r.synTo(channel.public.port)).toBe('translated');
    await r.services.removeDataChannel(channel.id);
    expect(r.mapping(channel.id).endReason).toBe('removed');
    expect(r.services.liveChannels).toBe(1);
    // Still the session's: removing it again is no error.
    await expect(r.services.removeDataChannel(channel.id)).resolves.toBeUndefined();
    // No new connection through it, the old one goes on.
    expect(r.synTo(channel.public.port, endpoint(SERVER, 21))).toBe('pass');
    const ack = buildPacket({ family: 4, src: SERVER, dst: GATEWAY }, { kind: 'tcp', srcPort: 20, dstPort: channel.public.port, flags: TCP_FLAGS.ACK });
    expect(r.engine.process(ack, FROM_PUBLIC)).toBe('translated');
  });

  /** A call's RTP: the reserved even port of a pair, both ways, answered by the far side. */
  async function answeredMedia(r: ReturnType<typeof rig>) {
    const pair = await r.services.reservePorts({ protocol: 'udp', parity: 'even-odd' });
    const channel = await r.services.createDataChannel({ protocol: 'udp', private: endpoint(CLIENT, 10000), public: endpoint(GATEWAY, pair.ports[0]!), remote: { address: ipAddress(SERVER) }, direction: 'both', persistent: true });
    const rtp = (src: Endpoint, dst: Endpoint): Buffer => buildPacket({ family: 4, src: src.address, dst: dst.address }, { kind: 'udp', srcPort: src.port, dstPort: dst.port, payload: Buffer.from('rtp') });
    expect(r.engine.process(rtp(endpoint(CLIENT, 10000), endpoint(SERVER, 20000)), { origin: 'private', stage: 'single' })).toBe('translated');
    expect(r.engine.process(rtp(endpoint(SERVER, 20000), endpoint(GATEWAY, pair.ports[0]!)), FROM_PUBLIC)).toBe('translated');
    return { pair, channel, late: () => r.engine.process(rtp(endpoint(SERVER, 20000), endpoint(GATEWAY, pair.ports[0]!)), FROM_PUBLIC) };
  }

  it('with closeConnections closes the connections too: the channel is released and its port back in the pool at once', async () => {
    const r = rig();
    const { pair, channel, late } = await answeredMedia(r);
    // With the rig's seeded search the pair is 61006/61007.
    expect(pair.ports).toEqual([61006, 61007]);
    expect(r.engine.flowCount).toBe(1);
    await r.services.removeDataChannel(channel.id, { closeConnections: true });
    await r.services.releasePorts(pair.id);
    expect(r.engine.flowCount).toBe(0);
    expect(r.engine.listMappings()).toEqual([]);
    expect(r.services.liveChannels).toBe(0);
    expect(r.hub.size).toBe(0);
    expect(r.reserved()).toEqual([]);
    expect(r.ledger.size).toBe(0);
    expect(r.changes).toEqual([1, 1, 0]);
    // What still arrives for the ended stream is not carried.
    expect(late()).toBe('pass');
    // Removing it again is no error, with or without the option.
    await expect(r.services.removeDataChannel(channel.id, { closeConnections: true })).resolves.toBeUndefined();
    await expect(r.services.removeDataChannel(channel.id)).resolves.toBeUndefined();
  });

  it('without it the answered media flow keeps the channel and its port for the 180 s of a replied UDP flow', async () => {
    const r = rig();
    const { pair, channel } = await answeredMedia(r);
    await r.services.removeDataChannel(channel.id);
    await r.services.releasePorts(pair.id);
    expect(r.reserved()).toEqual([pair.ports[0]]);
    expect(r.services.liveChannels).toBe(1);
    r.clock.now = T0 + 179_999;
    r.engine.tick();
    expect(r.reserved()).toEqual([pair.ports[0]]);
    r.clock.now = T0 + 180_000;
    r.engine.tick();
    expect(r.reserved()).toEqual([]);
    expect(r.services.liveChannels).toBe(0);
  });

  it('closes the connections of a channel that had already ended and still carries them', async () => {
    const r = rig();
    const { pair, channel } = await answeredMedia(r);
    await r.services.removeDataChannel(channel.id);
    expect(r.services.liveChannels).toBe(1);
    await r.services.removeDataChannel(channel.id, { closeConnections: true });
    expect(r.services.liveChannels).toBe(0);
    expect(r.engine.flowCount).toBe(0);
    await r.services.releasePorts(pair.id);
    expect(r.ledger.size).toBe(0);
  });

  it('refuses options of another shape, and never closes what another session owns', async () => {
    const r = rig();
    const other = r.servicesFor({ ...FTP_SESSION, id: 'ftp-2' }, 4, { events: [], changes: [] });
    const mine = await r.services.createDataChannel(inbound(40001));
    expect(await refusal(r.services.removeDataChannel(mine.id, { closeConnections: 'yes' }))).toBe('removeDataChannel: closeConnections must be true or false');
    expect(await refusal(r.services.removeDataChannel(mine.id, 'close'))).toBe('removeDataChannel: options must be { closeConnections? }');
    expect(await refusal(r.services.removeDataChannel(mine.id, null))).toBe('removeDataChannel: options must be { closeConnections? }');
    expect(r.mapping(mine.id).active).toBe(true);
    const theirs = await other.createDataChannel(inbound(40002, { persistent: true }));
    expect(r.synTo(theirs.public.port)).toBe('translated');
    expect(await refusal(r.services.removeDataChannel(theirs.id, { closeConnections: true }))).toBe(`no data channel ${theirs.id} in session ftp-1`);
    expect(r.mapping(theirs.id).active).toBe(true);
    expect(r.mapping(theirs.id).liveFlows).toBe(1);
  });
});

describe('SessionServices.end', () => {
  it('ends active channels (connections continue), releases reservations, refuses later calls; idempotent', async () => {
    const r = rig();
    const reservation = await r.services.reservePorts({ protocol: 'tcp', count: 2 });
    const carrying = await r.services.createDataChannel(inbound(40001, { public: endpoint(GATEWAY, FIRST_PORTS[0]), persistent: true, notify: true }));
    const idle = await r.services.createDataChannel(inbound(40002, { notify: true }));
    expect(idle.public.port).toBe(FIRST_PORTS[2]);
    expect(r.synTo(FIRST_PORTS[0])).toBe('translated');
    expect(r.events).toEqual([{ kind: 'used', channel: carrying.id, peer: endpoint(SERVER, 20) }]);
    expect(r.changes).toEqual([1, 2]);

    r.services.end();
    expect(r.engine.listMappings().map((m) => [m.id, m.endReason, m.liveFlows])).toEqual([[carrying.id, 'removed', 1]]);
    // The idle channel's fresh port and the reservation's unused port are back; the carrying channel keeps its port.
    expect(r.reserved()).toEqual([FIRST_PORTS[0]]);
    expect(r.services.liveChannels).toBe(1);
    expect(r.services.describeChannels()).toEqual([`tcp 198.51.100.2:40001 <-> 203.0.113.1:${FIRST_PORTS[0]} inbound remote 203.0.113.2`]);
    // No event after the end, not even the end of the session's own channels.
    expect(r.events).toHaveLength(1);
    // Each channel ended (2, 2), then the idle one was released (1).
    expect(r.changes).toEqual([1, 2, 2, 2, 1]);
    // The connection made before goes on.
    const ack = buildPacket({ family: 4, src: SERVER, dst: GATEWAY }, { kind: 'tcp', srcPort: 20, dstPort: FIRST_PORTS[0], flags: TCP_FLAGS.ACK });
    expect(r.engine.process(ack, FROM_PUBLIC)).toBe('translated');

    expect(await refusal(r.services.createDataChannel(inbound(40003)))).toBe('session ftp-1 has ended');
    expect(await refusal(r.services.reservePorts({ protocol: 'tcp' }))).toBe('session ftp-1 has ended');
    // Releasing an already released reservation is harmless (as in the SDK test kit); an unknown id is not.
    await expect(r.services.releasePorts(reservation.id)).resolves.toBeUndefined();
    expect(await refusal(r.services.releasePorts(99))).toBe('no reservation 99 in session ftp-1');
    expect(await refusal(r.services.bestSourceAddress(SERVER as IpAddress))).toBe('session ftp-1 has ended');
    expect(r.reserved()).toEqual([FIRST_PORTS[0]]);

    r.services.end();
    expect(r.changes).toEqual([1, 2, 2, 2, 1]);

    // The connection ends: the last channel is released with its port, still without an event.
    r.engine.removeMapping(r.mapping(carrying.id), { closeFlows: true });
    expect(r.engine.listMappings()).toEqual([]);
    expect(r.reserved()).toEqual([]);
    expect(r.ledger.size).toBe(0);
    expect(r.services.liveChannels).toBe(0);
    expect(r.changes).toEqual([1, 2, 2, 2, 1, 0]);
    expect(r.events).toHaveLength(1);
    await expect(r.services.removeDataChannel(carrying.id)).resolves.toBeUndefined();
  });

  it('leaves the mappings of other sessions alone', async () => {
    const r = rig();
    const other = r.servicesFor({ ...FTP_SESSION, id: 'ftp-2' }, 4, { events: [], changes: [] });
    await r.services.createDataChannel(inbound(40001));
    const theirs = await other.createDataChannel(inbound(40002));
    const theirReservation = await other.reservePorts({ protocol: 'tcp' });
    r.services.end();
    expect(r.engine.listMappings().map((m) => [m.id, m.owner, m.active])).toEqual([[theirs.id, 'ftp-2', true]]);
    expect(r.reserved()).toEqual([...theirReservation.ports, theirs.public.port].sort());
  });
});

describe('SessionServices: events', () => {
  it('delivers used and ended events only for channels requested with notify', async () => {
    const r = rig();
    const quiet = await r.services.createDataChannel(inbound(40001));
    const told = await r.services.createDataChannel(inbound(40002, { notify: true }));
    expect(r.synTo(quiet.public.port, endpoint(SERVER, 2020))).toBe('translated');
    expect(r.events).toEqual([]);
    expect(r.synTo(told.public.port, endpoint(SERVER, 2021))).toBe('translated');
    expect(r.events).toEqual([
      { kind: 'used', channel: told.id, peer: endpoint(SERVER, 2021) },
      { kind: 'ended', channel: told.id, reason: 'used' },
    ]);
  });

  it('delivers only the events a notify filter names: no used, and ended only for the reasons listed', async () => {
    const r = rig();
    const expiries = await r.services.createDataChannel(inbound(40001, { persistent: true, lifetimeMs: 60_000, notify: { ended: ['expired'] } }));
    const removals = await r.services.createDataChannel(inbound(40002, { persistent: true, notify: { used: false, ended: ['removed'] } }));
    const uses = await r.services.createDataChannel(inbound(40003, { notify: { used: true } }));
    expect(r.synTo(expiries.public.port, endpoint(SERVER, 3000))).toBe('translated');
    expect(r.synTo(removals.public.port, endpoint(SERVER, 3001))).toBe('translated');
    expect(r.synTo(uses.public.port, endpoint(SERVER, 3002))).toBe('translated');
    await r.services.removeDataChannel(removals.id);
    r.clock.now = T0 + 60_000;
    r.engine.tick();
    expect(r.events).toEqual([
      // uses: its used event, not its ended (used) one.
      { kind: 'used', channel: uses.id, peer: endpoint(SERVER, 3002) },
      { kind: 'ended', channel: removals.id, reason: 'removed' },
      { kind: 'ended', channel: expiries.id, reason: 'expired' },
    ]);
  });

  it('delivers every use of a persistent channel, its expiry, and nothing after the end of the session', async () => {
    const r = rig();
    const channel = await r.services.createDataChannel(inbound(40001, { persistent: true, lifetimeMs: 60_000, notify: true }));
    expect(r.synTo(channel.public.port, endpoint(SERVER, 3000))).toBe('translated');
    expect(r.synTo(channel.public.port, endpoint(SERVER, 3001))).toBe('translated');
    r.clock.now = T0 + 60_000;
    r.engine.tick();
    const open = await r.services.createDataChannel(inbound(40002, { persistent: true, notify: true }));
    expect(r.events).toEqual([
      { kind: 'used', channel: channel.id, peer: endpoint(SERVER, 3000) },
      { kind: 'used', channel: channel.id, peer: endpoint(SERVER, 3001) },
      { kind: 'ended', channel: channel.id, reason: 'expired' },
    ]);
    const openMapping = r.mapping(open.id);
    r.services.end();
    expect(openMapping.endReason).toBe('removed');
    expect(r.events).toHaveLength(3);
  });

  it('reports the number of live channels whenever it may have changed', async () => {
    const r = rig();
    const a = await r.services.createDataChannel(inbound(40001));
    const b = await r.services.createDataChannel(inbound(40002));
    expect(r.changes).toEqual([1, 2]);
    r.engine.removeMapping(r.mapping(a.id)); // ended, then released at once (no connection)
    expect(r.changes).toEqual([1, 2, 2, 1]);
    expect(r.synTo(b.public.port)).toBe('translated'); // ended by its use; the connection keeps it live
    expect(r.changes).toEqual([1, 2, 2, 1, 1]);
    r.clock.now = T0 + 120_000;
    r.engine.tick();
    expect(r.changes).toEqual([1, 2, 2, 1, 1, 0]);
    // A refused request changes nothing.
    await refusal(r.services.createDataChannel(inbound(40003, { private: endpoint('198.51.100.9', 1) })));
    expect(r.changes).toEqual([1, 2, 2, 1, 1, 0]);
  });
});

describe('SessionServices.bestSourceAddress', () => {
  const adapters: readonly AdapterInfo[] = [
    { name: 'priv0', type: 'private', addresses: [ipAddress('198.51.100.1'), ipAddress('2001:db8:1::1')] },
    { name: 'fw0', type: 'firewalled', addresses: [ipAddress('192.0.2.1'), ipAddress('2001:db8:3::1')] },
    { name: 'pub0', type: 'boundary', addresses: [ipAddress('2001:db8:2::1')] },
    { name: 'pub1', type: 'boundary', addresses: [ipAddress('203.0.113.50'), ipAddress(GATEWAY)] },
  ];

  it("answers with the route lookup's address, asking it with the canonical destination", async () => {
    const asked: string[] = [];
    const r = rig({ lookup: async (dest) => { asked.push(dest); return ipAddress('203.0.113.77'); } });
    expect(await r.services.bestSourceAddress(ipAddress('192.0.2.99'))).toBe('203.0.113.77');
    expect(await r.services.bestSourceAddress('2001:DB8:0:0::5' as IpAddress)).toBe('203.0.113.77');
    expect(asked).toEqual(['192.0.2.99', '2001:db8::5']);
  });

  it('falls back to the first boundary address of the family, then to a firewalled one', async () => {
    const r = rig({ session: { adapters } });
    expect(await r.services.bestSourceAddress(ipAddress('192.0.2.99'))).toBe('203.0.113.50');
    expect(await r.services.bestSourceAddress(ipAddress('2001:db8:9::9'))).toBe('2001:db8:2::1');
    expect(r.lookups).toEqual(['192.0.2.99', '2001:db8:9::9']);
    const firewalledOnly = rig({ session: { adapters: adapters.filter((a) => a.name !== 'pub0') } });
    expect(await firewalledOnly.services.bestSourceAddress(ipAddress('2001:db8:9::9'))).toBe('2001:db8:3::1');
  });

  it('refuses when no public adapter has an address of the family', async () => {
    const r = rig({ session: { adapters: [adapters[0]!, adapters[3]!] } });
    expect(await refusal(r.services.bestSourceAddress(ipAddress('2001:db8:9::9')))).toBe('no gateway address reaches 2001:db8:9::9');
    await expect(r.services.bestSourceAddress('x' as IpAddress)).rejects.toThrow(new Error('bestSourceAddress: not an IP address: "x"'));
    expect(r.lookups).toEqual(['2001:db8:9::9']);
  });
});

describe('SessionServices: rules shared with the SDK test kit', () => {
  it('does not put a channel of one protocol on a port reserved for the other', async () => {
    const r = rig();
    const reservation = await r.services.reservePorts({ protocol: 'tcp' });
    const onIt = endpoint(GATEWAY, reservation.ports[0]!);
    expect(await refusal(r.services.createDataChannel({ ...inbound(40001, { public: onIt }), protocol: 'udp' }))).toBe(
      `data channel refused: public endpoint ${GATEWAY}:${reservation.ports[0]} is neither reserved by session ftp-1 nor its boundary endpoint`,
    );
    await expect(r.services.createDataChannel(inbound(40001, { public: onIt }))).resolves.toMatchObject({ public: onIt });
  });

  it('refuses a remote port 0', async () => {
    const r = rig();
    expect(await refusal(r.services.createDataChannel(inbound(40001, { remote: { address: ipAddress(SERVER), port: 0 as never } })))).toBe(
      'data channel refused: remote port must not be 0',
    );
  });

  it('reports the remote side as the peer of a used channel: the source coming in, the destination going out', async () => {
    const r = rig();
    const out = await r.services.createDataChannel({ protocol: 'tcp', private: endpoint(CLIENT, 40005), remote: { address: ipAddress(SERVER) }, direction: 'outbound', notify: true });
    const syn = buildPacket({ family: 4, src: CLIENT, dst: SERVER }, { kind: 'tcp', srcPort: 40005, dstPort: 8080, flags: TCP_FLAGS.SYN });
    expect(r.engine.process(syn, { origin: 'private', stage: 'single' })).toBe('translated');
    expect(r.events[0]).toEqual({ kind: 'used', channel: out.id, peer: endpoint(SERVER, 8080) });
  });
});

describe('SessionServices: a channel that shows the gateway as the private host\'s peer (fromBoundary)', () => {
  it('takes a second port for the boundary side, and gives both back when the channel is released', async () => {
    const r = rig({ session: { clientSide: 'public', client: endpoint(SERVER, 40000), server: endpoint(CLIENT, 21), boundary: endpoint('198.51.100.1', 50000) } });
    const ch = await r.services.createDataChannel({ protocol: 'tcp', private: endpoint(CLIENT, 40100), remote: { address: ipAddress(SERVER) }, direction: 'inbound', fromBoundary: true });
    expect(r.mapping(ch.id).describe()).toBe(`tcp 198.51.100.2:40100 <-> 198.51.100.1:${FIRST_PORTS[0]} inbound remote 203.0.113.2 via 198.51.100.1:${FIRST_PORTS[1]}`);
    expect(r.reserved()).toEqual([FIRST_PORTS[1], FIRST_PORTS[0]].sort());
    r.engine.removeMapping(r.mapping(ch.id));
    expect(r.reserved()).toEqual([]);
    expect(await refusal(r.services.createDataChannel({ protocol: 'tcp', private: endpoint(CLIENT, 0), direction: 'outbound', fromBoundary: true }))).toBe('data channel refused: fromBoundary is for inbound channels only');
  });
});

describe('SessionServices: inbound channels from the gateway (a driver working after the OS NAT, WinDivert on ICS)', () => {
  it("makes an inbound channel to the private client come from the gateway's address towards it, and carries both ways through the engine", async () => {
    const r = rig({ inboundChannelsFromGateway: true, lookup: async (dest) => (dest === CLIENT ? ipAddress('198.51.100.1') : undefined) });
    const ch = await r.services.createDataChannel(inbound(40100));
    expect(r.mapping(ch.id).describe()).toBe(`tcp 198.51.100.2:40100 <-> 203.0.113.1:${FIRST_PORTS[0]} inbound remote 203.0.113.2 via 198.51.100.1:${FIRST_PORTS[1]}`);
    // The server's connection reaches the client from the gateway; the client's answer to the gateway goes back to the server from the public port.
    const syn = buildPacket({ family: 4, src: SERVER, dst: GATEWAY }, { kind: 'tcp', srcPort: 20, dstPort: FIRST_PORTS[0], flags: TCP_FLAGS.SYN });
    expect(r.engine.process(syn, FROM_PUBLIC)).toBe('translated');
    expect(toEndpoints(syn)).toBe(`198.51.100.1:${FIRST_PORTS[1]} > 198.51.100.2:40100`);
    const synAck = buildPacket({ family: 4, src: CLIENT, dst: '198.51.100.1' }, { kind: 'tcp', srcPort: 40100, dstPort: FIRST_PORTS[1], flags: TCP_FLAGS.SYN | TCP_FLAGS.ACK });
    expect(r.engine.process(synAck, { origin: 'private', stage: 'single' })).toBe('translated');
    expect(toEndpoints(synAck)).toBe(`203.0.113.1:${FIRST_PORTS[0]} > 203.0.113.2:20`);
  });

  it("falls back to the private adapter's address without a route, and leaves two-way and server-side channels alone", async () => {
    const r = rig({ inboundChannelsFromGateway: true });
    const ch = await r.services.createDataChannel(inbound(40100));
    expect(r.mapping(ch.id).describe()).toMatch(/ via 198\.51\.100\.1:\d+$/);
    const both = await r.services.createDataChannel(inbound(40102, { protocol: 'udp', direction: 'both', persistent: true }));
    expect(r.mapping(both.id).describe()).not.toMatch(/ via /);
    const toServer = await r.services.createDataChannel({ protocol: 'tcp', private: endpoint(SERVER, 20), remote: { address: ipAddress(CLIENT) }, direction: 'inbound' });
    expect(r.mapping(toServer.id).describe()).not.toMatch(/ via /);
  });
});

/** `src:port > dst:port` of an IPv4 TCP/UDP packet (as the engine left it). */
function toEndpoints(p: Buffer): string {
  const ip = (o: number): string => [...p.subarray(o, o + 4)].join('.');
  const ihl = (p[0]! & 0x0f) * 4;
  return `${ip(12)}:${p.readUInt16BE(ihl)} > ${ip(16)}:${p.readUInt16BE(ihl + 2)}`;
}

describe('SessionServices.renewDataChannel', () => {
  it('moves the expiry of an active channel to lifetimeMs from now, on the same mapping, without a new one', async () => {
    const r = rig();
    const ch = await r.services.createDataChannel(inbound(40100, { persistent: true, lifetimeMs: 60_000, notify: true }));
    const created = r.engine.counters.mappingsCreated;
    r.clock.now = T0 + 50_000;
    await r.services.renewDataChannel(ch.id, 60_000);
    expect(r.mapping(ch.id).expiresAt).toBe(T0 + 110_000);
    expect(r.engine.counters.mappingsCreated).toBe(created);
    // Past the first lifetime it still takes connections.
    r.engine.tick(T0 + 60_000);
    expect(r.mapping(ch.id).active).toBe(true);
    expect(r.synTo(ch.public.port)).toBe('translated');
    // The renewed lifetime is honoured: it ends at T0 + 110 s.
    r.engine.tick(T0 + 109_999);
    expect(r.mapping(ch.id).active).toBe(true);
    r.engine.tick(T0 + 110_000);
    expect(r.mapping(ch.id).endReason).toBe('expired');
    expect(r.events).toEqual([
      { kind: 'used', channel: ch.id, peer: endpoint(SERVER, 20) },
      { kind: 'ended', channel: ch.id, reason: 'expired' },
    ]);
  });

  it('may shorten a lifetime, and gives a persistent channel without one an end', async () => {
    const r = rig();
    const ch = await r.services.createDataChannel(inbound(40100, { persistent: true }));
    expect(r.mapping(ch.id).expiresAt).toBe(Infinity);
    r.clock.now = T0 + 1000;
    await r.services.renewDataChannel(ch.id, 5000);
    expect(r.mapping(ch.id).expiresAt).toBe(T0 + 6000);
    await r.services.renewDataChannel(ch.id, 86_400_000);
    expect(r.mapping(ch.id).expiresAt).toBe(T0 + 1000 + 86_400_000);
    await r.services.renewDataChannel(ch.id, 1);
    r.engine.tick(T0 + 1001);
    expect(r.engine.listMappings()).toEqual([]);
  });

  it("refuses another session's channel and an id the session never had, leaving the channel as it was", async () => {
    const r = rig();
    const ch = await r.services.createDataChannel(inbound(40100, { persistent: true, lifetimeMs: 60_000 }));
    const other = r.servicesFor({ ...FTP_SESSION, id: 'ftp-2', client: endpoint('198.51.100.3', 40000) }, 4, { events: [], changes: [] });
    expect(await refusal(other.renewDataChannel(ch.id, 3_600_000))).toBe(`renewDataChannel refused: no data channel ${ch.id} in session ftp-2`);
    expect(await refusal(r.services.renewDataChannel(99, 1000))).toBe('renewDataChannel refused: no data channel 99 in session ftp-1');
    expect(r.mapping(ch.id).expiresAt).toBe(T0 + 60_000);
  });

  it('refuses a channel that has ended: removed, expired, or used while its connection still runs', async () => {
    const r = rig();
    const removed = await r.services.createDataChannel(inbound(40100, { persistent: true }));
    await r.services.removeDataChannel(removed.id);
    expect(await refusal(r.services.renewDataChannel(removed.id, 1000))).toBe(`renewDataChannel refused: data channel ${removed.id} of session ftp-1 has ended`);
    const expiring = await r.services.createDataChannel(inbound(40101, { lifetimeMs: 1000 }));
    r.engine.tick(T0 + 1000);
    expect(await refusal(r.services.renewDataChannel(expiring.id, 1000))).toBe(`renewDataChannel refused: data channel ${expiring.id} of session ftp-1 has ended`);
    const used = await r.services.createDataChannel(inbound(40102));
    expect(r.synTo(used.public.port)).toBe('translated');
    // One-shot: used, its connection alive, so the session still holds it.
    expect(r.services.liveChannels).toBe(1);
    expect(await refusal(r.services.renewDataChannel(used.id, 1000))).toBe(`renewDataChannel refused: data channel ${used.id} of session ftp-1 has ended (used)`);
  });

  it('refuses lifetimes outside 1 ms..24 h, and any call once the session ended', async () => {
    const r = rig();
    const ch = await r.services.createDataChannel(inbound(40100, { persistent: true, lifetimeMs: 60_000 }));
    for (const bad of [0, -5, 86_400_001, Number.NaN, Infinity, '1000' as unknown as number, undefined as unknown as number]) {
      expect(await refusal(r.services.renewDataChannel(ch.id, bad))).toBe('renewDataChannel refused: lifetimeMs must be between 1 ms and 24 h');
    }
    expect(r.mapping(ch.id).expiresAt).toBe(T0 + 60_000);
    r.services.end();
    expect(await refusal(r.services.renewDataChannel(ch.id, 1000))).toBe('session ftp-1 has ended');
  });
});
