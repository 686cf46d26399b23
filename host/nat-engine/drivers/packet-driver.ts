import type { ProcessOutcome } from '../engine-counters';
import type { PacketMeta } from '../packet-meta';

/** The engine as a driver sees it: one call per packet, rewriting in place. */
export interface PacketProcessor {
  process(buf: Buffer, meta: PacketMeta, offset?: number, length?: number): ProcessOutcome;
}

/**
 * A packet driver moves raw IP packets between the OS and the engine and
 * installs the capture filter. It holds no translation logic.
 */
export interface PacketDriver {
  /** The configuration name of the driver. */
  readonly name: string;
  /** Starts capturing and hands every captured packet to `processor`. */
  open(processor: PacketProcessor): Promise<void>;
  /** Stops capturing and removes everything the driver installed. Idempotent. */
  close(): Promise<void>;
}
