import { createSocket, type Socket } from 'node:dgram';
import { endpoint, formatEndpoint, ipFamily, type Endpoint, type IpAddress, type MessageDirection } from '@algd/sdk';
import type { Logger } from '../../logging/logger';
import type { UpstreamPorts } from '../listener/upstream-ports';
import type { PublicPortLedger } from '../resources/public-port-ledger';
import type { ControlSession, Peer, SessionLegs } from '../session/control-session';
import type { ListenerCounter, OriginalDestinationLookup, SessionFactory } from '../session/session-factory';

export interface DatagramRelayOptions {
  /** Where the engine's redirect sends captured datagrams. */
  readonly listen: Endpoint;
  readonly lookup: OriginalDestinationLookup;
  readonly sessions: SessionFactory;
  /** Upstream sockets bind to public ports from here, so a plugin can map its session's boundary endpoint. */
  readonly ledger: PublicPortLedger;
  /**
   * With a driver whose static filter tells the host's own traffic by its
   * source port (WinDivert), upstream sockets bind here instead: a port in
   * listenerPorts. Otherwise the filter takes the relay's own datagrams to
   * the control port for a client's and redirects them to the relay again.
   */
  readonly upstreamPorts?: UpstreamPorts;
  readonly log: Logger;
  readonly count: (counter: ListenerCounter) => void;
}

/** Datagrams held for a session whose upstream socket is still being set up. */
const MAX_EARLY_DATAGRAMS = 16;
/** Listener-range ports tried for one upstream socket before the session is given up (another session may hold one). */
const UPSTREAM_PORT_ATTEMPTS = 32;

interface RelaySession {
  /** Undefined until a port is chosen. */
  upstream: Socket | undefined;
  session: ControlSession | undefined;
  /** Client datagrams that arrived before the upstream socket was ready. */
  early: Buffer[] | undefined;
  throttled: boolean;
}

/**
 * The datagram relay of one captured UDP control channel: the UDP
 * counterpart of the TCP listener. Datagrams the engine redirected arrive on
 * one socket; each client endpoint is one session, with its own upstream
 * socket bound to a public port from the mapping range (from listenerPorts
 * with `upstreamPorts`) and connected to the original destination. That
 * port is the session's boundary endpoint: a
 * server that answers from another port (TFTP) reaches the client through a
 * data channel the plugin maps on it.
 *
 * One client endpoint talks to one original destination at a time through
 * a relay (the engine refuses a second redirect with the same reply tuple).
 */
export class DatagramRelay {
  private readonly socket: Socket;
  private readonly sessions = new Map<string, RelaySession>();

