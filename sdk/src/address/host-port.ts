import { isIPv4, isIPv6 } from 'node:net';
import { ipAddress, ipFamily, type Endpoint, type IpAddress, type Port } from '../net';

/** An address with an optional port, as {@link parseHostPort} returns it. */
export interface HostPort {
  readonly address: IpAddress;
  /** Absent when the text had no `:port`. */
  readonly port?: Port;
}

/** Options of {@link parseHostPort}. */
export interface ParseHostPortOptions {
  /** The port to use when the text has none; the result is then an {@link Endpoint}. */
  readonly defaultPort: Port;
}

/**
 * Parses an IP literal with an optional port, as in SIP Via and Contact
 * headers, RTSP URLs and `host:port` settings: `198.51.100.2:5060`,
 * `198.51.100.2`, `[2001:db8::1]:5060`, `[2001:db8::1]`.
 *
 * Without options the port is optional in the result; with
 * `{ defaultPort }` the result is an {@link Endpoint} with that port when
 * the text has none.
 *
 * Returns undefined, never throws, for anything else: host names (only IP
 * literals are accepted), IPv6 without brackets (`2001:db8::1:5060` is
 * ambiguous), zone identifiers, IPv4 with leading zeros or octets above 255,
 * an empty port (`198.51.100.2:`), a port that is not 1 to 5 digits or is
 * above 65535, signs, spaces. The result's address is canonical.
 */
export function parseHostPort(text: string): HostPort | undefined;
export function parseHostPort(text: string, options: ParseHostPortOptions): Endpoint | undefined;
export function parseHostPort(text: string, options?: ParseHostPortOptions): HostPort | Endpoint | undefined {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    host = text.slice(1, close);
    if (!isIPv6(host) || host.includes('%')) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      portText = rest.slice(1);
    }
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (!isIPv4(host)) return undefined;
  }
  const address = ipAddress(host);
  if (portText === undefined) return options ? { address, port: options.defaultPort } : { address };
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const n = Number(portText);
  if (n > 0xffff) return undefined;
  return { address, port: n as Port };
}

/**
 * An endpoint as `host:port`, with brackets around IPv6 addresses:
 * `198.51.100.2:5060`, `[2001:db8::1]:5060`. {@link parseHostPort} reads
 * it back.
 */
export function formatHostPort(endpoint: Endpoint): string {
  return `${formatHost(endpoint.address)}:${endpoint.port}`;
}

/**
 * An address as the host part of a URI or `host:port` (RFC 3986): IPv4
 * unchanged (`198.51.100.2`), IPv6 in brackets (`[2001:db8::1]`).
 */
export function formatHost(address: IpAddress): string {
  return ipFamily(address) === 6 ? `[${address}]` : address;
}
