/**
 * Live reload of the configuration file in one process, without root: the
 * service built by the composition root (memory path, real listeners,
 * relays and worker pools), two plugins with live sessions, and reloads
 * that re-port, disable, re-enable and re-option one of them while the
 * other's session carries on. Peers run on 127.0.0.1 (client) and
 * 127.0.0.2 (server), as in plugin-host.test.ts.
 */

import 'reflect-metadata';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipAddress } from '@algd/sdk';
import { instanceCachingFactory } from 'tsyringe';
import winston from 'winston';
import { loadConfig } from '../../host/config/load-config';
import type { CaptureSpec } from '../../host/nat-engine/drivers/capture-spec';
import { MemoryDriver } from '../../host/nat-engine/drivers/memory-driver';
import { PluginHost } from '../../host/plugin-api/plugin-host';
import { AlgdService } from '../../host/service/algd-service';
import { createServiceContainer } from '../../host/service/composition-root';
import { fileConfigSource } from '../../host/service/config-source';
import { TOKENS } from '../../host/service/service-tokens';
import { buildPacket, TCP_FLAGS } from '../support/packets';
import { FIXTURE_PLUGINS, freeClientPort, LogCollector, SERVER_ADDRESS } from '../support/plugin-host-rig';
import { until } from '../support/wait';

jest.setTimeout(90_000);

/** The memory driver, able to change its capture while running, recording each capture it was given. */
class LiveMemoryDriver extends MemoryDriver {
  readonly captures: CaptureSpec[] = [];
  override async open(spec: CaptureSpec, processor: Parameters<MemoryDriver['open']>[1]): Promise<void> {
    this.captures.push(spec);
    await super.open(spec, processor);
  }
  async updateCapture(spec: CaptureSpec): Promise<void> {
    this.captures.push(spec);
    this.spec = spec;
  }
}

const capturedPorts = (spec: CaptureSpec | undefined): string[] => (spec?.controlPorts ?? []).map((c) => `${c.protocol}/${c.port}`).sort();

