/**
 * Why {@link decodePacket} refused a packet. Every reason is a drop the
 * engine counts (see `REJECT_REASONS`), so each names one thing that was
 * wrong, not a vague "malformed".
 */
export type RejectReason =
  /** Fewer bytes than the fixed IP header (20 for IPv4, 40 for IPv6), or than the IPv4 header with its options (IHL). */
  | 'truncated-ip-header'
  /** The version nibble is neither 4 nor 6. */
  | 'bad-ip-version'
  /** IPv4 IHL below 5 (a header shorter than 20 bytes). */
  | 'bad-ip-header-length'
  /** The IP length field is shorter than the header, or longer than the bytes we were given (a truncated packet). */
  | 'bad-ip-total-length'
  /** IPv4 header checksum wrong; only checked when asked (`verifyIpChecksum`). */
  | 'bad-ip-checksum'
  /** A real fragment (IPv4 MF or offset, IPv6 fragment header other than an atomic one): it has no complete L4 header to translate. */
  | 'fragment'
  /** An IPv6 extension header runs past the end of the packet. */
  | 'truncated-extension-header'
  /**
   * An IPv6 header we cannot see through or must not translate: ESP (the
   * transport header is encrypted), or a routing header with Segments Left
   * > 0 (the final destination, and thus the checksum pseudo-header, is not
   * the address in the IPv6 header).
   */
  | 'unsupported-extension-header'
  /** Fewer bytes than the TCP (20), UDP (8) or ICMP (8) header. */
  | 'truncated-l4-header'
  /** TCP data offset below 5 words or past the end of the segment. */
  | 'bad-tcp-data-offset'
  /** UDP length field differs from the UDP bytes the IP length gives (not checked for IPv6 jumbograms, RFC 2675). */
  | 'bad-udp-length'
  /** UDP over IPv6 with checksum 0, which RFC 8200 §8.1 forbids. */
  | 'udp6-zero-checksum'
  /** An ICMP error quotes too little of the original packet: less than its IP header plus 8 bytes of TCP/UDP/ICMP header. */
  | 'truncated-icmp-inner'
  /** The packet quoted by an ICMP error is not a packet we could have sent: wrong IP version, bad header, non-first fragment, ESP. */
  | 'bad-icmp-inner';

// The `satisfies` makes the compiler refuse a reason missing from (or extra to) the list.
const EVERY_REASON = {
  'truncated-ip-header': true,
  'bad-ip-version': true,
  'bad-ip-header-length': true,
  'bad-ip-total-length': true,
  'bad-ip-checksum': true,
  'fragment': true,
  'truncated-extension-header': true,
  'unsupported-extension-header': true,
  'truncated-l4-header': true,
  'bad-tcp-data-offset': true,
  'bad-udp-length': true,
  'udp6-zero-checksum': true,
  'truncated-icmp-inner': true,
  'bad-icmp-inner': true,
} as const satisfies Record<RejectReason, true>;

/** Every {@link RejectReason}, in a stable order, for counters and metrics. */
export const REJECT_REASONS: readonly RejectReason[] = Object.freeze(Object.keys(EVERY_REASON) as RejectReason[]);

/** True when `s` is one of the {@link REJECT_REASONS}. */
export function isRejectReason(s: unknown): s is RejectReason {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(EVERY_REASON, s);
}
