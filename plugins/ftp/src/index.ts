import { definePlugin, port } from '@algd/sdk';

/**
 * FTP (RFC 959, RFC 2428): control connections on TCP port 21, framed as
 * CRLF lines. This version relays the control connection unchanged; the
 * PORT/EPRT/227/229 rewriting and data channels come with the FTP plugin.
 */
export default definePlugin({
  name: 'ftp',
  version: '0.1.0',
  apiVersion: '^0.1.0',
  description: 'FTP control connections (relay only in this version)',
  controlChannels: [{ protocol: 'tcp', ports: [port(21)], framing: { kind: 'lines', maxLineLength: 512 } }],
});
