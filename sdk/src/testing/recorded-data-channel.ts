import type { DataChannel, DataChannelEndReason, DataChannelRequest } from '../data-channel';

/** Why a data channel recorded by the test kit is no longer open: the host's reasons, or the session's end. */
export type RecordedEndReason = DataChannelEndReason | 'session-ended';

/**
 * A data channel a plugin asked for in a test: what the host answered
 * (the {@link DataChannel} fields, with the public endpoint assigned), the
 * request exactly as the plugin made it, and whether it is still open.
 */
export interface RecordedDataChannel extends DataChannel {
  /** The plugin's request as it reached the host (after structured cloning). */
  readonly request: DataChannelRequest;
  /** True until the channel is used (one-shot), ends, is removed or the session ends. */
  readonly open: boolean;
  /**
   * The `lifetimeMs` of each `renewDataChannel` call that renewed it, in
   * order: the last is the lifetime in force, counted from that call.
   * Absent while it was never renewed (so a recorded channel compares as
   * it did before plugin API 0.2.0).
   */
  readonly renewals?: readonly number[];
  /** Why it closed; undefined while open. */
  readonly endReason?: RecordedEndReason;
  /**
   * True when the plugin removed it with `closeConnections` (API 0.4.0):
   * the connections made through it were closed with it. Absent otherwise
   * (so a recorded channel compares as it did before).
   */
  readonly connectionsClosed?: true;
}
