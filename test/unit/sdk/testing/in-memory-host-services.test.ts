import { definePlugin, endpoint, ipAddress, port, type DataChannelRequest, type PortReservationRequest } from '@algd/sdk';
import { InMemoryHostServices, PluginTestSession, type PluginTestSessionOptions } from '@algd/sdk/testing';

const CLIENT = endpoint('198.51.100.2', 40000);
const SERVER = endpoint('203.0.113.2', 21);
const BOUNDARY = endpoint('203.0.113.1', 61234);

function services(setup: PluginTestSessionOptions = {}): InMemoryHostServices {
  return new PluginTestSession(probe, setup).services;
}

/** A plugin that does what each client message (JSON) asks, for the end-to-end cases. */
const probe = definePlugin<undefined, Record<string, never>>({
  name: 'probe',
  version: '1.0.0',
  apiVersion: '^0.1.0',
  controlChannels: [{ protocol: 'tcp', ports: [port(21)] }],
  async onClientMessage(msg, ctx) {
    const ask = JSON.parse(msg.toString()) as { channel?: DataChannelRequest; reserve?: PortReservationRequest; remove?: number; renew?: [number, number] };
    if (ask.channel) {
      const ch = await ctx.createDataChannel(ask.channel);
      return `${ch.id} ${ch.public.address}:${ch.public.port}`;
    }
    if (ask.reserve) {
      const r = await ctx.reservePorts(ask.reserve);
      return `${r.id} ${r.ports.join(',')}`;
    }
    if (ask.remove !== undefined) await ctx.removeDataChannel(ask.remove);
    if (ask.renew !== undefined) await ctx.renewDataChannel(...ask.renew);
    return 'ok';
  },
});

const inbound = (port: number, extra: Partial<DataChannelRequest> = {}): DataChannelRequest => ({
  protocol: 'tcp',
  private: endpoint(CLIENT.address, port),
  direction: 'inbound',
  ...extra,
});

