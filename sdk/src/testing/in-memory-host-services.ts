import type { DataChannel, DataChannelEndReason, DataChannelRequest, RemoveDataChannelOptions } from '../data-channel';
import { formatEndpoint, ipAddress, ipFamily, ipToBytes, isPort, sameEndpoint, type Endpoint, type IpAddress, type Port, type TransportProtocol } from '../net';
import type { PortReservation, PortReservationRequest } from '../port-reservation';
import type { HostServices } from '../runtime/host-services';
import { channelNotify } from '../runtime/channel-notify';
import { removeOptions } from '../runtime/session-limits';
import type { SessionInfo } from '../session';
import type { RecordedDataChannel, RecordedEndReason } from './recorded-data-channel';
import type { RecordedReservation } from './recorded-reservation';

/** The limits of one in-memory session's services. */
export interface InMemoryServicesConfig {
  /** Public ports handed out for channels without a `public` endpoint and for reservations. */
  readonly publicPorts: { readonly from: number; readonly to: number };
  /** Open data channels a session may have at once. */
  readonly maxDataChannels: number;
}

type MutableChannel = { -readonly [K in keyof RecordedDataChannel]: RecordedDataChannel[K] };
type MutableReservation = { -readonly [K in keyof RecordedReservation]: RecordedReservation[K] };

/**
 * The host's services for one session, in memory: what the test kit gives
 * a plugin, and the one statement of the rules the real host enforces
 * (host/plugin-api mirrors them). A refused request rejects with an `Error`
 * whose message says why.
 *
 * 1. Requests and answers are structured-cloned, as they are across the
 *    worker's message port: a request holding a function or a class
 *    instance with private state fails here as it fails in the host.
 * 2. `createDataChannel`
 *    - the request is well formed: protocol `tcp`/`udp`; direction
 *      `inbound`/`outbound`/`both`; endpoints with a canonical address and a
 *      port 1-65535 (a `remote` port when given; a `private` port 0, "any
 *      port", only for an outbound channel); `lifetimeMs` above 0 and at
 *      most 24 h when given; `persistent` a boolean and `notify` a boolean or { used?, ended? } when given;
 *    - no bounce: the private address is the session's client or server
 *      address, never a third party;
 *    - private, public and remote addresses are of one IP family;
 *    - `public` omitted: the lowest free port of `publicPorts` on the
 *      session's boundary address. A port is free when no unreleased
 *      reservation, no open channel and not the session's boundary endpoint
 *      holds it (one pool for TCP and UDP, as the host's port pool);
 *    - `public` given: either exactly the session's `boundary` endpoint (for
 *      the session's own protocol), or the boundary address with a port of
 *      one of this session's unreleased reservations of the same protocol;
 *    - one open channel per public endpoint;
 *    - at most `maxDataChannels` open channels per session (default 16).
 * 3. `removeDataChannel`: only this session's channels; removing a channel
 *    that already ended does nothing. `options` absent or
 *    `{ closeConnections?: boolean }`; with `closeConnections` the channel
 *    records `connectionsClosed` (also when it had already ended: its
 *    connections are closed then too).
 *    `renewDataChannel`: only this session's channels, and only while open
 *    (a channel that ended cannot be renewed); `lifetimeMs` a number above
 *    0 up to 24 h (86 400 000), as a request's. The channel records each
 *    new lifetime in `renewals`.
 * 4. `reservePorts`: `count` an integer from 1 to 16 (default 1, or 2 with
 *    `parity: 'even-odd'`); at most two reserved ports per allowed data
 *    channel held at once (unreleased reservations); `contiguous` gives consecutive ports; `even-odd`
 *    gives consecutive ports starting at an even one; the lowest fitting
 *    free ports of `publicPorts`, all or none; on the boundary address.
 * 5. `releasePorts`: only this session's reservations; releasing twice does
 *    nothing. A reserved port an open channel uses stays held until that
 *    channel ends.
 * 6. `bestSourceAddress`: the address of an adapter of the destination's
 *    family sharing the longest prefix with it, the `boundary` adapter on
 *    a tie (the default route); no adapter of that family is an error.
 * 7. The end of the session ends every open channel (`session-ended`) and
 *    releases every reservation; calls after it are refused.
 *
 * Channels do not expire by themselves here (there is no clock); a test
 * says when a channel is used or ends ({@link markUsed}, {@link markEnded}).
 */
export class InMemoryHostServices implements HostServices {
  private readonly channels: MutableChannel[] = [];
  private readonly held: MutableReservation[] = [];
  private ended = false;

