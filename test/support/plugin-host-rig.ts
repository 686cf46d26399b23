/**
 * A plugin host in this process without root: a NatEngine with the memory
 * path, the host's real listeners, relays and worker pools, and peers on
 * loopback. A "client" first hands the engine the SYN (or datagram) a
 * private client would have sent to the server, so the engine's redirect
 * records the original destination, then really connects from that source
 * port to the listener, exactly as the redirected connection would arrive.
 */

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { ipAddress, type AdapterInfo } from '@algd/sdk';
import winston from 'winston';
import { parseConfig } from '../../host/config/load-config';
import type { AlgdConfigInput } from '../../host/config/config-schema';
import { NatEngine } from '../../host/nat-engine/nat-engine';
import { PluginHost } from '../../host/plugin-api/plugin-host';
import { DataChannelHub } from '../../host/plugin-api/resources/data-channel-hub';
import { buildPacket, TCP_FLAGS } from './packets';

export const FIXTURE_PLUGINS = join(__dirname, '..', 'fixtures', 'plugin-packages');
export const SERVER_ADDRESS = '127.0.0.2';

export interface RigOptions {
  readonly plugins: AlgdConfigInput['plugins'];
  readonly pluginsDir?: string;
  readonly listenerPorts: { from: number; to: number };
  readonly sessions?: Partial<NonNullable<AlgdConfigInput['sessions']>>;
}

/** Collects log lines so tests can assert what was logged. */
export class LogCollector extends winston.transports.Console {
  readonly lines: { level: string; message: string; [k: string]: unknown }[] = [];
  override log(info: { level: string; message: string }, next: () => void): void {
    this.lines.push(info);
    next();
  }
}

/**
 * A local port nothing uses, not even a connection in TIME_WAIT from an
 * earlier run (the kernel's own choice for a bind to port 0): the source
 * port of a client the engine is told about before it connects.
 */
export async function freeClientPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export class PluginHostRig {
  readonly hub = new DataChannelHub();
  readonly engine = new NatEngine({ events: this.hub });
  readonly logs = new LogCollector();
  readonly host: PluginHost;
  private readonly closers: (() => unknown)[] = [];

  constructor(opts: RigOptions) {
    const config = parseConfig(JSON.stringify({
      driver: 'memory',
      adapters: [
        { name: 'priv0', type: 'private', addresses: ['127.0.0.1'] },
        { name: 'pub0', type: 'boundary', addresses: ['127.0.0.1'] },
      ],
      adminSocket: '/nonexistent/algd.sock',
      listenerPorts: opts.listenerPorts,
      pluginsDir: opts.pluginsDir ?? FIXTURE_PLUGINS,
      plugins: { ftp: { enabled: false }, sip: { enabled: false }, rtsp: { enabled: false }, ...opts.plugins },
      sessions: opts.sessions,
    }));
    const log = winston.createLogger({ level: 'debug', transports: [this.logs] });
    const adapters: AdapterInfo[] = [
      { name: 'priv0', type: 'private', addresses: [ipAddress('127.0.0.1')] },
      { name: 'pub0', type: 'boundary', addresses: [ipAddress('127.0.0.1')] },
    ];
    this.host = new PluginHost({ config, engine: this.engine, hub: this.hub, adapters: () => adapters, log, sourceLookup: async () => ipAddress('127.0.0.1') });
  }

  start(): Promise<void> {
    return this.host.start();
  }

  /** The listener port of a plugin's capture. */
  listenerPort(plugin: string, protocol: 'tcp' | 'udp', port: number): number {
    const p = this.host.status().plugins.find((x) => x.name === plugin);
    const c = p?.captures.find((x) => x.protocol === protocol && x.port === port);
    if (!c) throw new Error(`${plugin} does not capture ${protocol}/${port}: ${JSON.stringify(p)}`);
    return c.listener;
  }

  /** A TCP server on 127.0.0.2 that records what it receives and answers through `onData`. */
  async tcpServer(port: number, onData: (sock: Socket, data: Buffer) => void = () => undefined): Promise<{ server: Server; received: () => string; sockets: Socket[] }> {
    const chunks: Buffer[] = [];
    const sockets: Socket[] = [];
    const server = createServer((sock) => {
      sockets.push(sock);
      sock.on('error', () => undefined);
      sock.on('data', (d) => {
        chunks.push(d);
        onData(sock, d);
      });
    });
    server.listen(port, SERVER_ADDRESS);
    await once(server, 'listening');
    this.closers.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    return { server, received: () => Buffer.concat(chunks).toString('latin1'), sockets };
  }

  /** Tells the engine about a client's SYN to the server, then connects from that port to the listener. */
  async connectThrough(serverPort: number, listenerPort: number, clientPort: number): Promise<{ sock: Socket; received: () => string }> {
    const syn = buildPacket(
      { family: 4, src: '127.0.0.1', dst: SERVER_ADDRESS },
      { kind: 'tcp', srcPort: clientPort, dstPort: serverPort, flags: TCP_FLAGS.SYN, seq: 1 },
    );
    const outcome = this.engine.process(syn, { origin: 'private', stage: 'single' });
    if (outcome !== 'translated') throw new Error(`engine did not redirect the SYN: ${outcome}`);
    const sock = connect({ host: '127.0.0.1', port: listenerPort, localAddress: '127.0.0.1', localPort: clientPort });
    const chunks: Buffer[] = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => undefined);
    await once(sock, 'connect');
    this.closers.push(() => sock.destroy());
    return { sock, received: () => Buffer.concat(chunks).toString('latin1') };
  }

  /** A UDP client: the engine sees its first datagram to the server, then it sends to the relay from that port. */
  async udpClient(serverPort: number, relayPort: number, clientPort: number): Promise<{ sock: UdpSocket; send: (text: string) => void; received: string[] }> {
    const first = buildPacket(
      { family: 4, src: '127.0.0.1', dst: SERVER_ADDRESS },
      { kind: 'udp', srcPort: clientPort, dstPort: serverPort, payload: Buffer.from('x') },
    );
    const outcome = this.engine.process(first, { origin: 'private', stage: 'single' });
    if (outcome !== 'translated') throw new Error(`engine did not redirect the datagram: ${outcome}`);
    const sock = createSocket('udp4');
    const received: string[] = [];
    sock.on('message', (m) => received.push(m.toString()));
    sock.bind(clientPort, '127.0.0.1');
    await once(sock, 'listening');
    this.closers.push(() => sock.close());
    return { sock, send: (text) => sock.send(text, relayPort, '127.0.0.1'), received };
  }

  async stop(): Promise<void> {
    for (const c of this.closers.splice(0).reverse()) c();
    await this.host.stop();
    this.engine.clear();
  }
}
