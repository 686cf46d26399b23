/**
 * The fields of a decoded packet the flow table reads: where the addresses
 * sit in the packet buffer and the already decoded ports and TCP flags.
 *
 * Declared here structurally, not imported from the packet codec, so the
 * flow table depends on no codec: the codec's packet view, a reversed view
 * of an ICMP error's embedded header, or a hand-built test object all fit.
 * Lookups read the address bytes in place, which is what lets them run
 * without allocating.
 */
export interface TupleSource {
  /** The buffer holding the packet. */
  readonly buf: Buffer;
  readonly family: 4 | 6;
  /** IP protocol number: 6 TCP, 17 UDP, ... */
  readonly protocol: number;
  /** Absolute offset of the source address in `buf`. */
  readonly srcAddrOffset: number;
  /** Absolute offset of the destination address in `buf`. */
  readonly dstAddrOffset: number;
  /** 4 for IPv4, 16 for IPv6. */
  readonly addrLength: 4 | 16;
  readonly srcPort: number;
  readonly dstPort: number;
  /** TCP header byte 13 (CWR ECE URG ACK PSH RST SYN FIN); 0 for other protocols. */
  readonly tcpFlags: number;
}
