/**
 * IANA protocol numbers (IPv4 Protocol, IPv6 Next Header) the codec looks
 * at. Everything else is passed through by number.
 */
export const IpProtocol = {
  /** IPv6 Hop-by-Hop Options extension header. */
  HOP_BY_HOP: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  /** IPv6 Routing extension header. */
  ROUTING: 43,
  /** IPv6 Fragment extension header. */
  FRAGMENT: 44,
  /** Encapsulating Security Payload: everything after it is encrypted. */
  ESP: 50,
  /** Authentication Header (an extension header in IPv6; its length is in 4-byte units). */
  AH: 51,
  ICMPV6: 58,
  /** IPv6 "no next header": nothing follows the headers. */
  NO_NEXT_HEADER: 59,
  /** IPv6 Destination Options extension header. */
  DESTINATION_OPTIONS: 60,
} as const;

/**
 * True for the ICMP types that quote the packet that caused them
 * (RFC 792, RFC 4443 §2.1), whose embedded header a NAT must translate too
 * (RFC 5508 §4.2): v4 destination unreachable, source quench, redirect, time
 * exceeded, parameter problem; v6 destination unreachable, packet too big,
 * time exceeded, parameter problem.
 */
export function isIcmpError(family: 4 | 6, icmpType: number): boolean {
  if (family === 4) return icmpType === 3 || icmpType === 4 || icmpType === 5 || icmpType === 11 || icmpType === 12;
  return icmpType >= 1 && icmpType <= 4;
}
