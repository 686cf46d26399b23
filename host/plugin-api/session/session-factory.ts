import type { Endpoint, TransportProtocol } from '@algd/sdk';
import type { ControlSession, SessionLegs } from './control-session';

/** What a listener or relay knows about a new session. */
export interface NewSession {
  readonly protocol: TransportProtocol;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly boundary: Endpoint;
}

/** Creates sessions for a plugin's listeners and relays (the registry implements it). */
export interface SessionFactory {
  /** False when the host holds as many sessions as it may: the connection is refused. */
  canAccept(): boolean;
  create(spec: NewSession, legs: SessionLegs): ControlSession;
}

/** The engine's answer to "where was this connection going" (GetOriginalDestinationInformation). */
export type OriginalDestinationLookup = (protocol: TransportProtocol, peer: Endpoint, listener: Endpoint) => Endpoint | undefined;

/** Events a listener or relay counts. */
export type ListenerCounter = 'no-original-destination' | 'session-limit' | 'upstream-failed' | 'relay-backlog-drop';
