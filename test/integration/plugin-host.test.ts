/**
 * The plugin host end to end in one process, without root: discovery, the
 * loopback listener and datagram relay fed by the engine's redirects, worker
 * pools, data channels owned by sessions, failure policies and the circuit
 * breaker. Peers run on 127.0.0.1 (client) and 127.0.0.2 (server).
 */

import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeClientPort as clientPort, PluginHostRig, SERVER_ADDRESS } from '../support/plugin-host-rig';
import { until } from '../support/wait';

jest.setTimeout(90_000);

const LISTENERS = { from: 4600, to: 4649 };

describe('plugin host', () => {
  let rig: PluginHostRig;

  afterEach(async () => {
    await rig?.stop();
  });

  it('discovers plugin packages, refuses bad ones with the reason, and ignores other packages', async () => {
    rig = new PluginHostRig({ listenerPorts: LISTENERS, plugins: {} });
    await rig.start();
    const s = rig.host.status();
    const byName = Object.fromEntries(s.plugins.map((p) => [p.name, p]));
    expect(byName['lines-rewriter']).toMatchObject({ state: 'enabled', builtin: false, package: 'algd-plugin-lines-rewriter', version: '1.0.0' });
    expect(byName['datagram-tagger']).toMatchObject({ state: 'enabled', package: '@example/datagram-tagger' });
    expect(byName['ftp']).toMatchObject({ state: 'disabled', builtin: true, captures: [] });
    // A package whose module throws while loading is listed as failed, with the reason; the rest run.
    expect(byName['load-fails']).toMatchObject({ state: 'failed', captures: [] });
    expect(byName['load-fails']!.error).toContain('missing native dependency on purpose');
    const reasons = s.refused.map((r) => r.reason).sort();
    expect(reasons).toEqual([
      'algd-plugin-no-manifest: package.json has the "algd-plugin" keyword but no "algd" manifest ({ "entry", "apiVersion" })',
      'algd-plugin-wrong-api: needs plugin API ^2.0.0; this host implements 0.1.0, 0.2.0, 0.3.0, 0.4.0',
    ]);
    expect(s.plugins.map((p) => p.name)).not.toContain('some-library');
  });

  it('streams a TCP session through the plugin: framing, rewriting, own replies, data channels owned by the session', async () => {
    rig = new PluginHostRig({ listenerPorts: LISTENERS, plugins: { 'lines-rewriter': { ports: { tcp: [2101] }, options: { prefix: '>' } } } });
    await rig.start();
    const server = await rig.tcpServer(2101, (sock, d) => {
      if (d.toString().includes('HELLO')) sock.write('220 hi\r\n');
    });
    const client = await rig.connectThrough(2101, rig.listenerPort('lines-rewriter', 'tcp', 2101), await clientPort());

    client.sock.write('hello\r\nwor');
    await sleep(50);
    client.sock.write('ld\r\nDENY this\r\n');
    await until('client.received().includes(\'502\')', () => client.received().includes('502'), 20_000);
    await until('server.received().includes(\'WORLD\')', () => server.received().includes('WORLD'), 20_000);
    expect(server.received()).toBe('>HELLO\r\n>WORLD\r\n');
    await until('client.received().includes(\'220\')', () => client.received().includes('220'), 20_000);
    expect(client.received()).toBe('[1] 220 hi\r\n502 denied by gateway\r\n');

    client.sock.write('MAP 5000\r\nBOUNCE\r\n');
    await until('server.received().includes(\'BOUNCE\')', () => server.received().includes('BOUNCE'), 20_000);
    const mapped = /MAPPED 127\.0\.0\.1 (\d+) (\d+)\r\n/.exec(server.received());
    expect(mapped).not.toBeNull();
    const publicPort = Number(mapped![1]);
    expect(publicPort).toBeGreaterThanOrEqual(61000);
    expect(publicPort).toBeLessThanOrEqual(64999);
    expect(server.received()).toContain('BOUNCE REFUSED not-a-peer\r\n');

    const [session] = rig.host.status().sessions;
    expect(session).toMatchObject({ plugin: 'lines-rewriter', protocol: 'tcp', server: `${SERVER_ADDRESS}:2101` });
    const mappings = rig.engine.listMappings();
    expect(mappings.map((m) => [m.owner, m.describe()])).toEqual([[session!.id, `tcp 127.0.0.1:5000 <-> 127.0.0.1:${publicPort} inbound remote ${SERVER_ADDRESS}`]]);
    expect(rig.host.status().publicPortsHeld).toBe(1);
    const lr = rig.host.status().plugins.find((p) => p.name === 'lines-rewriter')!;
    expect(lr.counters).toMatchObject({ denied: 1 });

    client.sock.end();
    await until('rig.host.status().sessions.length === 0', () => rig.host.status().sessions.length === 0, 20_000);
    expect(rig.engine.listMappings()).toEqual([]);
    expect(rig.host.status().publicPortsHeld).toBe(0);
    expect(rig.host.status().sessionsEnded).toMatchObject({ closed: 1 });
  });

  it('closes a session whose client breaks the line bound, and counts it', async () => {
    rig = new PluginHostRig({ listenerPorts: LISTENERS, plugins: { 'lines-rewriter': { ports: { tcp: [2102] } } } });
    await rig.start();
    const server = await rig.tcpServer(2102);
    const client = await rig.connectThrough(2102, rig.listenerPort('lines-rewriter', 'tcp', 2102), await clientPort());
    client.sock.write(`ok\r\n${'A'.repeat(65)}`);
    await once(client.sock, 'close');
    expect(server.received()).toBe('OK\r\n');
    const lr = rig.host.status().plugins.find((p) => p.name === 'lines-rewriter')!;
    expect(lr.counters).toMatchObject({ 'framing-line-too-long': 1 });
    expect(rig.host.status().sessionsEnded).toMatchObject({ framing: 1 });
  });

  it('refuses a connection to the listener that the engine did not redirect', async () => {
    rig = new PluginHostRig({ listenerPorts: LISTENERS, plugins: { 'lines-rewriter': { ports: { tcp: [2103] } } } });
    await rig.start();
    const sock = connect({ host: '127.0.0.1', port: rig.listenerPort('lines-rewriter', 'tcp', 2103) });
    sock.on('error', () => undefined);
    await once(sock, 'close');
    expect(rig.host.status().plugins.find((p) => p.name === 'lines-rewriter')!.counters).toMatchObject({ 'no-original-destination': 1 });
    expect(rig.host.status().sessions).toEqual([]);
  });

  it('relays UDP sessions through the plugin, from an upstream port the plugin can map', async () => {
    rig = new PluginHostRig({ listenerPorts: LISTENERS, plugins: { 'datagram-tagger': { ports: { udp: [6901] } } } });
    await rig.start();
    const server = createSocket('udp4');
    const got: { text: string; port: number }[] = [];
    server.on('message', (m, r) => {
      got.push({ text: m.toString(), port: r.port });
      if (m.toString() === 'c1:a') server.send('b', r.port, r.address);
    });
    server.bind(6901, SERVER_ADDRESS);
    await once(server, 'listening');
    try {
      const client = await rig.udpClient(6901, rig.listenerPort('datagram-tagger', 'udp', 6901), await clientPort());
      client.send('a');
      await until('client.received.length === 1', () => client.received.length === 1, 20_000);
      expect(got[0]!.text).toBe('c1:a');
      expect(client.received).toEqual(['s2:b']);
      const upstreamPort = got[0]!.port;
      expect(upstreamPort).toBeGreaterThanOrEqual(61000);

      client.send('MAPBOUNDARY');
      await until('got.length === 2', () => got.length === 2, 20_000);
      expect(got[1]).toEqual({ text: `MAPPED ${upstreamPort}`, port: upstreamPort });
      const [session] = rig.host.status().sessions;
      expect(session).toMatchObject({ protocol: 'udp', boundary: `127.0.0.1:${upstreamPort}` });
      expect(rig.engine.listMappings().map((m) => m.describe())).toEqual([`udp 127.0.0.1:${client.sock.address().port} <-> 127.0.0.1:${upstreamPort} inbound remote ${SERVER_ADDRESS}`]);
    } finally {
      server.close();
    }
  });

  it('closes idle sessions but keeps one whose data channel lives', async () => {
    rig = new PluginHostRig({ listenerPorts: LISTENERS, plugins: { 'lines-rewriter': { ports: { tcp: [2104] } } }, sessions: { tcpIdleTimeoutMs: 1_000 } });
    await rig.start();
    await rig.tcpServer(2104);
    const listener = rig.listenerPort('lines-rewriter', 'tcp', 2104);
    const idle = await rig.connectThrough(2104, listener, await clientPort());
    const busy = await rig.connectThrough(2104, listener, await clientPort());
    busy.sock.write('MAP 7000\r\n');
    await until('rig.engine.listMappings().length === 1', () => rig.engine.listMappings().length === 1, 20_000);
    await sleep(1_100);
    rig.host.tick();
    await once(idle.sock, 'close');
    expect(rig.host.status().sessions.map((s) => s.client)).toEqual([`127.0.0.1:${busy.sock.localPort}`]);
  });
});

