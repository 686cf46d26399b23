import type { Port, TransportProtocol } from '@algd/sdk';

/** An inclusive port range. */
export interface CapturePortRange {
  readonly from: number;
  readonly to: number;
}

/** An adapter as a driver needs it: the OS interface and which side it faces. */
export interface CaptureAdapter {
  /** The OS interface name (Linux) or adapter name (Windows). */
  readonly name: string;
  /** `private` faces internal clients; `public` is a boundary or firewalled adapter. */
  readonly side: 'private' | 'public';
  /**
   * A public adapter whose firewall denies unsolicited inbound connections
   * (the ALG API's firewalled adapter): the driver lets the inbound
   * connections of algd's data channels through it (a pinhole per
   * connection, gone with the connection). Default false.
   */
  readonly firewalled?: boolean;
}

/**
 * What a driver must hand to the engine; everything else stays in the
 * kernel's fast path. Derived from configuration by the host; drivers turn
 * it into their filter (iptables rules, a WinDivert filter string).
 *
 * - New connections from a private adapter to a control port (redirects).
 * - Connections from a public adapter to a public mapping port (inbound
 *   data channels).
 * - The first packet of every new connection leaving through a public
 *   adapter (outbound data channels: only the engine knows which).
 * - Every later packet of a connection the engine took over (the driver
 *   remembers those connections: marks and conntrack on Linux).
 */
export interface CaptureSpec {
  readonly adapters: readonly CaptureAdapter[];
  /** Control channels captured from private clients. */
  readonly controlPorts: readonly { readonly protocol: TransportProtocol; readonly port: Port }[];
  /**
   * Control channels of servers published behind the gateway: new
   * connections from public adapters to these ports on a gateway address.
   * Default none.
   */
  readonly publishedPorts?: readonly { readonly protocol: TransportProtocol; readonly port: Port }[];
  /** The host's loopback listener ports. */
  readonly listenerPorts: CapturePortRange;
  /** The public ports handed out for mappings. */
  readonly mappingPorts: CapturePortRange;
  /** IP versions to capture. */
  readonly families: readonly (4 | 6)[];
}
