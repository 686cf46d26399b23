import {
  formatEndpoint, ipAddress, ipFamily, port, sameEndpoint,
  type DataChannel, type DataChannelEvent, type DataChannelRequest, type Endpoint, type IpAddress, type Port,
  type PortReservation, type PortReservationRequest, type SessionInfo,
} from '@algd/sdk';
import { channelNotify, removeOptions, wantsEvent, type ChannelNotify, type HostServices } from '@algd/sdk/runtime';
import type { NatEngine } from '../../nat-engine/nat-engine';
import type { Mapping } from '../../nat-engine/translation/mapping';
import type { DataChannelHub, DataChannelOwner } from './data-channel-hub';
import type { PublicPortLedger } from './public-port-ledger';
import { boundaryAddressFor, type SourceAddressLookup } from './route-lookup';

/** A request the host refuses; the plugin's promise rejects with this message. */
export class ServiceRefusedError extends Error {
  override readonly name = 'ServiceRefusedError';
}

export interface SessionServicesDeps {
  readonly engine: NatEngine;
  readonly ledger: PublicPortLedger;
  readonly hub: DataChannelHub;
  readonly sourceLookup: SourceAddressLookup;
  /**
   * Inbound channels to a private client show the gateway (its address
   * towards the client, a mapping port) as the client's peer: the driver
   * captures the client's replies only when they come back to the gateway
   * (ListenerPlacement.inboundChannelsFromGateway).
   */
  readonly inboundChannelsFromGateway?: boolean;
  /** Data channels the session may hold at once. */
  readonly maxDataChannels: number;
  /** Where fresh public ports and reservations are (default the boundary address): the gateway address a public client reached. */
  readonly publicAddress?: IpAddress;
  /** Called for channel events the plugin asked to be notified of. */
  readonly onEvent: (event: DataChannelEvent) => void;
  /** Called when the number of live channels changes (keepalive and idle handling). */
  readonly onChannelsChanged?: (live: number) => void;
}

interface OwnedChannel {
  readonly mapping: Mapping;
  readonly notify: ChannelNotify;
  /** The public port was taken from the ledger for or by this channel. */
  readonly holdsPort: boolean;
  /** The boundary port the private host sees the connection come from (`fromBoundary`). */
  readonly sourcePort: number | undefined;
}

/**
 * The host's services for one session (the ALG API's
 * IApplicationGatewayServices), and the ledger of what the session owns.
 *
 * What the host enforces whatever the plugin asks (the test kit enforces the
 * same): a channel's private endpoint belongs to one of the session's own
 * peers (no bounce to a third party); its public endpoint is a port this
 * session reserved, the session's boundary endpoint, or a fresh port; at
 * most `maxDataChannels` active channels and twice as many reserved ports
 * (an RTP/RTCP pair per channel); everything is re-validated, since
 * it crossed a thread boundary as plain data. When the session ends every
 * active channel ends and every reservation is released; connections
 * already made through a channel continue, and its public port returns to
 * the pool when the last of them ends.
 */
export class SessionServices implements HostServices, DataChannelOwner {
  private readonly channels = new Map<number, OwnedChannel>();
  private readonly everOwned = new Set<number>();
  private readonly reservations = new Map<number, { readonly protocol: 'tcp' | 'udp'; readonly address: IpAddress; readonly ports: readonly Port[] }>();
  private nextReservation = 1;
  private activeChannels = 0;
  private ended = false;

  constructor(private readonly session: SessionInfo, private readonly deps: SessionServicesDeps) {}

