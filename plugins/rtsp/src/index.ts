import { definePlugin, port } from '@algd/sdk';

/**
 * RTSP (RFC 2326): control connections on TCP port 554, framed by headers
 * and Content-Length with interleaved binary data. This version relays the
 * control connection unchanged; Transport rewriting and RTP/RTCP pinholes
 * come with the RTSP plugin.
 */
export default definePlugin({
  name: 'rtsp',
  version: '0.1.0',
  apiVersion: '^0.1.0',
  description: 'RTSP control connections (relay only in this version)',
  controlChannels: [{ protocol: 'tcp', ports: [port(554)], framing: { kind: 'sip', interleaved: true } }],
});
