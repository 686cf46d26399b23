import { port, type ControlChannelSpec } from '@algd/sdk';

/** FTP control connections: TCP port 21 (RFC 959). */
export const controlChannels: readonly ControlChannelSpec[] = [{ protocol: 'tcp', ports: [port(21)] }];
