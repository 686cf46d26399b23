import type { TransportProtocol } from '../net';
import type { PortReservation, PortReservationRequest } from '../port-reservation';

/** Ports a plugin reserved in a test: what the host answered, the request, and whether they are still held. */
export interface RecordedReservation extends PortReservation {
  readonly protocol: TransportProtocol;
  /** The plugin's request as it reached the host (after structured cloning). */
  readonly request: PortReservationRequest;
  /** True once released by the plugin or by the end of the session. */
  readonly released: boolean;
}
