import type { IpAddress, Port, TransportProtocol } from './net';

/** Ports a plugin wants to hold before it announces them (the ALG API's ReservePort). */
export interface PortReservationRequest {
  readonly protocol: TransportProtocol;
  /** How many ports; default 1, or 2 with `parity: 'even-odd'`. */
  readonly count?: number;
  /** All ports consecutive. Implied by `parity`. */
  readonly contiguous?: boolean;
  /** `even-odd`: consecutive ports starting at an even one (RTP on the even port, RTCP on the next). */
  readonly parity?: 'even-odd';
}

/** Public ports held for the session until released or the session ends. */
export interface PortReservation {
  /** Identifies the reservation in `releasePorts`. */
  readonly id: number;
  /** The public address the ports belong to. */
  readonly address: IpAddress;
  readonly ports: readonly Port[];
}
