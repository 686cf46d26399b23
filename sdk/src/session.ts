import type { Endpoint, IpAddress, TransportProtocol } from './net';

/**
 * Adapter roles, as in the Windows ALG API: `private` faces the internal
 * clients, `boundary` faces the internet (the NAT's public side),
 * `firewalled` is a public adapter that denies unsolicited inbound traffic.
 */
export type AdapterType = 'private' | 'boundary' | 'firewalled';

/** A network adapter of the gateway (the ALG API's EnumerateAdapters). */
export interface AdapterInfo {
  /** The OS interface name or, on Windows, the adapter's friendly name. */
  readonly name: string;
  readonly type: AdapterType;
  readonly addresses: readonly IpAddress[];
}

/** Which side of the gateway a session's client is on. */
export type ClientSide = 'private' | 'public';

/**
 * One captured control session as the host terminated it: the client's leg
 * (client to the host's listener) and the upstream leg (the host to the
 * server the client asked for). Plain data; the same for every task of the
 * session.
 */
export interface SessionInfo {
  /** Unique for the life of the host, e.g. `ftp-17`. Every log line of the session carries it. */
  readonly id: string;
  /** The plugin handling the session. */
  readonly plugin: string;
  readonly protocol: TransportProtocol;
  /** The client as the gateway sees it (for outbound sessions a private host). */
  readonly client: Endpoint;
  /** The session's original destination: the server the client addressed (the ALG API's GetOriginalDestinationInformation). */
  readonly server: Endpoint;
  /** The gateway's endpoint on the upstream leg: what the server sees as the client. */
  readonly boundary: Endpoint;
  /** `private` for a client behind the gateway, `public` for a client reaching a published server. */
  readonly clientSide: ClientSide;
  /** The gateway's adapters when the session started. */
  readonly adapters: readonly AdapterInfo[];
}

/** Which way a message travels through the gateway. */
export type MessageDirection = 'client-to-server' | 'server-to-client';
