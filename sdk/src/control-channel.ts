import type { Port, TransportProtocol } from './net';

/**
 * A control channel a plugin captures: traffic to one of these ports on the
 * given transport is redirected to the host's loopback listener (TCP) or
 * datagram relay (UDP) and handed to the plugin. An administrator can
 * override the ports in configuration.
 */
export interface ControlChannelSpec {
  /** Transport of the control connection. */
  readonly protocol: TransportProtocol;
  /** Well-known destination ports captured by default. */
  readonly ports: readonly Port[];
}
