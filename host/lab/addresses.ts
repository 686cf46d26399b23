/**
 * The lab's addresses: documentation ranges only (RFC 5737, RFC 3849).
 *
 * ```
 *  client ── eth0 ─────── priv0 ── gateway ── pub0 ─────── eth0 ── server
 *  198.51.100.2/24   198.51.100.1/24     203.0.113.1/24   203.0.113.2/24
 *  2001:db8:1::2/64  2001:db8:1::1/64    2001:db8:2::1/64 2001:db8:2::2/64
 * ```
 *
 * With `secondClient`, a second private network on the gateway (IPv4 only):
 *
 * ```
 *  client2 ── eth0 ────── priv1 ── gateway
 *  192.0.2.2/24      192.0.2.1/24
 * ```
 *
 * No lab traffic is ever sent to an address outside these ranges or loopback.
 */

import { ipAddress, type IpAddress } from '@algd/sdk';

/** The private (client) side, IPv4. */
export const PRIVATE_PREFIX_V4 = '198.51.100.0/24';
/** The second private network (client2), IPv4; only with `secondClient`. */
export const SECOND_PRIVATE_PREFIX_V4 = '192.0.2.0/24';
/** The public (server) side, IPv4. */
export const PUBLIC_PREFIX_V4 = '203.0.113.0/24';
/** The private side, IPv6. */
export const PRIVATE_PREFIX_V6 = '2001:db8:1::/64';
/** The public side, IPv6. */
export const PUBLIC_PREFIX_V6 = '2001:db8:2::/64';

export const CLIENT_V4: IpAddress = ipAddress('198.51.100.2');
export const GATEWAY_PRIVATE_V4: IpAddress = ipAddress('198.51.100.1');
export const GATEWAY_PUBLIC_V4: IpAddress = ipAddress('203.0.113.1');
export const SERVER_V4: IpAddress = ipAddress('203.0.113.2');

export const CLIENT2_V4: IpAddress = ipAddress('192.0.2.2');
export const GATEWAY_PRIVATE2_V4: IpAddress = ipAddress('192.0.2.1');

export const CLIENT_V6: IpAddress = ipAddress('2001:db8:1::2');
export const GATEWAY_PRIVATE_V6: IpAddress = ipAddress('2001:db8:1::1');
export const GATEWAY_PUBLIC_V6: IpAddress = ipAddress('2001:db8:2::1');
export const SERVER_V6: IpAddress = ipAddress('2001:db8:2::2');

/** Prefix length of every lab subnet, per family. */
export const PREFIX_LENGTH = { 4: 24, 6: 64 } as const;

/** The addresses of one IP family, for tests written once for both families. */
export interface LabAddresses {
  readonly client: IpAddress;
  readonly gatewayPrivate: IpAddress;
  readonly gatewayPublic: IpAddress;
  readonly server: IpAddress;
}

/** The lab addresses for IPv4 (`4`) or IPv6 (`6`). */
export function labAddresses(family: 4 | 6): LabAddresses {
  return family === 4
    ? { client: CLIENT_V4, gatewayPrivate: GATEWAY_PRIVATE_V4, gatewayPublic: GATEWAY_PUBLIC_V4, server: SERVER_V4 }
    : { client: CLIENT_V6, gatewayPrivate: GATEWAY_PRIVATE_V6, gatewayPublic: GATEWAY_PUBLIC_V6, server: SERVER_V6 };
}
