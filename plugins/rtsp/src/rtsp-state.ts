import type { SessionContext } from '@algd/sdk';
import type { RtspOptions } from './rtsp-options';
import type { StreamState } from './streams';

/**
 * Per-connection state (plain, structured-cloneable data). Maps, not
 * objects, are keyed by what the peers send, so no Session id or CSeq can
 * name a prototype property.
 */
export interface RtspState {
  /** RTSP sessions by Session id (`''` for a SETUP answered without one, never matched by a later request). */
  sessions: Map<string, RtspSessionState>;
  /** SETUPs whose UDP alternatives are mapped, waiting for their reply, by CSeq. */
  pending: Map<string, PendingSetup>;
}

export interface RtspSessionState {
  /** The timeout the server announced (or the default), bounded by the options. */
  timeoutS: number;
  streams: StreamState[];
}

export interface PendingSetup {
  /** The Session id the SETUP carried (a further stream of an aggregate). */
  readonly session?: string;
  /** One mapped stream per UDP alternative offered; the reply keeps one. */
  readonly alternatives: StreamState[];
}

export type Ctx = SessionContext<RtspOptions, RtspState>;

export function initialRtspState(): RtspState {
  return { sessions: new Map(), pending: new Map() };
}

/** Streams held, mapped or pending (each pending SETUP counts once): what `maxStreamsPerSession` bounds. */
export function streamsHeld(state: RtspState): number {
  let n = state.pending.size;
  for (const s of state.sessions.values()) n += s.streams.length;
  return n;
}

/** The channels' lifetime for a session timeout: the timeout, bounded, plus slack. */
export function lifetimeFor(options: RtspOptions, timeoutS: number | undefined): { timeoutS: number; lifetimeMs: number } {
  // `timeout=0` would mean no lifetime at all: taken as not announced.
  const announced = timeoutS === undefined || timeoutS === 0 ? options.defaultSessionTimeoutS : timeoutS;
  const t = Math.min(announced, options.maxSessionTimeoutS);
  return { timeoutS: t, lifetimeMs: t * 1000 + options.timeoutSlackMs };
}
