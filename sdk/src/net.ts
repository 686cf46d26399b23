/**
 * Network value types shared by the host and every plugin.
 *
 * Addresses, ports and protocols are branded so that a bare `number` or
 * `string` cannot be passed where a validated one is meant: construct them
 * with {@link ipAddress}, {@link port} and friends, which reject bad input
 * with a {@link NetValueError}.
 *
 * @packageDocumentation
 */

import { isIPv4, isIPv6 } from 'node:net';

declare const ipBrand: unique symbol;
declare const portBrand: unique symbol;

/** An IPv4 or IPv6 address in canonical text form (`198.51.100.2`, `2001:db8::2`). */
export type IpAddress = string & { readonly [ipBrand]: true };

/** A transport port number, an integer from 0 to 65535. */
export type Port = number & { readonly [portBrand]: true };

/** The IP version of an address. */
export type IpFamily = 4 | 6;

/** The transport protocols a gateway translates. */
export type TransportProtocol = 'tcp' | 'udp';

/** An address and port pair. */
export interface Endpoint {
  readonly address: IpAddress;
  readonly port: Port;
}

/** Thrown by the constructors in this module when a value is not valid. */
export class NetValueError extends Error {
  override readonly name = 'NetValueError';
}

/** Returns `n` as a {@link Port}; throws {@link NetValueError} unless it is an integer in 0..65535. */
export function port(n: number): Port {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) {
    throw new NetValueError(`not a port number: ${String(n)}`);
  }
  return n as Port;
}

/** True when `n` is an integer in 0..65535. */
export function isPort(n: unknown): n is Port {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

/**
 * Parses an IPv4 or IPv6 address (IPv6 may be written with brackets) and
 * returns its canonical form: dotted quad without leading zeros for IPv4,
 * RFC 5952 text for IPv6. Throws {@link NetValueError} for anything else.
 */
export function ipAddress(text: string): IpAddress {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIPv4(bare)) return bare as IpAddress;
  if (isIPv6(bare) && !bare.includes('%')) return ipFromBytes(ipv6Bytes(bare));
  throw new NetValueError(`not an IP address: ${JSON.stringify(text)}`);
}

/** The IP version of an address. */
export function ipFamily(address: IpAddress): IpFamily {
  return address.includes(':') ? 6 : 4;
}

/** The address as 4 (IPv4) or 16 (IPv6) bytes in network order. */
export function ipToBytes(address: IpAddress): Uint8Array {
  if (ipFamily(address) === 4) return Uint8Array.from(address.split('.'), Number);
  return ipv6Bytes(address);
}

/**
 * The canonical address for 4 or 16 bytes in network order, read from
 * `bytes` at `offset`. IPv4-mapped IPv6 addresses stay IPv6.
 */
export function ipFromBytes(bytes: Uint8Array, offset = 0, family: IpFamily = bytes.length - offset === 4 ? 4 : 6): IpAddress {
  if (family === 4) {
    return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}` as IpAddress;
  }
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':') as IpAddress;
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}` as IpAddress;
}

/** True when two addresses are the same (both are canonical, so text equality suffices). */
export function sameAddress(a: IpAddress, b: IpAddress): boolean {
  return a === b;
}

/** An {@link Endpoint} from an address text and a port number; validates both. */
export function endpoint(address: string, portNumber: number): Endpoint {
  return { address: ipAddress(address), port: port(portNumber) };
}

/** `198.51.100.2:21` or `[2001:db8::2]:21`. */
export function formatEndpoint(ep: Endpoint): string {
  return ipFamily(ep.address) === 6 ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
}

/** True when two endpoints have the same address and port. */
export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && a.address === b.address;
}

function ipv6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let body = text;
  // A trailing dotted quad (::ffff:192.0.2.1) fills the last 32 bits.
  const lastColon = body.lastIndexOf(':');
  const tailV4 = body.slice(lastColon + 1);
  let v4: number[] | undefined;
  if (tailV4.includes('.')) {
    v4 = tailV4.split('.').map(Number);
    body = body.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = body.includes('::') ? body.split('::') as [string, string] : [body, undefined];
  const leftGroups = left === '' ? [] : left.split(':');
  const rightGroups = right === undefined || right === '' ? [] : right.split(':');
  const groups = right === undefined
    ? leftGroups
    : [...leftGroups, ...new Array<string>(8 - leftGroups.length - rightGroups.length).fill('0'), ...rightGroups];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  if (v4) out.set(v4, 12);
  return out;
}