  async createDataChannel(request: DataChannelRequest): Promise<DataChannel> {
    this.checkOpen();
    const r = checkRequest(request);
    // The address the private host sees the connection come from, when not the remote peer's own.
    // Looked up first: everything after it runs without a pause, so the checks below hold when the channel is made.
    const sourceAddress = r.fromBoundary ? this.session.boundary.address : await this.gatewayAsPeerFor(r);
    this.checkOpen();
    const family = ipFamily(r.private.address);
    if (r.private.address !== this.session.client.address && r.private.address !== this.session.server.address) {
      throw new ServiceRefusedError(`data channel refused: ${r.private.address} is not a peer of session ${this.session.id} (client ${this.session.client.address}, server ${this.session.server.address})`);
    }
    if (r.remote && ipFamily(r.remote.address) !== family) throw new ServiceRefusedError('data channel refused: remote and private addresses are of different IP versions');
    if (this.activeChannels >= this.deps.maxDataChannels) {
      throw new ServiceRefusedError(`data channel refused: session ${this.session.id} already holds ${this.activeChannels} (the cap is ${this.deps.maxDataChannels})`);
    }
    const { publicEndpoint, holdsPort } = this.publicEndpointFor(r, family);
    let sourcePort: number | undefined;
    if (sourceAddress !== undefined) {
      try {
        sourcePort = this.deps.ledger.take({ count: 1, protocol: r.protocol })[0]!;
      } catch (err) {
        if (holdsPort) this.deps.ledger.let(publicEndpoint.port);
        throw new ServiceRefusedError(`data channel refused: ${(err as Error).message}`);
      }
    }
    let mapping: Mapping;
    try {
      mapping = this.deps.engine.createMapping({
        protocol: r.protocol,
        private: r.private,
        public: publicEndpoint,
        remote: r.remote,
        direction: r.direction,
        persistent: r.persistent,
        lifetimeMs: r.lifetimeMs,
        owner: this.session.id,
        carried: this.carriedBySession(r, publicEndpoint),
        ...(sourcePort === undefined || sourceAddress === undefined ? {} : { privateSource: { address: sourceAddress, port: port(sourcePort) } }),
      });
    } catch (err) {
      if (holdsPort) this.deps.ledger.let(publicEndpoint.port);
      if (sourcePort !== undefined) this.deps.ledger.let(sourcePort);
      throw new ServiceRefusedError(`data channel refused: ${(err as Error).message}`);
    }
    this.channels.set(mapping.id, { mapping, notify: r.notify, holdsPort, sourcePort });
    this.everOwned.add(mapping.id);
    this.activeChannels++;
    this.deps.hub.register(mapping, this);
    this.deps.onChannelsChanged?.(this.liveChannels);
    return { id: mapping.id, protocol: r.protocol, private: r.private, public: publicEndpoint, direction: r.direction, persistent: r.persistent };
  }

  /**
   * Ends a channel of this session. Its connections continue unless
   * `closeConnections` closes them too (also those of a channel that had
   * already ended and still carries some): then the channel is released at
   * once and its public port goes back to the pool now, not when its last
   * flow idles out (a UDP flow that was answered lingers 180 s by default,
   * which at a few hundred SIP calls a second would hold thousands of ports
   * for media that ended with the call's BYE).
   */
  async removeDataChannel(channel: number, options?: unknown): Promise<void> {
    let closeConnections: boolean;
    try {
      ({ closeConnections } = removeOptions(options));
    } catch (err) {
      throw new ServiceRefusedError((err as Error).message);
    }
    const owned = this.channels.get(channel);
    if (owned) this.deps.engine.removeMapping(owned.mapping, { closeFlows: closeConnections });
    // A channel of this session that has already ended and been released: nothing to do.
    else if (!this.everOwned.has(channel)) throw new ServiceRefusedError(`no data channel ${String(channel)} in session ${this.session.id}`);
  }

  /**
   * The channel expires `lifetimeMs` from now. Refused for a session that
   * ended, a lifetime out of bounds (as a request's), an id that is not
   * this session's, and a channel that has already ended: a plugin cannot
   * keep alive what it does not own, nor bring back what is gone.
   */
  async renewDataChannel(channel: number, lifetimeMs: number): Promise<void> {
    this.checkOpen();
    if (!validLifetime(lifetimeMs)) throw new ServiceRefusedError(`renewDataChannel refused: lifetimeMs must be between 1 ms and 24 h`);
    const owned = this.channels.get(channel);
    if (!owned) {
      throw new ServiceRefusedError(this.everOwned.has(channel)
        ? `renewDataChannel refused: data channel ${String(channel)} of session ${this.session.id} has ended`
        : `renewDataChannel refused: no data channel ${String(channel)} in session ${this.session.id}`);
    }
    // Ended but still carrying connections: it takes no new ones, and renewing cannot change that.
    if (!owned.mapping.active) throw new ServiceRefusedError(`renewDataChannel refused: data channel ${String(channel)} of session ${this.session.id} has ended (${owned.mapping.endReason})`);
    this.deps.engine.renewMapping(owned.mapping, lifetimeMs);
  }

  async reservePorts(request: PortReservationRequest): Promise<PortReservation> {
    this.checkOpen();
    const protocol = request?.protocol;
    if (protocol !== 'tcp' && protocol !== 'udp') throw new ServiceRefusedError('reservePorts: protocol must be "tcp" or "udp"');
    const count = request.count ?? (request.parity === 'even-odd' ? 2 : 1);
    if (!Number.isInteger(count) || count < 1 || count > 16) throw new ServiceRefusedError('reservePorts: count must be 1 to 16');
    if (request.parity !== undefined && request.parity !== 'even-odd') throw new ServiceRefusedError('reservePorts: parity must be "even-odd"');
    const held = [...this.reservations.values()].reduce((n, r) => n + r.ports.length, 0);
    const limit = 2 * this.deps.maxDataChannels;
    if (held + count > limit) throw new ServiceRefusedError(`reservePorts: session ${this.session.id} would hold ${held + count} reserved ports (the cap is ${limit}, two per data channel)`);
    let ports: Port[];
    try {
      ports = this.deps.ledger.take({ count, contiguous: request.contiguous === true, parity: request.parity, protocol });
    } catch (err) {
      throw new ServiceRefusedError(`reservePorts: ${(err as Error).message}`);
    }
    const id = this.nextReservation++;
    const address = this.deps.publicAddress ?? this.session.boundary.address;
    this.reservations.set(id, { protocol, address, ports });
    return { id, address, ports };
  }

