import { createServer, connect, type Server, type Socket } from 'node:net';
import { endpoint, type Endpoint, type MessageDirection } from '@algd/sdk';
import type { Logger } from '../../logging/logger';
import type { ControlSession, Peer, SessionLegs } from '../session/control-session';
import type { ListenerCounter, OriginalDestinationLookup, SessionFactory, UpstreamRoute, UpstreamRouter } from '../session/session-factory';
import type { UpstreamPorts } from './upstream-ports';

/** How long a gracefully closed leg may take to finish. */
const GRACEFUL_CLOSE_MS = 5_000;

export interface TcpControlListenerOptions {
  /** Where the engine's redirect sends captured connections (127.0.0.1, or a private adapter's IPv6 address). */
  readonly listen: Endpoint;
  readonly lookup: OriginalDestinationLookup;
  /** Where a connection goes given its original destination; default: there. */
  readonly route?: UpstreamRouter;
  readonly sessions: SessionFactory;
  readonly log: Logger;
  readonly count: (counter: ListenerCounter) => void;
  /** Milliseconds to wait for the upstream connection. */
  readonly connectTimeoutMs?: number;
  /** TCP keepalive interval while the session has data channels. */
  readonly keepaliveMs: number;
  /** Local ports for upstream connections, when the driver needs them from listenerPorts; default: the OS picks. */
  readonly upstreamPorts?: UpstreamPorts;
}

/** Upstream ports tried before giving up when each is still held by the OS. */
const UPSTREAM_PORT_ATTEMPTS = 32;

/**
 * The loopback listener of one captured TCP control channel. The engine
 * redirects a captured connection here; the listener asks the engine where
 * the client was going, connects there itself (the kernel picks the
 * boundary address as the source), and streams both directions through a
 * session with backpressure: a socket whose peer cannot keep up stops being
 * read. A connection the engine did not redirect (someone dialling the
 * listener directly) has no original destination and is refused.
 */
export class TcpControlListener {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly opts: TcpControlListenerOptions) {
    this.server = createServer({ pauseOnConnect: true, noDelay: true }, (client) => this.accept(client));
    this.server.on('error', (err) => opts.log.error(`listener ${opts.listen.address}:${opts.listen.port}: ${err.message}`));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: this.opts.listen.address, port: this.opts.listen.port, exclusive: true }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  /** Stops listening and closes every connection it accepted. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    const peer = socketPeer(client);
    const original = peer && this.opts.lookup('tcp', peer, this.opts.listen);
    if (!peer || !original) {
      this.opts.count('no-original-destination');
      client.destroy();
      return;
    }
    const route = this.opts.route ? this.opts.route('tcp', original) : { server: original, clientSide: 'private' as const };
    if (!route) {
      this.opts.count('not-published');
      client.resetAndDestroy();
      return;
    }
    if (!this.opts.sessions.canAccept()) {
      this.opts.count('session-limit');
      client.resetAndDestroy();
      return;
    }
    this.track(client);
    this.connectUpstream(client, peer, route, 1);
  }

  private connectUpstream(client: Socket, peer: Endpoint, route: UpstreamRoute, attempt: number): void {
    const server = route.server;
    const localPort = this.opts.upstreamPorts?.next();
    const upstream = connect({ host: server.address, port: server.port, noDelay: true, timeout: this.opts.connectTimeoutMs ?? 15_000, ...(localPort === undefined ? {} : { localPort }) });
    this.track(upstream);
    upstream.pause();
    const failEarly = (why: string): void => {
      this.opts.count('upstream-failed');
      this.opts.log.info(`upstream ${server.address}:${server.port} for ${peer.address}:${peer.port}: ${why}`);
      upstream.destroy();
      // The client sees what a direct connection would have: a reset.
      client.resetAndDestroy();
    };
    upstream.once('timeout', () => failEarly('connect timed out'));
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (localPort !== undefined && err.code === 'EADDRINUSE' && attempt < UPSTREAM_PORT_ATTEMPTS) {
        upstream.destroy();
        this.connectUpstream(client, peer, route, attempt + 1);
      } else failEarly(err.message);
    });
    upstream.once('connect', () => {
      upstream.removeAllListeners('timeout');
      upstream.removeAllListeners('error');
      upstream.setTimeout(0);
      upstream.on('error', () => undefined);
      const boundary = endpoint(upstream.localAddress!, upstream.localPort!);
      const legs = new SocketLegs(client, upstream, this.opts.keepaliveMs);
      const session = this.opts.sessions.create({ protocol: 'tcp', client: peer, server, boundary, clientSide: route.clientSide, publicAddress: route.publicAddress }, legs);
      legs.attach(session);
      client.resume();
      upstream.resume();
    });
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }
}

function socketPeer(s: Socket): Endpoint | undefined {
  try {
    return endpoint(s.remoteAddress ?? '', s.remotePort ?? -1);
  } catch {
    return undefined;
  }
}

/**
 * The two sockets of a TCP session. A socket whose write buffer is full
 * stops the other socket's reading until it drains; the session may stop a
 * socket's reading too (its backlog): reading resumes when no reason is left.
 */
class SocketLegs implements SessionLegs {
  private readonly holds = new Map<Socket, number>();
  private session: ControlSession | undefined;

  constructor(private readonly client: Socket, private readonly server: Socket, private readonly keepaliveMs: number) {}

  attach(session: ControlSession): void {
    this.session = session;
    this.client.on('data', (chunk: Buffer) => session.receive('client-to-server', chunk));
    this.server.on('data', (chunk: Buffer) => session.receive('server-to-client', chunk));
    this.client.on('end', () => session.endOf('client-to-server'));
    this.server.on('end', () => session.endOf('server-to-client'));
    // A leg that is gone for good ends the session: at once when it was
    // reset, after what is still queued when it finished cleanly.
    this.client.on('close', (hadError) => (hadError ? session.close('closed') : session.closeWhenDrained('closed')));
    this.server.on('close', (hadError) => (hadError ? session.close('closed') : session.closeWhenDrained('closed')));
  }

  /** Keepalive on both legs while the session has data channels, so a long transfer does not let the idle control connection time out on the way. */
  keepalive(liveChannels: number): void {
    const on = liveChannels > 0;
    for (const s of [this.client, this.server]) if (!s.destroyed) s.setKeepAlive(on, this.keepaliveMs);
  }

  send(to: Peer, bytes: Uint8Array): void {
    const target = this.socket(to);
    if (target.destroyed || target.writableEnded) return;
    if (!target.write(bytes)) {
      const other = to === 'client' ? this.server : this.client;
      this.hold(other, 1);
      target.once('drain', () => this.hold(other, -1));
    }
  }

  end(to: Peer): void {
    const target = this.socket(to);
    if (!target.destroyed) target.end();
  }

  close(graceful: boolean): void {
    for (const s of [this.client, this.server]) {
      if (!graceful) s.destroy();
      else if (!s.destroyed) {
        s.end();
        // A peer that never finishes its side does not hold the socket forever.
        s.setTimeout(GRACEFUL_CLOSE_MS, () => s.destroy());
      }
    }
  }

  throttle(direction: MessageDirection, paused: boolean): void {
    this.hold(direction === 'client-to-server' ? this.client : this.server, paused ? 1 : -1);
  }

  private socket(p: Peer): Socket {
    return p === 'client' ? this.client : this.server;
  }

  private hold(s: Socket, delta: number): void {
    const n = (this.holds.get(s) ?? 0) + delta;
    this.holds.set(s, n);
    if (n > 0) s.pause();
    else if (!s.destroyed && this.session && !this.session.closed) s.resume();
  }
}