describe('plugin faults', () => {
  let rig: PluginHostRig;

  afterEach(async () => {
    await rig?.stop();
  });

  const faulty = (extra: Record<string, unknown> = {}) => ({
    faulty: { ports: { tcp: [2201] }, taskTimeoutMs: 300, maxMemoryMb: 16, maxThreads: 2, breaker: { threshold: 100, windowMs: 60_000, cooldownMs: 1_000 }, ...extra },
  });

  async function echoServer() {
    return rig.tcpServer(2201, (sock, d) => sock.write(d));
  }

  it.each([
    ['THROW', 'threw'],
    ['SPIN', 'timeout'],
    ['HOG', 'out-of-memory'],
    ['EXIT', 'worker-exited'],
  ])('a plugin task that does %s closes only its own session; others keep working and nothing leaks', async (command, kind) => {
    rig = new PluginHostRig({ listenerPorts: LISTENERS, plugins: faulty() });
    await rig.start();
    await echoServer();
    const listener = rig.listenerPort('faulty', 'tcp', 2201);
    const healthy = await rig.connectThrough(2201, listener, await clientPort());
    healthy.sock.write('MAP 6000\r\n');
    await until('healthy.received().includes(\'mapped\')', () => healthy.received().includes('mapped'), 20_000);

    const victim = await rig.connectThrough(2201, listener, await clientPort());
    victim.sock.write(`${command}\r\n`);
    await once(victim.sock, 'close');

    healthy.sock.write('still there\r\n');
    await until('healthy.received().includes(\'ok still there\')', () => healthy.received().includes('ok still there'), 20_000);
    const status = rig.host.status().plugins.find((p) => p.name === 'faulty')!;
    expect(status.failures[kind]).toBe(1);
    if (kind !== 'threw') expect(status.workerRestarts).toBeGreaterThanOrEqual(1);
    expect(rig.host.status().sessionsEnded).toMatchObject({ 'plugin-failed': 1 });
    expect(rig.logs.lines.some((l) => l.level === 'error' && l.message.startsWith('plugin task failed'))).toBe(true);
    expect(rig.engine.listMappings()).toHaveLength(1);

    healthy.sock.end();
    await until('rig.host.status().sessions.length === 0', () => rig.host.status().sessions.length === 0, 20_000);
    expect(rig.engine.listMappings()).toEqual([]);
    expect(rig.host.status().publicPortsHeld).toBe(0);
  });

  it('under the passthrough policy a failed session carries bytes unchanged from then on', async () => {
    rig = new PluginHostRig({ listenerPorts: LISTENERS, plugins: faulty({ onFailure: 'passthrough' }) });
    await rig.start();
    const server = await rig.tcpServer(2201);
    const client = await rig.connectThrough(2201, rig.listenerPort('faulty', 'tcp', 2201), await clientPort());
    client.sock.write('THROW\r\n');
    await until('server.received().length > 0', () => server.received().length > 0, 20_000);
    client.sock.write('after\r\n');
    await until('server.received().includes(\'after\')', () => server.received().includes('after'), 20_000);
    expect(server.received()).toBe('THROW\r\nafter\r\n');
    expect(rig.host.status().sessions[0]).toMatchObject({ passthrough: true });
  });

  it('the circuit breaker disables a plugin that keeps failing, re-enables it after the cooldown, and an administrator can re-enable it at once', async () => {
    rig = new PluginHostRig({ listenerPorts: LISTENERS, plugins: faulty({ breaker: { threshold: 3, windowMs: 60_000, cooldownMs: 1_000 } }) });
    await rig.start();
    await echoServer();
    const listener = rig.listenerPort('faulty', 'tcp', 2201);
    const redirects = () => rig.engine.listRedirects().filter((r) => r.owner === 'faulty').length;
    expect(redirects()).toBe(1);
    for (let i = 0; i < 3; i++) {
      const c = await rig.connectThrough(2201, listener, await clientPort());
      c.sock.write('THROW\r\n');
      await once(c.sock, 'close');
    }
    let s = rig.host.status().plugins.find((p) => p.name === 'faulty')!;
    expect(s).toMatchObject({ state: 'tripped', breaker: { state: 'open', trips: 1 } });
    expect(redirects()).toBe(0);
    expect(rig.logs.lines.some((l) => l.message.includes('disabled by its circuit breaker'))).toBe(true);

    await sleep(1_100);
    rig.host.tick();
    s = rig.host.status().plugins.find((p) => p.name === 'faulty')!;
    expect(s.state).toBe('enabled');
    expect(redirects()).toBe(1);

    // Half-open: one more failure trips it again at once.
    const c = await rig.connectThrough(2201, listener, await clientPort());
    c.sock.write('THROW\r\n');
    await once(c.sock, 'close');
    expect(rig.host.status().plugins.find((p) => p.name === 'faulty')).toMatchObject({ state: 'tripped', breaker: { trips: 2 } });

    await rig.host.enable('faulty');
    expect(rig.host.status().plugins.find((p) => p.name === 'faulty')).toMatchObject({ state: 'enabled', breaker: { state: 'closed' } });
    expect(redirects()).toBe(1);
    const ok = await rig.connectThrough(2201, listener, await clientPort());
    ok.sock.write('fine\r\n');
    await until('ok.received().includes(\'ok fine\')', () => ok.received().includes('ok fine'), 20_000);
  });
});
