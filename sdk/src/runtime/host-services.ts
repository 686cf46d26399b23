import type { DataChannel, DataChannelRequest, RemoveDataChannelOptions } from '../data-channel';
import type { IpAddress } from '../net';
import type { PortReservation, PortReservationRequest } from '../port-reservation';

/**
 * The host's side of a session's service calls. The plugin host implements
 * it over a message port from the worker; the test kit implements it in
 * memory. Every call is on behalf of the session the task belongs to.
 */
export interface HostServices {
  createDataChannel(request: DataChannelRequest): Promise<DataChannel>;
  removeDataChannel(channel: number, options?: RemoveDataChannelOptions): Promise<void>;
  renewDataChannel(channel: number, lifetimeMs: number): Promise<void>;
  reservePorts(request: PortReservationRequest): Promise<PortReservation>;
  releasePorts(reservation: number): Promise<void>;
  bestSourceAddress(destination: IpAddress): Promise<IpAddress>;
}

/** The service names, for RPC dispatch. */
export type HostServiceName = keyof HostServices;

/** Every service a plugin may call, for the RPC's dispatch table. */
export const HOST_SERVICE_NAMES: readonly HostServiceName[] = ['createDataChannel', 'removeDataChannel', 'renewDataChannel', 'reservePorts', 'releasePorts', 'bestSourceAddress'];
