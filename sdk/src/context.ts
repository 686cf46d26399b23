import type { DataChannel, DataChannelRequest, RemoveDataChannelOptions } from './data-channel';
import type { PluginLogger } from './logger';
import type { IpAddress } from './net';
import type { PortReservation, PortReservationRequest } from './port-reservation';
import type { SessionInfo } from './session';

/**
 * What a handler gets with each message: the session, the plugin's
 * options, the session's state and the host's services (the ALG API's
 * IApplicationGatewayServices). Service calls are asynchronous: the host
 * answers them from outside the plugin's worker.
 */
export interface SessionContext<Options = unknown, State = unknown> {
  readonly session: SessionInfo;
  /** The plugin's options as its `options` parser returned them. */
  readonly options: Options;
  /**
   * The session's state. Assign or mutate it freely; what it holds when the
   * handler returns is what the next handler of the session sees. It must
   * be structured-cloneable plain data (objects, arrays, numbers, strings,
   * Maps, typed arrays): it travels between threads, and a worker that dies
   * loses nothing.
   */
  state: State;
  /** Log lines carry the plugin name and the session id. */
  readonly log: PluginLogger;
  /** Adds to one of the plugin's counters (shown by `algd status`), e.g. `count('bounce-refused')`. */
  count(counter: string, by?: number): void;
  /** Opens a data channel for this session; it ends at the latest with the session. */
  createDataChannel(request: DataChannelRequest): Promise<DataChannel>;
  /**
   * Ends a data channel of this session; connections already made through
   * it continue, unless `options.closeConnections` (API 0.4.0) closes them
   * too (see {@link RemoveDataChannelOptions}).
   */
  removeDataChannel(channel: number, options?: RemoveDataChannelOptions): Promise<void>;
  /**
   * Extends (or shortens) the life of an active data channel of this
   * session: it now expires `lifetimeMs` from this call, whatever its
   * lifetime was (persistent ones included), on the same endpoints and
   * terms. `lifetimeMs` is bounded as a request's: 1 ms to 24 h. Rejects
   * for a channel id this session does not own and for a channel that has
   * already ended (used, expired or removed): create a new one then.
   * A keep-alive renews its channels with it instead of removing and
   * recreating them. Since plugin API 0.2.0.
   */
  renewDataChannel(channel: number, lifetimeMs: number): Promise<void>;
  /** Holds public ports for this session (ReservePort). */
  reservePorts(request: PortReservationRequest): Promise<PortReservation>;
  /** Gives reserved ports back (ReleaseReservedPort). Ports in use by a data channel stay with it. */
  releasePorts(reservation: number): Promise<void>;
  /** The gateway address the OS would use as the source towards `destination` (GetBestSourceAddressForDestinationAddress). */
  bestSourceAddress(destination: IpAddress): Promise<IpAddress>;
  /**
   * How long the session may stay idle (nothing received from either
   * peer) before the host closes it: `ms`, a whole number of milliseconds
   * from 1000 to 86 400 000, instead of the host's configured idle timeout
   * (`sessions.tcpIdleTimeoutMs` / `udpIdleTimeoutMs`), which stays the
   * most it can be; without `ms`, the configured one again. It holds from
   * the end of this task until changed, and, as always, a session with a
   * live data channel is not closed for being idle. For a plugin that
   * knows its session holds nothing any more (a SIP phone socket whose
   * last call ended, with no registration), so the session's public port
   * goes back to the pool early. Throws RangeError for another `ms`.
   * Synchronous: the host applies it with the task's outcome. Since plugin
   * API 0.4.0.
   */
  setIdleTimeout(ms?: number): void;
}
