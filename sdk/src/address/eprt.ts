import { isIPv4, isIPv6 } from 'node:net';
import { ipAddress, ipFamily, type Endpoint, type Port } from '../net';

/** A port as 1 to 5 ASCII digits, at most 65535; undefined otherwise. */
function parsePortDigits(text: string): Port | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffff ? (n as Port) : undefined;
}

/** True for a delimiter RFC 2428 allows: a printable ASCII character (33 to 126). */
function isDelimiter(code: number): boolean {
  return code >= 33 && code <= 126;
}

/**
 * Parses the argument of an FTP EPRT command (RFC 2428):
 * `<d><net-prt><d><net-addr><d><tcp-port><d>`, for example
 * `|1|198.51.100.2|6275|` or `|2|2001:db8::2|6275|`. The delimiter may be
 * any ASCII character from 33 to 126, the same all four times, and must not
 * occur inside the fields.
 *
 * Returns undefined, never throws, unless: the protocol is exactly `1` with
 * a dotted-quad IPv4 address (no leading zeros) or exactly `2` with an IPv6
 * address (no brackets, no zone); the port is 1 to 5 digits, at most 65535;
 * nothing precedes or follows. The result's address is canonical.
 */
export function parseEprtArgument(text: string): Endpoint | undefined {
  if (text.length < 2 || !isDelimiter(text.charCodeAt(0))) return undefined;
  const parts = text.split(text[0]!);
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return undefined;
  const [, family, address, portText] = parts as [string, string, string, string, string];
  const portValue = parsePortDigits(portText);
  if (portValue === undefined) return undefined;
  if (family === '1' && isIPv4(address)) return { address: ipAddress(address), port: portValue };
  if (family === '2' && isIPv6(address) && !address.includes('%')) return { address: ipAddress(address), port: portValue };
  return undefined;
}

/**
 * Formats an endpoint as a canonical EPRT argument with `|` delimiters:
 * `|1|198.51.100.2|6275|` for IPv4, `|2|2001:db8::2|6275|` for IPv6.
 */
export function formatEprtArgument(endpoint: Endpoint): string {
  return `|${ipFamily(endpoint.address) === 4 ? 1 : 2}|${endpoint.address}|${endpoint.port}|`;
}

/** Where {@link parseEpsvReply} found the port of a 229 reply. */
export interface EpsvPortMatch {
  /** The announced port. */
  readonly port: Port;
  /** Offset of the opening parenthesis in the text. */
  readonly start: number;
  /** Offset just past the closing parenthesis: `text.slice(start, end)` is `(|||6446|)`. */
  readonly end: number;
}

/**
 * Finds the port in the text of a 229 reply (RFC 2428), for example
 * `229 Entering Extended Passive Mode (|||6446|)`: the first
 * `(<d><d><d><port><d>)` with one delimiter (ASCII 33 to 126, not a digit)
 * used all four times and a port of 1 to 5 digits, at most 65535. Returns
 * the port and the offsets of the whole parenthesised group, so a caller can
 * splice in {@link formatEpsvPort}'s output. Returns undefined, never
 * throws, when there is none.
 */
export function parseEpsvReply(text: string): EpsvPortMatch | undefined {
  for (let open = text.indexOf('('); open >= 0; open = text.indexOf('(', open + 1)) {
    const d = text.charCodeAt(open + 1);
    if (!isDelimiter(d) || (d >= 0x30 && d <= 0x39)) continue;
    if (text.charCodeAt(open + 2) !== d || text.charCodeAt(open + 3) !== d) continue;
    let i = open + 4;
    while (i < text.length && i - (open + 4) < 6 && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (text.charCodeAt(i) !== d || text[i + 1] !== ')') continue;
    const portValue = parsePortDigits(text.slice(open + 4, i));
    if (portValue !== undefined) return { port: portValue, start: open, end: i + 2 };
  }
  return undefined;
}

/** The port group of a 229 reply: port 6446 gives `(|||6446|)`. */
export function formatEpsvPort(port: Port): string {
  return `(|||${port}|)`;
}
