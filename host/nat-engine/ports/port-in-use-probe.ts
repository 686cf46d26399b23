import type { TransportProtocol } from '@algd/sdk';

/**
 * Tells the port pool which ports local sockets already use, so the
 * gateway never hands one out: a mapping on a port the OS also uses would
 * steal that socket's packets (or lose its own to the socket).
 *
 * Called for each candidate port during a search, so implementations
 * answer from memory (see LinuxProcPortProbe's short cache).
 */
export interface PortInUseProbe {
  isInUse(protocol: TransportProtocol, port: number): boolean;
}

/** Knows of no port in use: for tests and for platforms without a probe yet. */
export const NO_PORT_IN_USE_PROBE: PortInUseProbe = Object.freeze({
  isInUse: () => false,
});
