import type { Endpoint, IpAddress, Port, TransportProtocol } from './net';

/**
 * Which way a data channel's connection may be opened:
 * `inbound` from the remote peer to the public endpoint (the gateway
 * forwards it to the private one: active FTP, an incoming RTP stream),
 * `outbound` from the private endpoint to the remote peer (its source shown
 * as the public endpoint), or `both`.
 */
export type DataChannelDirection = 'inbound' | 'outbound' | 'both';

/**
 * A data channel the plugin asks for (the ALG API's CreateDataChannel and
 * CreatePersistentDataChannel). The host checks it against the session:
 * the private endpoint must belong to one of the session's own peers (no
 * bounce to third parties), and each session has a cap on channels.
 */
export interface DataChannelRequest {
  readonly protocol: TransportProtocol;
  /**
   * The internal endpoint: the session peer's announced address and port.
   * For an `outbound` channel port 0 means any port of that peer: its next
   * connection to `remote` leaves from the public endpoint whatever its own
   * source port (a passive-mode FTP data connection, whose source port
   * nobody announces, then comes from the same address as the control
   * connection).
   */
  readonly private: Endpoint;
  /**
   * The gateway's public endpoint for the channel: a port this session
   * reserved with `reservePorts`, or the session's `boundary` endpoint.
   * Omitted: the host picks a free port on the boundary address.
   *
   * An `inbound` channel on the boundary endpoint from exactly the session's
   * server (address and port) to exactly its client is the session's own
   * path: the host keeps the session (and that public port) open for the
   * channel's lifetime and the traffic keeps flowing through the plugin, as
   * it did before. A SIP registration asks for one so that the registrar's
   * requests reach the phone for the registration's whole lifetime.
   */
  readonly public?: Endpoint;
  /** Only this peer may use the channel: its address, and its port when given. Omitted: anyone. */
  readonly remote?: { readonly address: IpAddress; readonly port?: Port };
  readonly direction: DataChannelDirection;
  /** A persistent channel takes any number of connections until it expires or is removed; default one-shot (the first connection ends it). */
  readonly persistent?: boolean;
  /**
   * Milliseconds the channel waits: for a one-shot channel, for its
   * connection; for a persistent one, its whole life. Connections already
   * made are never cut by it. Default: one-shot 30 s, persistent until the
   * session ends.
   */
  readonly lifetimeMs?: number;
  /**
   * Deliver events for this channel to `onDataChannelEvent`: `true` for
   * `used` and every `ended`; since API 0.3.0 a {@link DataChannelNotify}
   * naming only the events the plugin acts on. Every delivered event is a
   * worker task, so asking for fewer keeps the host's load down (a SIP call
   * without them takes half the tasks). Default: none.
   */
  readonly notify?: boolean | DataChannelNotify;
  /**
   * Inbound only: the private host sees the connection come from the
   * session's boundary address (as the relayed control connection does)
   * instead of from the remote peer. For servers behind the gateway that
   * refuse a data connection from another address than the control
   * connection's (vsftpd's pasv_promiscuous=NO). Default false.
   */
  readonly fromBoundary?: boolean;
}

/** A data channel the host opened. */
export interface DataChannel {
  /** Identifies the channel in events and in `removeDataChannel`. */
  readonly id: number;
  readonly protocol: TransportProtocol;
  readonly private: Endpoint;
  /** The public endpoint to announce to the remote peer. */
  readonly public: Endpoint;
  readonly direction: DataChannelDirection;
  readonly persistent: boolean;
}

/** How `removeDataChannel` ends a channel (API 0.4.0). */
export interface RemoveDataChannelOptions {
  /**
   * Close the connections already made through the channel as well: the
   * host forgets them at once, so their later packets are no longer
   * translated (a TCP connection is cut, not reset), and the channel's
   * public port goes back to the pool now rather than when they would
   * have idled out. For a channel whose protocol has ended, such as a
   * call's RTP and RTCP after its BYE. Default false: they continue.
   */
  readonly closeConnections?: boolean;
}

/** Why a data channel stopped taking connections. */
export type DataChannelEndReason = 'used' | 'expired' | 'removed';

/**
 * Which events of a channel to deliver (API 0.3.0): `used` when set, and
 * `ended` for the reasons listed. `{ ended: ['expired'] }` tells a plugin
 * only what it cannot know itself; `removed` follows the plugin's own
 * removeDataChannel (or the session's end).
 */
export interface DataChannelNotify {
  /** Deliver the `used` event (the first connection or datagram through the channel). Default false. */
  readonly used?: boolean;
  /** Deliver `ended` for these reasons. Default: none. */
  readonly ended?: readonly DataChannelEndReason[];
}

/** Notifications for a channel requested with `notify` (the ALG API's data-channel events). */
export type DataChannelEvent =
  | { readonly kind: 'used'; readonly channel: number; readonly peer: Endpoint }
  | { readonly kind: 'ended'; readonly channel: number; readonly reason: DataChannelEndReason };