  constructor(readonly session: SessionInfo, readonly config: InMemoryServicesConfig) {
    const { from, to } = config.publicPorts;
    if (!isPort(from) || !isPort(to) || from === 0 || from > to) throw new RangeError(`publicPorts: ${from}-${to} is not a port range within 1-65535`);
    if (!Number.isInteger(config.maxDataChannels) || config.maxDataChannels < 0) throw new RangeError(`maxDataChannels: ${config.maxDataChannels} is not a count`);
  }

  /** Every channel requested, in order, with its state. */
  get dataChannels(): readonly RecordedDataChannel[] {
    return this.channels;
  }

  /** Every reservation made, in order, with its state. */
  get reservations(): readonly RecordedReservation[] {
    return this.held;
  }

  async createDataChannel(input: DataChannelRequest): Promise<DataChannel> {
    const request = this.receive(input);
    checkChannelRequest(request);
    const s = this.session;
    if (request.private.address !== s.client.address && request.private.address !== s.server.address) {
      throw new Error(`data channel refused: private address ${request.private.address} is neither the session's client (${s.client.address}) nor its server (${s.server.address}); no bounce to third parties`);
    }
    const family = ipFamily(request.private.address);
    if ((request.public !== undefined && ipFamily(request.public.address) !== family) || (request.remote !== undefined && ipFamily(request.remote.address) !== family) || ipFamily(s.boundary.address) !== family) {
      throw new Error('data channel refused: a channel cannot translate between IPv4 and IPv6');
    }
    const open = this.channels.filter((c) => c.open).length;
    if (open >= this.config.maxDataChannels) {
      throw new Error(`data channel refused: the session already has ${open} open data channels (cap ${this.config.maxDataChannels})`);
    }
    const pub = request.public === undefined ? this.freePublicEndpoint() : this.checkPublic(request.public, request.protocol);
    const channel: DataChannel = {
      id: this.channels.length + 1,
      protocol: request.protocol,
      private: { address: request.private.address, port: request.private.port },
      public: pub,
      direction: request.direction,
      persistent: request.persistent === true,
    };
    this.channels.push({ ...channel, request, open: true });
    return structuredClone(channel);
  }

  async removeDataChannel(id: number, options?: RemoveDataChannelOptions): Promise<void> {
    const [wanted, given] = this.receive([id, options] as const);
    const { closeConnections } = removeOptions(given);
    const channel = this.channel(wanted);
    if (channel.open) this.close(channel, 'removed');
    if (closeConnections) channel.connectionsClosed = true;
  }

  async renewDataChannel(id: number, lifetime: number): Promise<void> {
    const [wanted, lifetimeMs] = this.receive([id, lifetime] as const);
    checkLifetime('renewDataChannel refused', lifetimeMs);
    const channel = this.channel(wanted);
    if (!channel.open) throw new Error(`renewDataChannel refused: data channel ${String(wanted)} has ended (${channel.endReason}); create a new one`);
    channel.renewals = [...(channel.renewals ?? []), lifetimeMs];
  }

  async reservePorts(input: PortReservationRequest): Promise<PortReservation> {
    const request = this.receive(input);
    this.checkLive();
    if (request === null || typeof request !== 'object') throw new Error('reservePorts: the request must be an object');
    if (request.protocol !== 'tcp' && request.protocol !== 'udp') throw new Error(`reservePorts: protocol must be "tcp" or "udp", got ${JSON.stringify(request.protocol)}`);
    if (request.parity !== undefined && request.parity !== 'even-odd') throw new Error(`reservePorts: unknown parity ${JSON.stringify(request.parity)}`);
    const evenOdd = request.parity === 'even-odd';
    const count = request.count ?? (evenOdd ? 2 : 1);
    if (!Number.isInteger(count) || count < 1 || count > 16) throw new Error(`reservePorts: cannot reserve ${String(count)} ports (1 to 16 a call)`);
    const holding = this.held.filter((r) => !r.released).reduce((n, r) => n + r.ports.length, 0);
    if (holding + count > 2 * this.config.maxDataChannels) {
      throw new Error(`reservePorts: the session would hold ${holding + count} reserved ports (cap ${2 * this.config.maxDataChannels}, two per data channel)`);
    }
    const runs = evenOdd || request.contiguous === true;
    const ports = runs ? this.freeRun(count, evenOdd ? 2 : 1) : this.freePorts(count);
    if (ports === undefined) {
      const { from, to } = this.config.publicPorts;
      throw new Error(`reservePorts: no ${count}${runs ? ' contiguous' : ''}${evenOdd ? ' even/odd' : ''} free port${count === 1 ? '' : 's'} left in ${from}-${to}`);
    }
    const reservation: PortReservation = { id: this.held.length + 1, address: this.session.boundary.address, ports };
    this.held.push({ ...reservation, protocol: request.protocol, request, released: false });
    return structuredClone(reservation);
  }

