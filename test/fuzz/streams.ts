/**
 * Generators shared by the property tests: byte streams that look like the
 * protocols (so the fuzzing reaches past the first check) and random ways of
 * cutting a stream into chunks.
 */

import fc from 'fast-check';

/** Cuts `bytes` at the given offsets (any values; taken modulo the length, sorted, deduplicated). */
export function cutAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  if (bytes.length === 0) return [];
  const points = [...new Set(cuts.map((c) => c % bytes.length))].filter((c) => c > 0).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

/** Cut points for {@link cutAt}: none, a few, or many (byte by byte in the limit). */
export const cuts = (): fc.Arbitrary<number[]> => fc.array(fc.nat({ max: 1_000_000 }), { maxLength: 40 });

const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** Tokens FTP control lines are made of, the hostile ones included. */
const FTP_TOKENS = [
  'PORT ', 'EPRT ', 'PASV', 'EPSV', 'RETR f', 'USER anonymous', 'SITE EXEC ', 'SITE CPFR', 'port ', 'eprt ',
  '227 Entering Passive Mode (', '229 Entering Extended Passive Mode (|||', '200 ', '150 ', '226 ',
  '198,51,100,2,19,137', '203,0,113,2,195,80', '203,0,113,99,1,1', '198,51,100,256,1,1', '198,51,100,2,0,21', '-1,2,3,4,5,6',
  '|1|198.51.100.2|6275|', '|2|2001:db8::2|6275|', '|1|203.0.113.99|50000|', '|1|198.51.100.2|65536|', '|||6446|)', '|||0|)',
  '99999999999999999999', ',', '|', '(', ')', ' ', '\r\n', '\n', '\r', '\0', '\r\nPORT 198,51,100,2,4,1\r\n',
];

/** An FTP-ish byte stream: protocol tokens mixed with arbitrary bytes. */
export const ftpStream = (): fc.Arbitrary<Uint8Array> =>
  fc.array(fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...FTP_TOKENS).map(latin1) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 24 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 70_000 }).map((n) => latin1(String(n))) },
  ), { maxLength: 40 }).map((parts) => Buffer.concat(parts));

/** Header lines and pieces of SIP/RTSP messages, the hostile ones included. */
const SIP_TOKENS = [
  'INVITE sip:bob@203.0.113.2 SIP/2.0', 'SIP/2.0 200 OK', 'OPTIONS rtsp://203.0.113.2/s RTSP/1.0', 'SETUP rtsp://203.0.113.2/s/track1 RTSP/1.0', 'RTSP/1.0 200 OK',
  'Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK1', 'Contact: <sip:alice@198.51.100.2:5060>', 'CSeq: 1 INVITE', 'Call-ID: a@198.51.100.2',
  'Transport: RTP/AVP;unicast;client_port=5000-5001', 'Transport: RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001', 'Session: 1234',
  'Content-Type: application/sdp', 'Content-Length: 0', 'Content-Length: 4', 'Content-Length: 40', 'l: 3', 'Content-Length: -1', 'Content-Length: 99999999999999999999999',
  'Content-Length: 4294967296', 'Content-Length: 0x10', 'Content-Length:', 'content-length : 2', ' folded', '\t2',
  'v=0', 'o=- 1 1 IN IP4 198.51.100.2', 'c=IN IP4 198.51.100.2', 'c=IN IP4 203.0.113.99', 'c=IN IP6 2001:db8::2', 'm=audio 4000 RTP/AVP 0', 'm=audio 70000 RTP/AVP 0', 'a=rtcp:4001',
  '$\0\0\x04abcd', '$\x01\xff\xff', '\r\n', '\n', '\r', '\r\n\r\n', '\0', ': ', ';',
];

/** A SIP/RTSP-ish byte stream: message pieces, line ends and arbitrary bytes. */
export const sipStream = (): fc.Arbitrary<Uint8Array> =>
  fc.array(fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...SIP_TOKENS).map(latin1) },
    { weight: 3, arbitrary: fc.constantFrom('\r\n', '\n').map(latin1) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 24 }) },
  ), { maxLength: 60 }).map((parts) => Buffer.concat(parts));
