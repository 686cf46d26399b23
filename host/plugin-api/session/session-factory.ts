import type { ClientSide, Endpoint, IpAddress, TransportProtocol } from '@algd/sdk';
import type { ControlSession, SessionLegs } from './control-session';

/** What a listener or relay knows about a new session. */
export interface NewSession {
  readonly protocol: TransportProtocol;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly boundary: Endpoint;
  /** Default `private`. */
  readonly clientSide?: ClientSide;
  /** The gateway address a public client reached (published servers): data channels are announced on it. */
  readonly publicAddress?: IpAddress;
}

/**
 * Where a captured connection goes. For a client behind the gateway: the
 * original destination. For a client on the public side reaching a server
 * published behind the gateway: that server, and the gateway address the
 * client used is where the session's data channels are announced.
 */
export interface UpstreamRoute {
  readonly server: Endpoint;
  readonly clientSide: ClientSide;
  readonly publicAddress?: IpAddress;
}

/** Picks the route of a captured connection from its original destination; undefined: refuse it. */
export type UpstreamRouter = (protocol: TransportProtocol, originalDestination: Endpoint) => UpstreamRoute | undefined;

/** Creates sessions for a plugin's listeners and relays (the registry implements it). */
export interface SessionFactory {
  /** False when the host holds as many sessions as it may: the connection is refused. */
  canAccept(): boolean;
  create(spec: NewSession, legs: SessionLegs): ControlSession;
}

/** The engine's answer to "where was this connection going" (GetOriginalDestinationInformation). */
export type OriginalDestinationLookup = (protocol: TransportProtocol, peer: Endpoint, listener: Endpoint) => Endpoint | undefined;

/** Events a listener or relay counts. */
export type ListenerCounter = 'no-original-destination' | 'session-limit' | 'upstream-failed' | 'relay-backlog-drop' | 'not-published';
