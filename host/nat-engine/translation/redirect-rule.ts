import { formatEndpoint, type Endpoint, type Port, type TransportProtocol } from '@algd/sdk';
import type { PacketOrigin } from '../packet-meta';
import { endpointFamily, endpointRewrite, type EndpointRewrite } from './endpoint-rewrite';

/**
 * Capture a control channel: new connections to `port` (from the given
 * origins, by default only private clients) are sent to the host's listener
 * instead of their destination; the listener's replies are translated back
 * so the client still sees the server it asked for.
 */
export interface RedirectSpec {
  readonly protocol: TransportProtocol;
  /** The captured destination port (21 for FTP). */
  readonly port: Port;
  /** Where the connection goes instead: the loopback listener. Its family selects IPv4 or IPv6 traffic. */
  readonly listener: Endpoint;
  /** Origins whose new connections are captured; default `['private']`. */
  readonly from?: readonly PacketOrigin[];
  /** Who asked for it (a plugin name), for status and removal. */
  readonly owner?: string;
}

/**
 * Where a TCP redirect's connections are carried: by the engine
 * (`userland`), or by the driver's kernel redirect (kernel-redirect.ts),
 * whose entry is being installed (`pending`), in place (`installed`) or was
 * refused (`refused`).
 */
export type RedirectCarrier = 'userland' | 'pending' | 'installed' | 'refused';

/** An installed redirect. */
export class RedirectRule {
  readonly protocol: TransportProtocol;
  readonly port: Port;
  readonly family: 4 | 6;
  readonly listener: EndpointRewrite;
  readonly from: ReadonlySet<PacketOrigin>;
  readonly owner: string | undefined;
  /** Connections redirected so far. */
  hits = 0;
  /** Who carries the redirected connections; the engine sets it. */
  carrier: RedirectCarrier = 'userland';
  /** Connections let through uncaptured because the kernel entry was pending or refused. */
  missed = 0;

  constructor(readonly id: number, spec: RedirectSpec) {
    this.protocol = spec.protocol;
    this.port = spec.port;
    this.family = endpointFamily(spec.listener);
    this.listener = endpointRewrite(spec.listener);
    this.from = new Set(spec.from ?? ['private']);
    this.owner = spec.owner;
  }

  describe(): string {
    const carrier = this.carrier === 'userland' ? '' : `, kernel redirect ${this.carrier}${this.missed > 0 ? ` (${this.missed} let through while not installed)` : ''}`;
    return `${this.protocol} port ${this.port} (IPv${this.family}) -> ${formatEndpoint(this.listener.endpoint)}${carrier}`;
  }
}
