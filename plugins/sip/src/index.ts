import { definePlugin, port } from '@algd/sdk';

/**
 * SIP (RFC 3261): signalling on UDP and TCP port 5060, framed by headers and
 * Content-Length. This version relays signalling unchanged; address
 * rewriting and media pinholes come with the SIP plugin.
 */
export default definePlugin({
  name: 'sip',
  version: '0.1.0',
  apiVersion: '^0.1.0',
  description: 'SIP signalling (relay only in this version)',
  controlChannels: [
    { protocol: 'udp', ports: [port(5060)], framing: { kind: 'sip' } },
    { protocol: 'tcp', ports: [port(5060)], framing: { kind: 'sip' } },
  ],
});