  async releasePorts(id: number): Promise<void> {
    const wanted = this.receive(id);
    const reservation = this.held.find((r) => r.id === wanted);
    if (reservation === undefined) throw new Error(`releasePorts: the session has no reservation ${String(wanted)}`);
    reservation.released = true;
  }

  async bestSourceAddress(input: IpAddress): Promise<IpAddress> {
    const destination = ipAddress(String(this.receive(input)));
    this.checkLive();
    const bits = ipToBytes(destination);
    let best: { address: IpAddress; common: number; boundary: boolean } | undefined;
    for (const adapter of this.session.adapters) {
      for (const address of adapter.addresses) {
        if (ipFamily(address) !== ipFamily(destination)) continue;
        const candidate = { address, common: commonPrefix(bits, ipToBytes(address)), boundary: adapter.type === 'boundary' };
        if (best === undefined || candidate.common > best.common || (candidate.common === best.common && candidate.boundary && !best.boundary)) best = candidate;
      }
    }
    if (best === undefined) throw new Error(`bestSourceAddress: the gateway has no IPv${ipFamily(destination)} address`);
    return best.address;
  }

  /**
   * A connection was made through a channel (from `peer` for inbound
   * channels, to it for outbound ones): a one-shot channel ends with
   * reason `used`. Throws when the channel is not open or `peer` is not
   * the channel's `remote`.
   */
  markUsed(id: number, peer: Endpoint): RecordedDataChannel {
    const channel = this.channel(id);
    if (!channel.open) throw new Error(`data channel ${id} is not open (${channel.endReason})`);
    const remote = channel.request.remote;
    if (remote !== undefined && (remote.address !== peer.address || (remote.port !== undefined && remote.port !== peer.port))) {
      throw new Error(`data channel ${id} only takes ${remote.address}${remote.port === undefined ? '' : `:${remote.port}`}, not ${formatEndpoint(peer)}`);
    }
    if (!channel.persistent) this.close(channel, 'used');
    return channel;
  }

  /** A channel stopped taking connections (expired, removed or used). Throws when it is not open. */
  markEnded(id: number, reason: DataChannelEndReason): RecordedDataChannel {
    const channel = this.channel(id);
    if (!channel.open) throw new Error(`data channel ${id} is not open (${channel.endReason})`);
    this.close(channel, reason);
    return channel;
  }

  /** The session ended: every channel closes, every reservation is released, later calls are refused. */
  endSession(): void {
    for (const c of this.channels) if (c.open) this.close(c, 'session-ended');
    for (const r of this.held) r.released = true;
    this.ended = true;
  }

  /** A value crossing the message port; refused once the session ended. */
  private receive<T>(value: T): T {
    this.checkLive();
    return structuredClone(value);
  }

  private checkLive(): void {
    if (this.ended) throw new Error(`session ${this.session.id} has ended`);
  }

  private channel(id: number): MutableChannel {
    const channel = this.channels.find((c) => c.id === id);
    if (channel === undefined) throw new Error(`the session has no data channel ${String(id)}`);
    return channel;
  }

  private close(channel: MutableChannel, reason: RecordedEndReason): void {
    channel.open = false;
    channel.endReason = reason;
  }

  private checkPublic(pub: Endpoint, protocol: TransportProtocol): Endpoint {
    const s = this.session;
    const boundary = sameEndpoint(pub, s.boundary);
    if (boundary && protocol !== s.protocol) {
      throw new Error(`data channel refused: the boundary endpoint ${formatEndpoint(s.boundary)} is a ${s.protocol} endpoint, not ${protocol}`);
    }
    const reserved = pub.address === s.boundary.address && this.held.some((r) => !r.released && r.protocol === protocol && r.ports.includes(pub.port));
    if (!boundary && !reserved) {
      throw new Error(`data channel refused: public endpoint ${formatEndpoint(pub)} is neither the session's boundary endpoint ${formatEndpoint(s.boundary)} nor a ${protocol} port this session reserved`);
    }
    const other = this.channels.find((c) => c.open && sameEndpoint(c.public, pub));
    if (other !== undefined) throw new Error(`data channel refused: public endpoint ${formatEndpoint(pub)} is already used by data channel ${other.id}`);
    return { address: pub.address, port: pub.port };
  }

