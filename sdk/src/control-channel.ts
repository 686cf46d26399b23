import type { Framing } from './framing/framing';
import type { Port, TransportProtocol } from './net';

/**
 * A control channel a plugin captures (the ALG API's
 * CreatePrimaryControlChannel): connections to one of these ports on the
 * given transport are redirected to the host's loopback listener (TCP) or
 * datagram relay (UDP) and handed to the plugin message by message. An
 * administrator can override the ports in configuration.
 */
export interface ControlChannelSpec {
  /** Transport of the control connection. */
  readonly protocol: TransportProtocol;
  /** Well-known destination ports captured by default. */
  readonly ports: readonly Port[];
  /**
   * How the stream is cut into messages (TCP). Over UDP every datagram is
   * one message; with `sip` framing a datagram that is not one whole
   * message is refused. Default `raw`.
   */
  readonly framing?: Framing;
}