describe('InMemoryHostServices', () => {
  it('gives a channel without a public endpoint the lowest free port on the boundary address', async () => {
    const s = services({ publicPorts: { from: 61233, to: 61240 } });
    expect(await s.createDataChannel(inbound(5000))).toEqual({ id: 1, protocol: 'tcp', private: endpoint('198.51.100.2', 5000), public: endpoint('203.0.113.1', 61233), direction: 'inbound', persistent: false });
    // 61234 is the boundary endpoint itself
    expect((await s.createDataChannel(inbound(5001))).public.port).toBe(61235);
    await s.removeDataChannel(1);
    expect((await s.createDataChannel(inbound(5002, { persistent: true }))).public.port).toBe(61233);
    expect(s.dataChannels.map((c) => [c.id, c.open, c.endReason])).toEqual([[1, false, 'removed'], [2, true, undefined], [3, true, undefined]]);
  });

  it('refuses a private address that is not the client or the server (no bounce)', async () => {
    const s = services();
    await expect(s.createDataChannel(inbound(5000, { private: endpoint('198.51.100.7', 5000) }))).rejects.toThrow(
      "data channel refused: private address 198.51.100.7 is neither the session's client (198.51.100.2) nor its server (203.0.113.2); no bounce to third parties",
    );
    await expect(s.createDataChannel(inbound(5000, { private: endpoint(SERVER.address, 20) }))).resolves.toMatchObject({ id: 1 });
    expect(s.dataChannels).toHaveLength(1);
  });

  it('caps open channels per session; ended channels free their place', async () => {
    const s = services({ maxDataChannels: 2 });
    await s.createDataChannel(inbound(5000));
    await s.createDataChannel(inbound(5001));
    await expect(s.createDataChannel(inbound(5002))).rejects.toThrow('the session already has 2 open data channels (cap 2)');
    s.markEnded(1, 'expired');
    await expect(s.createDataChannel(inbound(5002))).resolves.toMatchObject({ id: 3 });
  });

  it('takes the boundary endpoint of the session protocol, or a reserved port, and nothing else', async () => {
    const s = services();
    expect((await s.createDataChannel(inbound(5000, { public: BOUNDARY }))).public).toEqual(BOUNDARY);
    await expect(s.createDataChannel(inbound(5001, { public: BOUNDARY }))).rejects.toThrow('public endpoint 203.0.113.1:61234 is already used by data channel 1');
    await expect(s.createDataChannel(inbound(5001, { protocol: 'udp', public: BOUNDARY }))).rejects.toThrow('is a tcp endpoint, not udp');
    await expect(s.createDataChannel(inbound(5001, { public: endpoint('203.0.113.1', 62000) }))).rejects.toThrow("is neither the session's boundary endpoint 203.0.113.1:61234 nor a tcp port this session reserved");
    const r = await s.reservePorts({ protocol: 'udp', parity: 'even-odd' });
    expect(r).toEqual({ id: 1, address: '203.0.113.1', ports: [61000, 61001] });
    await expect(s.createDataChannel(inbound(5001, { public: endpoint('203.0.113.1', 61000) }))).rejects.toThrow('nor a tcp port this session reserved');
    await expect(s.createDataChannel(inbound(5001, { protocol: 'udp', public: endpoint('198.51.100.1', 61000) }))).rejects.toThrow('nor a udp port');
    expect((await s.createDataChannel(inbound(5001, { protocol: 'udp', public: endpoint('203.0.113.1', 61000) }))).public.port).toBe(61000);
  });

  it('honours count, contiguous and even-odd, skipping held ports', async () => {
    const s = services({ publicPorts: { from: 61231, to: 61250 } });
    expect((await s.reservePorts({ protocol: 'udp' })).ports).toEqual([61231]);
    expect((await s.reservePorts({ protocol: 'udp', parity: 'even-odd' })).ports).toEqual([61232, 61233]);
    expect((await s.reservePorts({ protocol: 'udp', count: 3 })).ports).toEqual([61235, 61236, 61237]); // 61234 is the boundary port
    expect((await s.reservePorts({ protocol: 'tcp', count: 3, contiguous: true })).ports).toEqual([61238, 61239, 61240]);
    expect((await s.reservePorts({ protocol: 'udp', count: 4, parity: 'even-odd' })).ports).toEqual([61242, 61243, 61244, 61245]);
    await expect(s.reservePorts({ protocol: 'udp', count: 6, contiguous: true })).rejects.toThrow('no 6 contiguous free ports left in 61231-61250');
    await expect(s.reservePorts({ protocol: 'udp', count: 0 })).rejects.toThrow('cannot reserve 0 ports');
    await expect(s.reservePorts({ protocol: 'sctp' as 'udp' })).rejects.toThrow('protocol must be "tcp" or "udp"');
    expect(s.reservations.map((r) => r.request)).toEqual([
      { protocol: 'udp' },
      { protocol: 'udp', parity: 'even-odd' },
      { protocol: 'udp', count: 3 },
      { protocol: 'tcp', count: 3, contiguous: true },
      { protocol: 'udp', count: 4, parity: 'even-odd' },
    ]);
  });

  it('releases reservations, but a port an open channel uses stays held until the channel ends', async () => {
    const s = services({ publicPorts: { from: 61000, to: 61001 } });
    const r = await s.reservePorts({ protocol: 'udp', count: 2 });
    await s.createDataChannel(inbound(5000, { protocol: 'udp', public: endpoint('203.0.113.1', 61001) }));
    await s.releasePorts(r.id);
    await s.releasePorts(r.id); // twice: nothing happens
    expect(s.reservations[0]?.released).toBe(true);
    expect((await s.reservePorts({ protocol: 'udp' })).ports).toEqual([61000]);
    await expect(s.reservePorts({ protocol: 'udp' })).rejects.toThrow('no 1 free port left in 61000-61001');
    s.markEnded(1, 'expired');
    expect((await s.reservePorts({ protocol: 'udp' })).ports).toEqual([61001]);
    await expect(s.releasePorts(9)).rejects.toThrow('the session has no reservation 9');
    await expect(s.removeDataChannel(9)).rejects.toThrow('the session has no data channel 9');
  });

  it('renews an open channel of the session, recording each lifetime, and refuses the rest as the host does', async () => {
    const s = services();
    await s.createDataChannel(inbound(5000, { persistent: true, lifetimeMs: 60_000 }));
    await s.createDataChannel(inbound(5001));
    await s.renewDataChannel(1, 90_000);
    await s.renewDataChannel(1, 86_400_000);
    expect(s.dataChannels.map((c) => [c.id, c.open, c.request.lifetimeMs, c.renewals])).toEqual([
      [1, true, 60_000, [90_000, 86_400_000]],
      [2, true, undefined, undefined],
    ]);
    expect('renewals' in s.dataChannels[1]!).toBe(false);
    await expect(s.renewDataChannel(3, 1000)).rejects.toThrow('the session has no data channel 3');
    for (const bad of [0, -1, 86_400_001, Number.NaN, '1000' as unknown as number]) {
      await expect(s.renewDataChannel(1, bad)).rejects.toThrow(`renewDataChannel refused: lifetimeMs ${String(bad)} is not between 1 ms and 24 h`);
    }
    await s.removeDataChannel(2);
    await expect(s.renewDataChannel(2, 1000)).rejects.toThrow('renewDataChannel refused: data channel 2 has ended (removed); create a new one');
    s.markEnded(1, 'expired');
    await expect(s.renewDataChannel(1, 1000)).rejects.toThrow('data channel 1 has ended (expired)');
    expect(s.dataChannels[0]!.renewals).toEqual([90_000, 86_400_000]);
    s.endSession();
    await expect(s.renewDataChannel(1, 1000)).rejects.toThrow('session probe-1 has ended');
  });

  it('records a removal that closed the connections (API 0.4.0), also of a channel that had ended, and refuses other options', async () => {
    const s = services();
    await s.createDataChannel(inbound(5000, { protocol: 'udp', persistent: true }));
    await s.createDataChannel(inbound(5001, { protocol: 'udp', persistent: true }));
    await s.createDataChannel(inbound(5002, { protocol: 'udp', persistent: true }));
    await s.removeDataChannel(1, { closeConnections: true });
    await s.removeDataChannel(2, { closeConnections: false });
    s.markEnded(3, 'expired');
    await s.removeDataChannel(3, { closeConnections: true });
    expect(s.dataChannels.map((c) => [c.id, c.open, c.endReason, c.connectionsClosed])).toEqual([
      [1, false, 'removed', true],
      [2, false, 'removed', undefined],
      [3, false, 'expired', true],
    ]);
    // Absent unless closed, so a channel compares as it did before 0.4.0.
    expect('connectionsClosed' in s.dataChannels[1]!).toBe(false);
    await expect(s.removeDataChannel(1, { closeConnections: 'yes' } as never)).rejects.toThrow('removeDataChannel: closeConnections must be true or false');
    await expect(s.removeDataChannel(1, 'close' as never)).rejects.toThrow('removeDataChannel: options must be { closeConnections? }');
    await expect(s.removeDataChannel(9, { closeConnections: true })).rejects.toThrow('the session has no data channel 9');
  });

  it('a plugin renewing a channel of another session (an id it never got) sees its send rejected', async () => {
    const t = new PluginTestSession(probe);
    await t.clientSends(JSON.stringify({ channel: inbound(5000, { persistent: true }) }));
    await t.clientSends(JSON.stringify({ renew: [1, 5000] }));
    await expect(t.clientSends(JSON.stringify({ renew: [2, 5000] }))).rejects.toThrow('the session has no data channel 2');
    expect(t.server.text).toBe('1 203.0.113.1:61000ok');
    expect(t.dataChannels[0]).toMatchObject({ open: true, renewals: [5000] });
  });

  it('refuses malformed requests', async () => {
    const s = services();
    const cases: Array<[Partial<DataChannelRequest> | Record<string, unknown>, string]> = [
      [{ protocol: 'icmp' }, 'protocol must be "tcp" or "udp"'],
      [{ direction: 'sideways' }, 'direction must be'],
      [{ private: { address: '198.51.100.2', port: 0 } }, 'private.port 0 is not a port 1-65535'],
      [{ private: { address: '2001:0db8::1', port: 1 } }, 'private.address "2001:0db8::1" is not an IP address in canonical form'],
      [{ remote: { address: 'example.net' } }, 'remote.address "example.net"'],
      [{ remote: { address: '203.0.113.2', port: 70000 } }, 'remote.port 70000'],
      [{ lifetimeMs: -1 }, 'lifetimeMs -1 is not between 1 ms and 24 h'],
      [{ lifetimeMs: 86_400_001 }, 'lifetimeMs 86400001 is not between 1 ms and 24 h'],
      [{ notify: 'yes' }, 'data channel refused: notify must be true, false or { used?, ended? }'],
      [{ notify: { ended: ['gone'] } }, 'data channel refused: notify.ended: "gone" is not one of used, expired, removed'],
      [{ notify: { used: 1 } }, 'data channel refused: notify.used must be true or false'],
      [{ remote: { address: '2001:db8::2' } }, 'cannot translate between IPv4 and IPv6'],
    ];
    for (const [extra, message] of cases) {
      await expect(s.createDataChannel({ ...inbound(5000), ...extra } as DataChannelRequest)).rejects.toThrow(message);
    }
    await expect(s.createDataChannel({ ...inbound(5000), x: () => 1 } as DataChannelRequest)).rejects.toThrow(/could not be cloned/);
    expect(s.dataChannels).toEqual([]);
  });

  it('answers bestSourceAddress with the adapter closest to the destination, the boundary on a tie', async () => {
    const s = services();
    expect(await s.bestSourceAddress(ipAddress('198.51.100.77'))).toBe('198.51.100.1');
    expect(await s.bestSourceAddress(ipAddress('203.0.113.2'))).toBe('203.0.113.1');
    expect(await s.bestSourceAddress(ipAddress('8.8.8.8'))).toBe('203.0.113.1');
    await expect(s.bestSourceAddress(ipAddress('2001:db8::1'))).rejects.toThrow('the gateway has no IPv6 address');
  });

  it('ends every channel and reservation with the session and refuses later calls', async () => {
    const t = new PluginTestSession(probe);
    await t.clientSends(JSON.stringify({ channel: inbound(5000) }));
    await t.clientSends(JSON.stringify({ reserve: { protocol: 'udp' } }));
    expect(t.server.messages.map(String)).toEqual(['1 203.0.113.1:61000', '1 61001']);
    await t.end();
    expect(t.closed).toBe(true);
    expect(t.dataChannels.map((c) => [c.open, c.endReason])).toEqual([[false, 'session-ended']]);
    expect(t.reservations.map((r) => r.released)).toEqual([true]);
    await expect(t.services.createDataChannel(inbound(5000))).rejects.toThrow('session probe-1 has ended');
  });

  it('turns a refused request into a rejected send, as a throwing handler', async () => {
    const t = new PluginTestSession(probe, { maxDataChannels: 1 });
    await t.clientSends(JSON.stringify({ channel: inbound(5000) }));
    await expect(t.clientSends(JSON.stringify({ channel: inbound(5001) }))).rejects.toThrow('cap 1');
    await expect(t.clientSends(JSON.stringify({ channel: inbound(5001, { private: endpoint('192.0.2.1', 80) }) }))).rejects.toThrow('no bounce to third parties');
    expect(t.dataChannels).toHaveLength(1);
    expect(t.dataChannels[0]).toEqual({
      id: 1, protocol: 'tcp', private: endpoint('198.51.100.2', 5000),
      public: endpoint('203.0.113.1', 61000), direction: 'inbound', persistent: false,
      request: { protocol: 'tcp', private: endpoint('198.51.100.2', 5000), direction: 'inbound' }, open: true,
    });
  });
});