  constructor(private readonly opts: DatagramRelayOptions) {
    this.socket = udpSocketFor(opts.listen.address);
    this.socket.on('message', (msg, rinfo) => this.fromClient(msg, rinfo.address, rinfo.port));
    this.socket.on('error', (err) => opts.log.error(`relay ${formatEndpoint(opts.listen)}: ${err.message}`));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind({ address: this.opts.listen.address, port: this.opts.listen.port, exclusive: true }, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
  }

  /** Closes the relay socket and every session's upstream socket. */
  async close(): Promise<void> {
    for (const r of [...this.sessions.values()]) r.session?.close('shutdown');
    for (const r of this.sessions.values()) if (r.upstream) closeQuietly(r.upstream);
    this.sessions.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private fromClient(msg: Buffer, address: string, portNumber: number): void {
    let peer: Endpoint;
    try {
      peer = endpoint(address, portNumber);
    } catch {
      return;
    }
    const key = formatEndpoint(peer);
    const existing = this.sessions.get(key);
    if (existing) {
      if (existing.session && !existing.throttled) existing.session.receiveDatagram('client-to-server', msg);
      else if (!existing.session && existing.early !== undefined && existing.early.length < MAX_EARLY_DATAGRAMS) existing.early.push(msg);
      else this.opts.count('relay-backlog-drop');
      return;
    }
    const server = this.opts.lookup('udp', peer, this.opts.listen);
    if (!server) {
      this.opts.count('no-original-destination');
      return;
    }
    if (!this.opts.sessions.canAccept()) {
      this.opts.count('session-limit');
      return;
    }
    this.open(key, peer, server, msg);
  }

  private open(key: string, peer: Endpoint, server: Endpoint, first: Buffer): void {
    const r: RelaySession = { upstream: undefined, session: undefined, early: [first], throttled: false };
    this.sessions.set(key, r);
    this.bindUpstream(key, peer, server, r, 1);
  }

  /** Binds the session's upstream socket (another listener-range port on EADDRINUSE), connects it, and starts the session. */
  private bindUpstream(key: string, peer: Endpoint, server: Endpoint, r: RelaySession, attempt: number): void {
    const fromListenerRange = this.opts.upstreamPorts !== undefined;
    let publicPort: number;
    try {
      publicPort = fromListenerRange ? this.opts.upstreamPorts!.next() : this.opts.ledger.take({ count: 1, protocol: 'udp' })[0]!;
    } catch (err) {
      this.sessions.delete(key);
      this.opts.count('upstream-failed');
      this.opts.log.warn(`relay ${formatEndpoint(this.opts.listen)}: no public port for ${key}: ${(err as Error).message}`);
      return;
    }
    const release = (): void => {
      if (!fromListenerRange) this.opts.ledger.let(publicPort);
    };
    const upstream = udpSocketFor(server.address);
    r.upstream = upstream;
    const fail = (err: NodeJS.ErrnoException): void => {
      if (r.session) return;
      closeQuietly(upstream);
      release();
      if (fromListenerRange && err.code === 'EADDRINUSE' && attempt < UPSTREAM_PORT_ATTEMPTS) {
        this.bindUpstream(key, peer, server, r, attempt + 1);
        return;
      }
      this.opts.count('upstream-failed');
      this.opts.log.info(`relay upstream to ${formatEndpoint(server)} for ${key}: ${err.message}`);
      this.sessions.delete(key);
    };
    upstream.once('error', fail);
    const wildcard = ipFamily(server.address) === 6 ? '::' : '0.0.0.0';
    upstream.bind({ address: wildcard, port: publicPort, exclusive: true }, () => {
      upstream.connect(server.port, server.address, (err?: Error) => {
        if (err) return fail(err);
        upstream.off('error', fail);
        upstream.on('error', (e) => this.opts.log.debug(`relay upstream ${key}: ${e.message}`));
        const local = upstream.address();
        const legs = new DatagramLegs(this.socket, upstream, peer, r, () => {
          this.sessions.delete(key);
          closeQuietly(upstream);
          release();
        });
        const session = this.opts.sessions.create({ protocol: 'udp', client: peer, server, boundary: endpoint(local.address, local.port) }, legs);
        r.session = session;
        upstream.on('message', (msg) => {
          if (!r.throttled) session.receiveDatagram('server-to-client', msg);
          else this.opts.count('relay-backlog-drop');
        });
        const early = r.early ?? [];
        r.early = undefined;
        for (const d of early) session.receiveDatagram('client-to-server', d);
      });
    });
  }
}

/** A relay session's paths: the relay socket to the client, the upstream socket to the server. */
class DatagramLegs implements SessionLegs {
  constructor(
    private readonly relay: Socket,
    private readonly upstream: Socket,
    private readonly client: Endpoint,
    private readonly state: { throttled: boolean },
    private readonly onClose: () => void,
  ) {}

  send(to: Peer, bytes: Uint8Array): void {
    if (to === 'client') this.relay.send(bytes, this.client.port, this.client.address);
    else this.upstream.send(bytes);
  }

  end(): void {
    // Datagrams have no end of stream.
  }

  close(): void {
    this.onClose();
  }

  throttle(_direction: MessageDirection, paused: boolean): void {
    // A datagram socket cannot be paused per peer: while the backlog is long, new datagrams of the session are dropped.
    this.state.throttled = paused;
  }
}

function closeQuietly(s: Socket): void {
  try {
    s.close();
  } catch {
    // already closed
  }
}

/** A UDP socket of the address's family (IPv6 sockets only for IPv6). */
function udpSocketFor(address: string): Socket {
  return ipFamily(address as IpAddress) === 6 ? createSocket({ type: 'udp6', ipv6Only: true }) : createSocket('udp4');
}
