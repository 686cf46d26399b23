import { port, type ControlChannelSpec } from '@algd/sdk';

/** RTSP control connections: TCP port 554 (RFC 2326). */
export const controlChannels: readonly ControlChannelSpec[] = [{ protocol: 'tcp', ports: [port(554)] }];