describe('live configuration reload', () => {
  let dir: string;
  let file: string;
  let service: AlgdService;
  let driver: LiveMemoryDriver;
  const logs = new LogCollector();
  const closers: (() => unknown)[] = [];

  /** Two test plugins: lines-rewriter (TCP) and datagram-tagger (UDP); the other plugins off. */
  const writeConfig = (plugins: Record<string, unknown>, extra: Record<string, unknown> = {}): void => {
    writeFileSync(
      file,
      JSON.stringify({
        driver: 'memory',
        adapters: [
          { name: 'priv0', type: 'private', addresses: ['127.0.0.1'] },
          { name: 'pub0', type: 'boundary', addresses: ['127.0.0.1'] },
        ],
        adminSocket: join(dir, 'algd.sock'),
        listenerPorts: { from: 4700, to: 4749 },
        pluginsDir: FIXTURE_PLUGINS,
        plugins: {
          ftp: { enabled: false }, sip: { enabled: false }, rtsp: { enabled: false },
          faulty: { enabled: false }, 'load-fails': { enabled: false }, 'bench-echo': { enabled: false },
          ...plugins,
        },
        ...extra,
      }),
    );
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'algd-reload-'));
    file = join(dir, 'algd.json');
    writeConfig({ 'lines-rewriter': { ports: { tcp: [2201] }, options: { prefix: '>' } }, 'datagram-tagger': { ports: { udp: [6911] } } });
    driver = new LiveMemoryDriver();
    const container = createServiceContainer({ config: loadConfig(file), configSource: fileConfigSource(file), driver, logger: winston.createLogger({ level: 'debug', transports: [logs] }) });
    // Loopback peers: the source address towards the server is 127.0.0.1 whatever the routing table says.
    container.register(TOKENS.pluginHost, {
      useFactory: instanceCachingFactory((r) => {
        const adapters = r.resolve(TOKENS.adapters);
        return new PluginHost({ config: r.resolve(TOKENS.config), engine: r.resolve(TOKENS.engine), hub: r.resolve(TOKENS.hub), adapters: () => adapters, log: r.resolve(TOKENS.logger), sourceLookup: async () => ipAddress('127.0.0.1') });
      }),
    });
    service = container.resolve(AlgdService);
    await service.start();
  });

  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) c();
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const listener = (plugin: string, protocol: 'tcp' | 'udp', port: number): number => {
    const c = service.status().plugins.find((p) => p.name === plugin)?.captures.find((x) => x.protocol === protocol && x.port === port);
    if (!c) throw new Error(`${plugin} does not capture ${protocol}/${port}`);
    return c.listener;
  };
  const sessionsOf = (plugin: string): string[] => service.status().sessions.filter((s) => s.plugin === plugin).map((s) => s.id);
  const pluginState = (plugin: string) => service.status().plugins.find((p) => p.name === plugin)!;

  async function tcpServer(port: number): Promise<{ received: () => string }> {
    const chunks: Buffer[] = [];
    const sockets: Socket[] = [];
    const server: Server = createServer((sock) => {
      sockets.push(sock);
      sock.on('error', () => undefined);
      sock.on('data', (d) => {
        chunks.push(d);
        sock.write(`ok ${d.toString('latin1').trim()}\r\n`);
      });
    });
    server.listen(port, SERVER_ADDRESS);
    await once(server, 'listening');
    closers.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    return { received: () => Buffer.concat(chunks).toString('latin1') };
  }

  /** The engine sees the client's SYN to the server (redirected), then the client connects from that port to the listener. */
  async function tcpClient(serverPort: number, listenerPort: number): Promise<{ sock: Socket; received: () => string; closed: () => boolean }> {
    const clientPort = await freeClientPort();
    const syn = buildPacket({ family: 4, src: '127.0.0.1', dst: SERVER_ADDRESS }, { kind: 'tcp', srcPort: clientPort, dstPort: serverPort, flags: TCP_FLAGS.SYN, seq: 1 });
    expect(driver.inject(syn, { origin: 'private', stage: 'single' })).toBeDefined();
    const sock = connect({ host: '127.0.0.1', port: listenerPort, localAddress: '127.0.0.1', localPort: clientPort });
    const chunks: Buffer[] = [];
    let closed = false;
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => undefined);
    sock.on('close', () => (closed = true));
    await once(sock, 'connect');
    closers.push(() => sock.destroy());
    return { sock, received: () => Buffer.concat(chunks).toString('latin1'), closed: () => closed };
  }

  async function udpServer(port: number): Promise<{ got: string[] }> {
    const got: string[] = [];
    const server = createSocket('udp4');
    server.on('message', (m, r) => {
      got.push(m.toString());
      server.send(`re ${m.toString()}`, r.port, r.address);
    });
    server.bind(port, SERVER_ADDRESS);
    await once(server, 'listening');
    closers.push(() => server.close());
    return { got };
  }

  async function udpClient(serverPort: number, relayPort: number): Promise<{ sock: UdpSocket; send: (t: string) => void; received: string[] }> {
    const clientPort = await freeClientPort();
    const first = buildPacket({ family: 4, src: '127.0.0.1', dst: SERVER_ADDRESS }, { kind: 'udp', srcPort: clientPort, dstPort: serverPort, payload: Buffer.from('x') });
    expect(driver.inject(first, { origin: 'private', stage: 'single' })).toBeDefined();
    const sock = createSocket('udp4');
    const received: string[] = [];
    sock.on('message', (m) => received.push(m.toString()));
    sock.bind(clientPort, '127.0.0.1');
    await once(sock, 'listening');
    closers.push(() => sock.close());
    return { sock, send: (t) => sock.send(t, relayPort, '127.0.0.1'), received };
  }

  it('re-ports, disables, re-enables and re-options one plugin while the other plugin\'s session carries on', async () => {
    expect(capturedPorts(driver.spec)).toEqual(['tcp/2201', 'udp/6911']);
    const tcpSrv = await tcpServer(2201);
    const udpSrv6911 = await udpServer(6911);
    const udpSrv6912 = await udpServer(6912);

    const tcp = await tcpClient(2201, listener('lines-rewriter', 'tcp', 2201));
    tcp.sock.write('one\r\n');
    await until('the server got ONE', () => tcpSrv.received() === '>ONE\r\n');
    await until('the client got the reply', () => tcp.received() === '[1] ok >ONE\r\n');
    const tcpSession = sessionsOf('lines-rewriter');
    expect(tcpSession).toHaveLength(1);

    const udp = await udpClient(6911, listener('datagram-tagger', 'udp', 6911));
    udp.send('a');
    await until('the UDP reply', () => udp.received.length === 1);
    expect(udpSrv6911.got).toEqual(['c1:a']);
    expect(udp.received).toEqual(['s2:re c1:a']);
    const udpSession = sessionsOf('datagram-tagger');
    expect(udpSession).toHaveLength(1);

    // 1. Re-port datagram-tagger from 6911 to 6912: its listener moves, the driver's capture follows, lines-rewriter's session is untouched.
    writeConfig({ 'lines-rewriter': { ports: { tcp: [2201] }, options: { prefix: '>' } }, 'datagram-tagger': { ports: { udp: [6912] } } });
    expect(await service.reload()).toEqual({ source: file, rejected: false, changes: ['plugins.datagram-tagger: ports'], needsRestart: [], errors: [] });
    expect(pluginState('datagram-tagger').captures.map((c) => `${c.protocol}/${c.port}`)).toEqual(['udp/6912']);
    expect(capturedPorts(driver.spec)).toEqual(['tcp/2201', 'udp/6912']);
    // The UDP session on the port no longer captured ended with its relay.
    await until('the old UDP session ended', () => sessionsOf('datagram-tagger').length === 0);
    expect(sessionsOf('lines-rewriter')).toEqual(tcpSession);
    tcp.sock.write('two\r\n');
    await until('the server got TWO', () => tcpSrv.received() === '>ONE\r\n>TWO\r\n');
    await until('the client got the second reply', () => tcp.received().endsWith('[2] ok >TWO\r\n'));

    const udp2 = await udpClient(6912, listener('datagram-tagger', 'udp', 6912));
    udp2.send('b');
    await until('the UDP reply on the new port', () => udp2.received.length === 1);
    expect(udpSrv6912.got).toEqual(['c1:b']);
    expect(udp2.received).toEqual(['s2:re c1:b']);
    const udpSession2 = sessionsOf('datagram-tagger');
    expect(udpSession2).toHaveLength(1);

    // 2. Disable lines-rewriter: its session closes, datagram-tagger's session goes on with its state.
    writeConfig({ 'lines-rewriter': { enabled: false, ports: { tcp: [2201] }, options: { prefix: '>' } }, 'datagram-tagger': { ports: { udp: [6912] } } });
    expect(await service.reload()).toMatchObject({ rejected: false, changes: ['plugins.lines-rewriter: disable'], needsRestart: [], errors: [] });
    await until('the TCP client was closed', () => tcp.closed());
    expect(pluginState('lines-rewriter')).toMatchObject({ state: 'disabled', captures: [] });
    expect(capturedPorts(driver.spec)).toEqual(['udp/6912']);
    expect(sessionsOf('datagram-tagger')).toEqual(udpSession2);
    udp2.send('c');
    await until('the UDP reply after the disable', () => udp2.received.length === 2);
    expect(udp2.received[1]).toBe('s4:re c3:c');

    // 3. Re-enable it with another prefix: a new session gets the new options.
    writeConfig({ 'lines-rewriter': { ports: { tcp: [2201] }, options: { prefix: '#' } }, 'datagram-tagger': { ports: { udp: [6912] } } });
    expect(await service.reload()).toMatchObject({ rejected: false, changes: ['plugins.lines-rewriter: enable, pool'], errors: [] });
    expect(pluginState('lines-rewriter').state).toBe('enabled');
    expect(capturedPorts(driver.spec)).toEqual(['tcp/2201', 'udp/6912']);
    const tcp2 = await tcpClient(2201, listener('lines-rewriter', 'tcp', 2201));
    tcp2.sock.write('three\r\n');
    await until('the server got #THREE', () => tcpSrv.received().endsWith('#THREE\r\n'));
    await until('the reply to THREE', () => tcp2.received() === '[1] ok #THREE\r\n');

    // 4. New options while that session lives: a new pool takes over, the session keeps its state (the line count) and gets the new prefix.
    writeConfig({ 'lines-rewriter': { ports: { tcp: [2201] }, options: { prefix: '=' } }, 'datagram-tagger': { ports: { udp: [6912] } } });
    const tcp2Session = sessionsOf('lines-rewriter');
    expect(await service.reload()).toMatchObject({ rejected: false, changes: ['plugins.lines-rewriter: pool'], errors: [] });
    tcp2.sock.write('four\r\n');
    await until('the server got =FOUR', () => tcpSrv.received().endsWith('=FOUR\r\n'));
    await until('the reply to FOUR', () => tcp2.received().endsWith('[2] ok =FOUR\r\n'));
    expect(sessionsOf('lines-rewriter')).toEqual(tcp2Session);
    expect(sessionsOf('datagram-tagger')).toEqual(udpSession2);
    expect(service.status().config).toMatchObject({ source: file, reloads: 4, needsRestart: [] });
  });

  it('rejects an invalid file with its errors and keeps running as before; keys that cannot change live are reported and keep their values', async () => {
    const before = service.status();
    writeFileSync(file, JSON.stringify({ driver: 'memory', adapters: [], adminSocket: join(dir, 'algd.sock'), plugins: { 'lines-rewriter': { ports: { tcp: [0] } } } }));
    expect(await service.reload()).toEqual({
      source: file,
      rejected: true,
      changes: [],
      needsRestart: [],
      errors: ['adapters: Too small: expected array to have >=1 items', 'plugins.lines-rewriter.ports.tcp[0]: Too small: expected number to be >=1', 'adapters: at least one adapter of type "private" is required', 'adapters: at least one adapter of type "boundary" or "firewalled" is required'],
    });
    expect(service.status().plugins).toEqual(before.plugins);
    expect(service.status().config.reloads).toBe(0);
    expect(logs.lines.some((l) => l.level === 'error' && l.message.startsWith('reload rejected, the running configuration stays: adapters: Too small'))).toBe(true);

    writeConfig(
      { 'lines-rewriter': { ports: { tcp: [2201] }, options: { prefix: '>' } }, 'datagram-tagger': { ports: { udp: [6911] } } },
      { listenerPorts: { from: 4750, to: 4799 }, mappingPorts: { from: 50000, to: 50999 }, adminSocket: join(dir, 'other.sock'), logging: { level: 'debug' } },
    );
    const report = await service.reload();
    expect(report).toEqual({ source: file, rejected: false, changes: ['logging.level: debug'], needsRestart: ['listenerPorts', 'mappingPorts', 'adminSocket'], errors: [] });
    const after = service.status();
    expect(after.listenerPorts).toEqual({ from: 4700, to: 4749 });
    expect(after.mappingPorts).toEqual({ from: 61000, to: 64999 });
    expect(after.config.needsRestart).toEqual(['listenerPorts', 'mappingPorts', 'adminSocket']);
    expect(after.plugins.find((p) => p.name === 'lines-rewriter')!.captures).toEqual(before.plugins.find((p) => p.name === 'lines-rewriter')!.captures);
    expect(logs.lines.some((l) => l.level === 'warn' && l.message === 'reload: listenerPorts: changed, takes effect at the next start')).toBe(true);
  });
});
