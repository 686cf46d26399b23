import { formatEndpoint, ipFamily, ipToBytes, type Endpoint, type IpAddress, type Port, type TransportProtocol } from '@algd/sdk';
import { endpointRewrite, type EndpointRewrite } from './endpoint-rewrite';

/**
 * Which way a data channel's connection may be opened:
 * `inbound` from the remote peer to the public endpoint (forwarded to the
 * private one: active FTP, an incoming RTP stream), `outbound` from the
 * private endpoint to the remote peer (its source shown as the public one),
 * or `both`.
 */
export type MappingDirection = 'inbound' | 'outbound' | 'both';

/** A data-channel mapping request (the ALG API's CreateDataChannel). */
export interface MappingSpec {
  readonly protocol: TransportProtocol;
  /**
   * The internal host's endpoint. For an `outbound` mapping, port 0 means any
   * port of the host: its connection to the remote leaves from the public
   * endpoint whatever its own source port, and replies go back to that port
   * (a passive-mode FTP data connection, whose source port nobody announces).
   */
  readonly private: Endpoint;
  /** The gateway's endpoint the outside sees. Same family as `private`. */
  readonly public: Endpoint;
  /** Only this peer may use the mapping (address, and port when given). */
  readonly remote?: { readonly address: IpAddress; readonly port?: Port };
  readonly direction: MappingDirection;
  /**
   * Inbound connections reach the private host from this gateway endpoint
   * instead of from the remote's own address (the gateway appears as the
   * peer, as it does on a relayed control connection). Not for `outbound`.
   */
  readonly privateSource?: Endpoint;
  /** One-shot mappings vanish once a connection has been made through them; persistent ones stay. */
  readonly persistent: boolean;
  /**
   * Milliseconds until the mapping expires: for a one-shot mapping, if it is
   * not used by then; for a persistent one, its whole life. Connections
   * already made through it are not cut. Omitted: one-shot 30 s, persistent
   * until removed.
   */
  readonly lifetimeMs?: number;
  /** The owner (a control session id): removing the owner removes its mappings. */
  readonly owner: string;
  /**
   * The owner's own socket already carries this traffic (a relay session's
   * upstream socket, connected to exactly this remote on exactly this public
   * endpoint): the mapping holds the path open and is listed and expires like
   * any other, but the engine translates nothing for it, so the packets keep
   * reaching that socket (and the plugin). A SIP registration's pinhole.
   */
  readonly carried?: boolean;
}

/** Why a mapping stopped accepting new connections. */
export type MappingEndReason = 'used' | 'expired' | 'removed';

/** Default life of a one-shot mapping that nobody uses. */
export const DEFAULT_ONE_SHOT_LIFETIME_MS = 30_000;

/** An installed mapping. */
export class Mapping {
  readonly protocol: TransportProtocol;
  readonly family: 4 | 6;
  readonly private: EndpointRewrite;
  readonly public: EndpointRewrite;
  readonly remoteAddr: Uint8Array | undefined;
  readonly remotePort: number | undefined;
  readonly privateSource: EndpointRewrite | undefined;
  readonly direction: MappingDirection;
  readonly persistent: boolean;
  readonly owner: string;
  readonly createdAt: number;
  private expiry: number;
  /** Set once the mapping takes no new connections. */
  endReason: MappingEndReason | undefined;
  /** Connections made through it that are still alive. */
  liveFlows = 0;
  /** Connections made through it in total. */
  uses = 0;

  constructor(readonly id: number, readonly spec: MappingSpec, now: number) {
    const family = ipFamily(spec.private.address);
    if (ipFamily(spec.public.address) !== family || (spec.remote && ipFamily(spec.remote.address) !== family)) {
      throw new RangeError('a mapping cannot translate between IPv4 and IPv6');
    }
    if (spec.private.port === 0 && spec.direction !== 'outbound') throw new RangeError('only an outbound mapping may take any private port');
    if (spec.privateSource && (spec.direction === 'outbound' || ipFamily(spec.privateSource.address) !== family)) throw new RangeError('a private source needs an inbound mapping of the same IP version');
    this.protocol = spec.protocol;
    this.family = family;
    this.private = endpointRewrite(spec.private);
    this.public = endpointRewrite(spec.public);
    this.remoteAddr = spec.remote ? ipToBytes(spec.remote.address) : undefined;
    this.remotePort = spec.remote?.port;
    this.privateSource = spec.privateSource ? endpointRewrite(spec.privateSource) : undefined;
    this.direction = spec.direction;
    this.persistent = spec.persistent;
    this.owner = spec.owner;
    this.createdAt = now;
    const lifetime = spec.lifetimeMs ?? (spec.persistent ? Infinity : DEFAULT_ONE_SHOT_LIFETIME_MS);
    this.expiry = now + lifetime;
  }

  /** When it stops taking new connections unless used or removed first (Infinity: never by itself). */
  get expiresAt(): number {
    return this.expiry;
  }

  /** Its life runs `lifetimeMs` from `now` (a renewal); only the engine calls it, for an active mapping. */
  renew(now: number, lifetimeMs: number): void {
    if (!(lifetimeMs > 0)) throw new RangeError(`a mapping's lifetime must be positive, not ${lifetimeMs}`);
    this.expiry = now + lifetimeMs;
  }

  /** The private side takes any port (outbound only). */
  get anyPrivatePort(): boolean {
    return this.private.port === 0;
  }

  get active(): boolean {
    return this.endReason === undefined;
  }

  describe(): string {
    const r = this.spec.remote;
    const remote = r ? ` remote ${r.port === undefined ? r.address : formatEndpoint({ address: r.address, port: r.port })}` : '';
    const via = this.privateSource ? ` via ${formatEndpoint(this.privateSource.endpoint)}` : '';
    const carried = this.spec.carried === true ? ' carried by its session' : '';
    return `${this.protocol} ${formatEndpoint(this.private.endpoint)} <-> ${formatEndpoint(this.public.endpoint)} ${this.direction}${remote}${via}${carried}`;
  }
}
