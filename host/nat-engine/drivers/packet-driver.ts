import type { ProcessOutcome } from '../engine-counters';
import type { PacketMeta } from '../packet-meta';
import type { CaptureSpec } from './capture-spec';

/** The engine as a driver sees it: one call per packet, rewriting in place. */
export interface PacketProcessor {
  process(buf: Buffer, meta: PacketMeta, offset?: number, length?: number): ProcessOutcome;
}

/** Counters every driver keeps, for status. */
export interface DriverStats {
  readonly received: number;
  readonly accepted: number;
  readonly dropped: number;
  readonly modified: number;
  readonly errors: number;
}

/**
 * A packet driver moves raw IP packets between the OS and the engine and
 * installs the capture filter. It holds no translation logic: it asks the
 * processor about every captured packet, forwards what comes back
 * (rewritten in place when `translated`) and drops what the processor drops.
 */
export interface PacketDriver {
  /** The configuration name of the driver. */
  readonly name: string;
  /**
   * Installs the capture for `spec` (removing stale state a crashed run left)
   * and starts handing packets to `processor`. On failure nothing stays
   * installed.
   */
  open(spec: CaptureSpec, processor: PacketProcessor): Promise<void>;
  /** Stops capturing and removes everything the driver installed. Idempotent. */
  close(): Promise<void>;
  readonly stats: DriverStats;
}
