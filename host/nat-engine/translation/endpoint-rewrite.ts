import { ipFamily, ipToBytes, type Endpoint } from '@algd/sdk';

/** An endpoint prepared for the hot path: address bytes ready to copy into a packet. */
export interface EndpointRewrite {
  readonly endpoint: Endpoint;
  readonly addr: Uint8Array;
  readonly port: number;
}

/** What one direction of a flow has rewritten: its source, its destination, or neither. */
export interface DirectionRewrite {
  readonly src?: EndpointRewrite;
  readonly dst?: EndpointRewrite;
}

export function endpointRewrite(endpoint: Endpoint): EndpointRewrite {
  return { endpoint, addr: ipToBytes(endpoint.address), port: endpoint.port };
}

/** Address family of an endpoint, for rules that must not cross families. */
export function endpointFamily(endpoint: Endpoint): 4 | 6 {
  return ipFamily(endpoint.address);
}
