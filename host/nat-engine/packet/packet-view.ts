import { ipFromBytes, type IpAddress } from '@algd/sdk';
import { IpProtocol } from './ip-protocol';

const NO_BYTES = Buffer.alloc(0);

/**
 * A decoded IP packet: offsets into a buffer, not copies. One view is
 * reused for every packet (`decodePacket` refills it), and rewrites change
 * the buffer in place, so the hot path allocates nothing.
 *
 * All offsets are absolute positions in `buf`. After a rejected decode the
 * fields are unspecified. A view stays valid while its buffer is not changed
 * except through `rewrite*`, which keep it up to date.
 */
export class PacketView {
  /** The buffer holding the packet; rewrites write into it. */
  buf: Buffer = NO_BYTES;
  /** Where the IP header starts in `buf`. */
  offset = 0;
  /**
   * Bytes of the packet according to its IP length field (IPv4 Total Length,
   * IPv6 40 + Payload Length or the jumbo length); bytes past it in the
   * buffer (Ethernet padding) are not part of the packet. For an embedded
   * view (see `embedded`), only what was quoted: never past its container.
   */
  length = 0;
  /** IP version. */
  family: 4 | 6 = 4;
  /**
   * The upper-layer protocol: IPv4 Protocol, or for IPv6 the Next Header
   * after the extension headers we walk (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6,
   * 59 no next header; others are passed through undecoded).
   */
  protocol = 0;
  /** IPv4: IHL × 4 (options included). IPv6: 40 plus the extension headers walked. */
  ipHeaderLength = 0;
  /** Where the source address is in `buf`. */
  srcAddrOffset = 0;
  /** Where the destination address is in `buf`. */
  dstAddrOffset = 0;
  /** Address size in bytes: 4 (IPv4) or 16 (IPv6). */
  addrLength: 4 | 16 = 4;
  /** Where the upper-layer (L4) header starts in `buf`. */
  l4Offset = 0;
  /** Bytes from `l4Offset` to the end of the packet (for an embedded view: to the end of what was quoted). */
  l4Length = 0;
  /** TCP/UDP source port; 0 for other protocols. */
  srcPort = 0;
  /** TCP/UDP destination port; 0 for other protocols. */
  dstPort = 0;
  /** TCP flags (byte 13 of the TCP header: CWR ECE URG ACK PSH RST SYN FIN); 0 when not TCP or not quoted. */
  tcpFlags = 0;
  /** Where the L4 payload starts: after the TCP header with options, the UDP header, the 8-byte ICMP header; `l4Offset` for other protocols. */
  payloadOffset = 0;
  /** Bytes of L4 payload up to the end of the packet. */
  payloadLength = 0;
  /** Where the TCP/UDP/ICMP/ICMPv6 checksum field is in `buf`; -1 when there is none (other protocols, or not quoted in an embedded view). */
  l4ChecksumOffset = -1;
  /** ICMP (IPv4) or ICMPv6 (IPv6) type; -1 when the packet is not ICMP. */
  icmpType = -1;
  /** ICMP / ICMPv6 code; -1 when the packet is not ICMP. */
  icmpCode = -1;
  /**
   * For an ICMP/ICMPv6 error (v4 types 3, 4, 5, 11, 12; v6 types 1-4): the
   * packet it quotes, decoded leniently (see `embedded`). Undefined for every
   * other packet, and always undefined in an embedded view: errors about
   * errors are not decoded further.
   */
  inner: PacketView | undefined = undefined;
  /**
   * True for the view of a packet quoted inside an ICMP error. Such a packet
   * is usually cut short: its IP length field may promise more than was
   * quoted, only its first 8 L4 bytes are guaranteed (enough for ports), and
   * its L4 checksum may be missing (`l4ChecksumOffset` -1) and can never be
   * verified or recomputed, only adjusted.
   */
  embedded = false;
  /** IPv6 jumbogram (RFC 2675): the length came from a Jumbo Payload option; the UDP length field is not checked. */
  jumbogram = false;
  /**
   * The L4 checksum is partial (see `PacketMeta.checksumPartial`): the field
   * holds the folded pseudo-header sum, not a checksum, and rewrites keep it
   * so. Not set by the decoder (decoding clears it): the caller, who knows
   * where the packet came from, sets it after decoding. Never set on an
   * embedded view.
   */
  checksumPartial = false;

  // The quoted-packet view, allocated on the first ICMP error and reused.
  private spareInner: PacketView | undefined;

  /** True for TCP. */
  isTcp(): boolean {
    return this.protocol === IpProtocol.TCP;
  }

  /** True for UDP. */
  isUdp(): boolean {
    return this.protocol === IpProtocol.UDP;
  }

  /** True for ICMP over IPv4 or ICMPv6 over IPv6 (`icmpType` and `icmpCode` are set). */
  isIcmp(): boolean {
    return this.icmpType >= 0;
  }

  /** The source address. Allocates: for logs and rule set-up, not per packet. */
  srcAddress(): IpAddress {
    return ipFromBytes(this.buf, this.srcAddrOffset, this.family);
  }

  /** The destination address. Allocates: for logs and rule set-up, not per packet. */
  dstAddress(): IpAddress {
    return ipFromBytes(this.buf, this.dstAddrOffset, this.family);
  }

  /** True when the source address is `bytes` (4 or 16 bytes); false for the other family. */
  srcAddrEquals(bytes: Uint8Array): boolean {
    return this.addrEquals(this.srcAddrOffset, bytes);
  }

  /** True when the destination address is `bytes` (4 or 16 bytes); false for the other family. */
  dstAddrEquals(bytes: Uint8Array): boolean {
    return this.addrEquals(this.dstAddrOffset, bytes);
  }

  /** Empties the view for a new decode of `buf` at `offset` (decoder internals; `decodePacket` calls it). */
  reset(buf: Buffer, offset: number, embedded: boolean): void {
    this.buf = buf;
    this.offset = offset;
    this.length = 0;
    this.family = 4;
    this.protocol = 0;
    this.ipHeaderLength = 0;
    this.srcAddrOffset = offset;
    this.dstAddrOffset = offset;
    this.addrLength = 4;
    this.l4Offset = offset;
    this.l4Length = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpFlags = 0;
    this.payloadOffset = offset;
    this.payloadLength = 0;
    this.l4ChecksumOffset = -1;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.inner = undefined;
    this.embedded = embedded;
    this.jumbogram = false;
    this.checksumPartial = false;
  }

  /** The reusable view for a quoted packet (decoder internals; it becomes `inner` only once decoded). */
  innerScratch(): PacketView {
    return (this.spareInner ??= new PacketView());
  }

  private addrEquals(at: number, bytes: Uint8Array): boolean {
    const n = this.addrLength;
    if (bytes.length !== n) return false;
    const buf = this.buf;
    for (let i = 0; i < n; i++) if (buf[at + i] !== bytes[i]) return false;
    return true;
  }
}
