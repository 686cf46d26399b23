import { port, type ControlChannelSpec } from '@algd/sdk';

/** SIP signalling: UDP and TCP port 5060 (RFC 3261). */
export const controlChannels: readonly ControlChannelSpec[] = [
  { protocol: 'udp', ports: [port(5060)] },
  { protocol: 'tcp', ports: [port(5060)] },
];