  private freePublicEndpoint(): Endpoint {
    const [p] = this.freePorts(1) ?? [];
    if (p === undefined) {
      const { from, to } = this.config.publicPorts;
      throw new Error(`data channel refused: no free public port left in ${from}-${to}`);
    }
    return { address: this.session.boundary.address, port: p };
  }

  /** Ports held: unreleased reservations, open channels' public ports on the boundary address, the boundary endpoint. */
  private heldPorts(): Set<number> {
    const held = new Set<number>([this.session.boundary.port]);
    for (const r of this.held) if (!r.released) r.ports.forEach((p) => held.add(p));
    for (const c of this.channels) if (c.open && c.public.address === this.session.boundary.address) held.add(c.public.port);
    return held;
  }

  private freePorts(count: number): Port[] | undefined {
    const held = this.heldPorts();
    const out: Port[] = [];
    for (let p = this.config.publicPorts.from; p <= this.config.publicPorts.to && out.length < count; p++) {
      if (!held.has(p)) out.push(p as Port);
    }
    return out.length === count ? out : undefined;
  }

  private freeRun(count: number, align: 1 | 2): Port[] | undefined {
    const held = this.heldPorts();
    const { from, to } = this.config.publicPorts;
    for (let start = from + (from % align); start + count - 1 <= to; start += align) {
      const run = Array.from({ length: count }, (_, i) => (start + i) as Port);
      if (run.every((p) => !held.has(p))) return run;
    }
    return undefined;
  }
}

const DIRECTIONS = new Set(['inbound', 'outbound', 'both']);

function checkChannelRequest(r: DataChannelRequest): void {
  if (r === null || typeof r !== 'object') throw new Error('data channel refused: the request must be an object');
  if (r.protocol !== 'tcp' && r.protocol !== 'udp') throw new Error(`data channel refused: protocol must be "tcp" or "udp", got ${JSON.stringify(r.protocol)}`);
  if (!DIRECTIONS.has(r.direction)) throw new Error(`data channel refused: direction must be "inbound", "outbound" or "both", got ${JSON.stringify(r.direction)}`);
  // Port 0: any port of the private host, for outbound channels only (as the host allows).
  checkEndpoint('private', r.private, r.direction === 'outbound');
  if (r.public !== undefined) checkEndpoint('public', r.public);
  if (r.remote !== undefined) {
    checkAddress('remote.address', r.remote?.address);
    if (r.remote.port !== undefined && (!isPort(r.remote.port) || r.remote.port === 0)) throw new Error(`data channel refused: remote.port ${String(r.remote.port)} is not a port 1-65535`);
  }
  if (r.lifetimeMs !== undefined) checkLifetime('data channel refused', r.lifetimeMs);
  if (r.fromBoundary === true && r.direction !== 'inbound') throw new Error('data channel refused: fromBoundary is for inbound channels only');
  try {
    channelNotify(r.notify);
  } catch (err) {
    throw new Error(`data channel refused: ${(err as Error).message}`);
  }
  for (const flag of ['persistent', 'fromBoundary'] as const) {
    if (r[flag] !== undefined && typeof r[flag] !== 'boolean') throw new Error(`data channel refused: ${flag} must be true or false`);
  }
}

/** The host keeps a channel at most a day. */
const MAX_LIFETIME_MS = 86_400_000;

function checkLifetime(refused: string, lifetimeMs: unknown): void {
  if (!(typeof lifetimeMs === 'number' && lifetimeMs > 0 && lifetimeMs <= MAX_LIFETIME_MS)) {
    throw new Error(`${refused}: lifetimeMs ${String(lifetimeMs)} is not between 1 ms and 24 h`);
  }
}

function checkEndpoint(what: string, ep: Endpoint | undefined, anyPort = false): void {
  if (ep === null || typeof ep !== 'object') throw new Error(`data channel refused: ${what} must be an endpoint`);
  checkAddress(`${what}.address`, ep.address);
  if (anyPort && ep.port === 0) return;
  if (!isPort(ep.port) || ep.port === 0) throw new Error(`data channel refused: ${what}.port ${String(ep.port)} is not a port 1-65535`);
}

/** Canonical text only: `ipAddress` would accept `[2001:db8::1]` or uncompressed IPv6 and compare unequal later. */
function checkAddress(what: string, address: unknown): void {
  let canonical: string | undefined;
  try {
    canonical = ipAddress(String(address));
  } catch {
    canonical = undefined;
  }
  if (typeof address !== 'string' || canonical !== address) throw new Error(`data channel refused: ${what} ${JSON.stringify(address)} is not an IP address in canonical form`);
}

function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!;
    if (x === 0) { bits += 8; continue; }
    return bits + Math.clz32(x) - 24;
  }
  return bits;
}
