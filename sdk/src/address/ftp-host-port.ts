import { ipFamily, ipFromBytes, ipToBytes, NetValueError, type Endpoint, type Port } from '../net';

/** Six fields of 1 to 3 ASCII digits separated by single commas, nothing else. */
const HOST_PORT = /^([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3})$/;

/** A maximal run of comma-separated digit groups (not inside a longer run). */
const CANDIDATE = /(?<![0-9,])[0-9]+(?:,[0-9]+)+(?![0-9,])/g;

/**
 * Parses FTP's `h1,h2,h3,h4,p1,p2` host-port form (RFC 959), as in the
 * argument of a PORT command and inside a 227 reply: an IPv4 address as
 * four decimal octets, then the port as two decimal bytes (port =
 * p1 × 256 + p2). `192,0,2,1,4,1` is 192.0.2.1 port 1025.
 *
 * Returns undefined, never throws, for anything else: a field above 255,
 * empty or longer than 3 digits, a sign, spaces, other characters, or more
 * or fewer than six fields. Leading zeros within 3 digits (`192,0,2,001,4,1`)
 * are accepted. The result's address is canonical.
 */
export function parseFtpHostPort(text: string): Endpoint | undefined {
  const m = HOST_PORT.exec(text);
  if (!m) return undefined;
  const fields = m.slice(1).map(Number);
  if (fields.some((f) => f > 255)) return undefined;
  return {
    address: ipFromBytes(Uint8Array.from(fields.slice(0, 4)), 0, 4),
    port: (fields[4]! * 256 + fields[5]!) as Port,
  };
}

/**
 * Formats an IPv4 endpoint in FTP's `h1,h2,h3,h4,p1,p2` form:
 * 192.0.2.1 port 1025 gives `192,0,2,1,4,1` (no parentheses, no spaces).
 * Throws {@link NetValueError} for an IPv6 endpoint, which the form cannot
 * carry (use EPRT/EPSV, see {@link formatEprtArgument}).
 */
export function formatFtpHostPort(endpoint: Endpoint): string {
  if (ipFamily(endpoint.address) !== 4) {
    throw new NetValueError(`FTP host-port form is IPv4 only: ${endpoint.address}`);
  }
  return [...ipToBytes(endpoint.address), endpoint.port >> 8, endpoint.port & 0xff].join(',');
}

/** Where {@link findFtpHostPort} found a host-port sequence in a text. */
export interface FtpHostPortMatch {
  /** The address and port the sequence encodes. */
  readonly endpoint: Endpoint;
  /** Offset of the sequence's first digit in the text. */
  readonly start: number;
  /** Offset just past its last digit: `text.slice(start, end)` is the sequence. */
  readonly end: number;
}

/**
 * Finds the first valid `h1,h2,h3,h4,p1,p2` sequence in a text, such as a
 * 227 reply with or without parentheses:
 * `227 Entering Passive Mode (192,0,2,1,4,1).` or
 * `227 Entering Passive Mode 192,0,2,1,4,1`. Returns the endpoint and the
 * sequence's offsets, so a caller can splice in a replacement:
 * `text.slice(0, m.start) + formatFtpHostPort(x) + text.slice(m.end)`.
 *
 * Only whole comma-separated digit runs are considered: a run with more or
 * fewer than six groups, a group above 255 or longer than 3 digits is not a
 * host-port and is skipped (digits are never borrowed from a longer run).
 * Returns undefined, never throws, when there is none.
 */
export function findFtpHostPort(text: string): FtpHostPortMatch | undefined {
  for (const m of text.matchAll(CANDIDATE)) {
    const endpoint = parseFtpHostPort(m[0]);
    if (endpoint) return { endpoint, start: m.index, end: m.index + m[0].length };
  }
  return undefined;
}