  async releasePorts(reservation: number): Promise<void> {
    const r = this.reservations.get(reservation);
    // Releasing twice is harmless; an id this session never had is a mistake.
    if (!r && Number.isInteger(reservation) && reservation >= 1 && reservation < this.nextReservation) return;
    if (!r) throw new ServiceRefusedError(`no reservation ${String(reservation)} in session ${this.session.id}`);
    this.reservations.delete(reservation);
    for (const p of r.ports) this.deps.ledger.let(p);
  }

  async bestSourceAddress(destination: IpAddress): Promise<IpAddress> {
    this.checkOpen();
    let dest: IpAddress;
    try {
      dest = ipAddress(String(destination));
    } catch (err) {
      throw new ServiceRefusedError(`bestSourceAddress: ${(err as Error).message}`);
    }
    const found = (await this.deps.sourceLookup(dest)) ?? boundaryAddressFor(dest, this.session.adapters);
    if (found === undefined) throw new ServiceRefusedError(`no gateway address reaches ${dest}`);
    return found;
  }

  /** Channels still active or carrying connections: while any lives, the session is not idle. */
  get liveChannels(): number {
    return this.channels.size;
  }

  /** Descriptions of the session's channels, for status. */
  describeChannels(): string[] {
    return [...this.channels.values()].map((c) => c.mapping.describe());
  }

  /** The session ended: its active channels end (connections continue) and its reservations are released. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.deps.engine.removeMappingsOf(this.session.id);
    for (const id of [...this.reservations.keys()]) void this.releasePorts(id);
  }

  // DataChannelOwner

  channelEvent(mapping: Mapping, event: DataChannelEvent): void {
    const owned = this.channels.get(mapping.id);
    if (!owned) return;
    if (event.kind === 'ended') {
      this.activeChannels--;
      this.deps.onChannelsChanged?.(this.liveChannels);
    }
    if (!this.ended && wantsEvent(owned.notify, event)) this.deps.onEvent(event);
  }

  channelReleased(mapping: Mapping): void {
    const owned = this.channels.get(mapping.id);
    if (!owned) return;
    this.channels.delete(mapping.id);
    if (owned.holdsPort) this.deps.ledger.let(mapping.public.port);
    if (owned.sourcePort !== undefined) this.deps.ledger.let(owned.sourcePort);
    this.deps.onChannelsChanged?.(this.liveChannels);
  }

  private checkOpen(): void {
    if (this.ended) throw new ServiceRefusedError(`session ${this.session.id} has ended`);
  }

  /**
   * A channel from exactly the session's server to exactly its client
   * through the session's own boundary endpoint is the session's own path
   * (a SIP registration keeping the registrar's requests coming): the
   * session's socket carries it, so the engine must not divert it past the
   * plugin. The channel only holds the session open for its lifetime.
   */
  private carriedBySession(r: CheckedRequest, publicEndpoint: Endpoint): boolean {
    const s = this.session;
    return r.protocol === s.protocol && r.direction === 'inbound' && !r.fromBoundary
      && sameEndpoint(publicEndpoint, s.boundary) && sameEndpoint(r.private, s.client)
      && r.remote?.port !== undefined && sameEndpoint({ address: r.remote.address, port: r.remote.port }, s.server);
  }

  /**
   * With a driver that needs it (inboundChannelsFromGateway), an inbound
   * channel to a private client comes from the gateway's own address
   * towards the client: the route's source address, else the first private
   * adapter address of the family. Undefined when the channel needs no such
   * source.
   */
  private async gatewayAsPeerFor(r: CheckedRequest): Promise<IpAddress | undefined> {
    if (this.deps.inboundChannelsFromGateway !== true || r.direction !== 'inbound' || this.session.clientSide !== 'private') return undefined;
    // Another private address is refused by the peer check that follows.
    if (r.private.address !== this.session.client.address) return undefined;
    const family = ipFamily(r.private.address);
    const routed = await this.deps.sourceLookup(r.private.address);
    const fallback = this.session.adapters.filter((a) => a.type === 'private').flatMap((a) => a.addresses).find((a) => ipFamily(a) === family);
    const address = routed !== undefined && ipFamily(routed) === family ? routed : fallback;
    if (address === undefined) throw new ServiceRefusedError(`data channel refused: the gateway has no IPv${family} address towards ${r.private.address}`);
    return address;
  }

