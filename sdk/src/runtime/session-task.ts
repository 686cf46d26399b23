import type { DataChannelEvent } from '../data-channel';
import type { LogFields, LogLevel } from '../logger';
import type { MessageDirection, SessionInfo } from '../session';

/** One unit of plugin work: a whole message of a session, or a data-channel event. */
export type SessionTask =
  | { readonly kind: 'message'; readonly direction: MessageDirection; readonly message: Uint8Array }
  | { readonly kind: 'data-channel-event'; readonly event: DataChannelEvent };

/**
 * What travels to the worker: the task with the session and its state.
 * `state` is undefined for the session's first task (the plugin's
 * `initialState` makes it).
 */
export interface TaskEnvelope {
  readonly session: SessionInfo;
  readonly state: unknown;
  readonly task: SessionTask;
}

/** A log line a plugin wrote during a task. */
export interface TaskLogRecord {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields?: LogFields;
}

/** What comes back from the worker. Plain data. */
export interface TaskOutcome {
  /** The session's state after the task. */
  readonly state: unknown;
  /** Bytes to send on (the message, rewritten or not); null when dropped. Always null for events. */
  readonly forward: Uint8Array | null;
  /** Bytes for the sender of the message. */
  readonly respond: Uint8Array | null;
  readonly close: boolean;
  /** Stop inspecting the session: later bytes pass unchanged without the plugin. */
  readonly release: boolean;
  /** Counter increments. */
  readonly counters: Readonly<Record<string, number>>;
  /**
   * The session's idle timeout as the task left it (`setIdleTimeout`,
   * API 0.4.0): ms, `null` for the host's configured one again; absent
   * when the task did not set it (unchanged).
   */
  readonly idleTimeoutMs?: number | null;
  readonly logs: readonly TaskLogRecord[];
}
