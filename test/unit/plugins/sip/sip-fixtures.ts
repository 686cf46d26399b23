/** The SIP plugin's test network and message builders, shared by its unit tests. */
import { endpoint } from '@algd/sdk';
import { PluginTestSession, type PluginTestSessionOptions } from '@algd/sdk/testing';
import sip from '@algd/plugin-sip';

export const PHONE = endpoint('198.51.100.2', 5060);
export const SERVER = endpoint('203.0.113.2', 5060);
export const BOUNDARY = endpoint('203.0.113.1', 61234);

/** A UDP session of a phone at 198.51.100.2:5060 with a registrar at 203.0.113.2:5060, seen from 203.0.113.1:61234. */
export function udpSession(extra: PluginTestSessionOptions = {}) {
  return new PluginTestSession(sip, { protocol: 'udp', client: PHONE, server: SERVER, boundary: BOUNDARY, ...extra });
}

/** A message: start line, header lines, Content-Length (of the body), empty line, body. */
export function sipMessage(start: string, headers: readonly string[], body = ''): string {
  return [start, ...headers, `Content-Length: ${body.length}`, '', body].join('\r\n');
}

/** An SDP offer or answer: one connection address for the session, then the media sections. */
export function sdp(address: string, ...media: string[]): string {
  const family = address.includes(':') ? 'IP6' : 'IP4';
  return `v=0\r\no=- 1 1 IN ${family} ${address}\r\ns=-\r\nc=IN ${family} ${address}\r\nt=0 0\r\n${media.join('')}`;
}

export const audio = (port: number, extra = '') => `m=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n${extra}`;

/** The dialog's headers from the phone's side (phone's Via first). */
export function phoneHeaders(callId: string, cseq: string, extra: readonly string[] = []): string[] {
  return [
    'Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-1;rport',
    'From: "Alice" <sip:alice@198.51.100.2>;tag=a1',
    'To: <sip:bob@203.0.113.2>',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq}`,
    'Contact: <sip:alice@198.51.100.2:5060>',
    ...extra,
  ];
}

/** The same headers as the server sees them after the gateway. */
export function phoneHeadersOut(callId: string, cseq: string, extra: readonly string[] = []): string[] {
  return [
    'Via: SIP/2.0/UDP 203.0.113.1:61234;branch=z9hG4bK-1;rport',
    'From: "Alice" <sip:alice@203.0.113.1>;tag=a1',
    'To: <sip:bob@203.0.113.2>',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq}`,
    'Contact: <sip:alice@203.0.113.1:61234>',
    ...extra,
  ];
}

/** A response of the server to a request of the phone, as the server writes it (the gateway's endpoint in the phone's Via). */
export function serverResponse(status: string, callId: string, cseq: string, extra: readonly string[] = [], body = ''): string {
  return sipMessage(`SIP/2.0 ${status}`, [
    'Via: SIP/2.0/UDP 203.0.113.1:61234;branch=z9hG4bK-1;rport=61234',
    'From: "Alice" <sip:alice@203.0.113.1>;tag=a1',
    'To: <sip:bob@203.0.113.2>;tag=b1',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq}`,
    ...extra,
  ], body);
}

/** That response as the phone receives it. */
export function serverResponseIn(status: string, callId: string, cseq: string, extra: readonly string[] = [], body = ''): string {
  return sipMessage(`SIP/2.0 ${status}`, [
    'Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-1;rport=5060',
    'From: "Alice" <sip:alice@198.51.100.2>;tag=a1',
    'To: <sip:bob@203.0.113.2>;tag=b1',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq}`,
    ...extra,
  ], body);
}