  private publicEndpointFor(r: CheckedRequest, family: 4 | 6): { publicEndpoint: Endpoint; holdsPort: boolean } {
    const boundary = this.session.boundary;
    const fresh = this.deps.publicAddress ?? boundary.address;
    if (ipFamily(fresh) !== family) throw new ServiceRefusedError(`data channel refused: the session's public address ${fresh} is not IPv${family}`);
    if (r.public === undefined) {
      try {
        const [p] = this.deps.ledger.take({ count: 1, protocol: r.protocol });
        return { publicEndpoint: { address: fresh, port: p! }, holdsPort: true };
      } catch (err) {
        throw new ServiceRefusedError(`data channel refused: ${(err as Error).message}`);
      }
    }
    if (sameEndpoint(r.public, boundary)) {
      if (r.protocol !== this.session.protocol) throw new ServiceRefusedError(`data channel refused: the boundary endpoint ${formatEndpoint(boundary)} is a ${this.session.protocol} endpoint`);
      return { publicEndpoint: boundary, holdsPort: this.deps.ledger.hold(boundary.port) };
    }
    for (const res of this.reservations.values()) {
      if (res.protocol === r.protocol && res.address === r.public.address && res.ports.includes(r.public.port)) {
        return { publicEndpoint: r.public, holdsPort: this.deps.ledger.hold(r.public.port) };
      }
    }
    throw new ServiceRefusedError(`data channel refused: public endpoint ${formatEndpoint(r.public)} is neither reserved by session ${this.session.id} nor its boundary endpoint`);
  }
}

interface CheckedRequest {
  readonly protocol: 'tcp' | 'udp';
  readonly private: Endpoint;
  readonly public: Endpoint | undefined;
  readonly remote: { readonly address: IpAddress; readonly port?: Port } | undefined;
  readonly direction: 'inbound' | 'outbound' | 'both';
  readonly persistent: boolean;
  readonly lifetimeMs: number | undefined;
  readonly notify: ChannelNotify;
  readonly fromBoundary: boolean;
}

/** Re-validates a request that crossed from a worker as plain data. */
function checkRequest(r: DataChannelRequest): CheckedRequest {
  try {
    if (typeof r !== 'object' || r === null) throw new Error('the request must be an object');
    if (r.protocol !== 'tcp' && r.protocol !== 'udp') throw new Error('protocol must be "tcp" or "udp"');
    if (r.direction !== 'inbound' && r.direction !== 'outbound' && r.direction !== 'both') throw new Error('direction must be "inbound", "outbound" or "both"');
    const ep = (e: Endpoint, what: string, anyPort = false): Endpoint => {
      if (typeof e !== 'object' || e === null) throw new Error(`${what} must be an endpoint`);
      const p = port(e.port);
      if (p === 0 && what === 'private' && !anyPort) throw new Error('private port must not be 0 (any port is for outbound channels only)');
      return { address: ipAddress(String(e.address)), port: anyPort && p === 0 ? p : nonZero(p, what) };
    };
    const lifetimeMs = r.lifetimeMs;
    if (lifetimeMs !== undefined && !validLifetime(lifetimeMs)) throw new Error('lifetimeMs must be between 1 ms and 24 h');
    return {
      protocol: r.protocol,
      // Port 0: any port of the private host, for outbound channels only.
      private: ep(r.private, 'private', r.direction === 'outbound'),
      public: r.public === undefined ? undefined : ep(r.public, 'public'),
      remote: r.remote === undefined ? undefined : { address: ipAddress(String(r.remote.address)), ...(r.remote.port === undefined ? {} : { port: nonZero(port(r.remote.port), 'remote') }) },
      direction: r.direction,
      persistent: r.persistent === true,
      lifetimeMs,
      notify: channelNotify(r.notify),
      fromBoundary: fromBoundary(r),
    };
  } catch (err) {
    throw new ServiceRefusedError(`data channel refused: ${(err as Error).message}`);
  }
}

/** The host keeps a channel at most a day, from its creation or its last renewal. */
const MAX_LIFETIME_MS = 86_400_000;

function validLifetime(lifetimeMs: unknown): lifetimeMs is number {
  return typeof lifetimeMs === 'number' && lifetimeMs > 0 && lifetimeMs <= MAX_LIFETIME_MS;
}

function nonZero(p: Port, what: string): Port {
  if (p === 0) throw new Error(`${what} port must not be 0`);
  return p;
}

function fromBoundary(r: DataChannelRequest): boolean {
  if (r.fromBoundary === undefined || r.fromBoundary === false) return false;
  if (r.fromBoundary !== true) throw new Error('fromBoundary must be true or false');
  if (r.direction !== 'inbound') throw new Error('fromBoundary is for inbound channels only');
  return true;
}
