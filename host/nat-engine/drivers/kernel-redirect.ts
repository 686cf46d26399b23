import type { Endpoint, Port } from '@algd/sdk';

/** One captured TCP control port of one IP version, and the listener its connections go to. */
export interface KernelRedirectEntry {
  readonly family: 4 | 6;
  readonly port: Port;
  readonly listener: Endpoint;
}

/**
 * A driver's kernel redirect for TCP control connections (optional): the
 * engine still sees each connection's SYN and decides whether it is
 * captured, but the kernel's NAT, not the engine, sends the connection to
 * the listener and translates its packets from then on, so none of them
 * but the SYN crosses to userland. That is how the Windows ALG works too:
 * it asks the NAT for a redirect, and the NAT carries the connection.
 *
 * Thin, like the rest of a driver: it installs and removes one kernel entry
 * per captured (family, port); which SYN takes it is the engine's decision,
 * told to the driver per packet (PacketProcessor.lastKernelRedirect).
 */
export interface KernelRedirect {
  /** Installs (or replaces) the entry of `entry.family`/`entry.port`. Rejects when the kernel refused it; nothing changed then. */
  set(entry: KernelRedirectEntry): Promise<void>;
  /** Removes the entry of `family`/`port`; one not installed is fine. */
  delete(family: 4 | 6, port: Port): Promise<void>;
}
