/**
 * A small, lenient decoder for captured IP packets: just what lab tests
 * need to pick packets out of a capture (addresses, ports, TCP sequence
 * numbers and flags, payloads, the packet quoted by an ICMP error) and to
 * check their checksums independently of the product's codec.
 */

import { ipFromBytes, type IpAddress } from '@algd/sdk';

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

/** TCP flag bits. */
export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 } as const;

export interface TcpSegment {
  readonly kind: 'tcp';
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly payload: Buffer;
}

export interface UdpDatagram {
  readonly kind: 'udp';
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Buffer;
}

export interface IcmpMessage {
  readonly kind: 'icmp';
  readonly type: number;
  readonly code: number;
  /** For error messages (destination unreachable, time exceeded, ...): the packet they quote. */
  readonly quoted?: DecodedIpPacket;
}

export interface OtherTransport {
  readonly kind: 'other';
}

export interface DecodedIpPacket {
  readonly family: 4 | 6;
  readonly src: IpAddress;
  readonly dst: IpAddress;
  /** The transport protocol number (after IPv6 extension headers). */
  readonly protocol: number;
  /** IPv4 TTL or IPv6 hop limit. */
  readonly ttl: number;
  /** Bytes before the transport header. */
  readonly headerLength: number;
  /** True when the bytes end before the length the header announces (quoted packets usually are). */
  readonly truncated: boolean;
  readonly transport: TcpSegment | UdpDatagram | IcmpMessage | OtherTransport;
}

export class IpDecodeError extends Error {
  override readonly name = 'IpDecodeError';
}

const IPV6_EXTENSIONS = new Set([0, 43, 60]); // hop-by-hop, routing, destination options
const IPV6_FRAGMENT = 44;

function isIcmpError(family: 4 | 6, type: number): boolean {
  return family === 4 ? [3, 4, 5, 11, 12].includes(type) : type < 128;
}

/** Decodes an IPv4 or IPv6 packet; transport fields that are cut off are decoded as far as present. */
export function decodeIpPacket(packet: Buffer): DecodedIpPacket {
  if (packet.length < 1) throw new IpDecodeError('empty packet');
  const version = packet[0]! >> 4;
  let family: 4 | 6;
  let src: IpAddress;
  let dst: IpAddress;
  let protocol: number;
  let ttl: number;
  let headerLength: number;
  let totalLength: number;
  let fragmented = false;
  if (version === 4) {
    if (packet.length < 20) throw new IpDecodeError(`IPv4 packet of ${packet.length} bytes`);
    family = 4;
    headerLength = (packet[0]! & 0x0f) * 4;
    if (headerLength < 20 || packet.length < headerLength) throw new IpDecodeError(`bad IPv4 header length ${headerLength}`);
    totalLength = packet.readUInt16BE(2);
    fragmented = (packet.readUInt16BE(6) & 0x1fff) !== 0;
    ttl = packet[8]!;
    protocol = packet[9]!;
    src = ipFromBytes(packet, 12, 4);
    dst = ipFromBytes(packet, 16, 4);
  } else if (version === 6) {
    if (packet.length < 40) throw new IpDecodeError(`IPv6 packet of ${packet.length} bytes`);
    family = 6;
    totalLength = 40 + packet.readUInt16BE(4);
    ttl = packet[7]!;
    src = ipFromBytes(packet, 8, 6);
    dst = ipFromBytes(packet, 24, 6);
    protocol = packet[6]!;
    headerLength = 40;
    while (IPV6_EXTENSIONS.has(protocol) && packet.length >= headerLength + 2) {
      const next = packet[headerLength]!;
      headerLength += (packet[headerLength + 1]! + 1) * 8;
      protocol = next;
    }
    if (protocol === IPV6_FRAGMENT) fragmented = true;
  } else {
    throw new IpDecodeError(`IP version ${version}`);
  }
  const truncated = packet.length < totalLength;
  const end = Math.min(packet.length, totalLength);
  const t = packet.subarray(Math.min(headerLength, end), end);
  const base = { family, src, dst, protocol, ttl, headerLength, truncated };
  if (fragmented) return { ...base, transport: { kind: 'other' } };
  if (protocol === IPPROTO.TCP && t.length >= 14) {
    const dataOffset = (t[12]! >> 4) * 4;
    return {
      ...base,
      transport: {
        kind: 'tcp',
        srcPort: t.readUInt16BE(0),
        dstPort: t.readUInt16BE(2),
        seq: t.readUInt32BE(4),
        ack: t.readUInt32BE(8),
        flags: t[13]!,
        payload: t.subarray(Math.min(dataOffset, t.length)),
      },
    };
  }
  if (protocol === IPPROTO.TCP && t.length >= 4) {
    // A quoted TCP header may be cut after 8 bytes: ports and sequence number.
    const seq = t.length >= 8 ? t.readUInt32BE(4) : 0;
    return { ...base, transport: { kind: 'tcp', srcPort: t.readUInt16BE(0), dstPort: t.readUInt16BE(2), seq, ack: 0, flags: 0, payload: Buffer.alloc(0) } };
  }
  if (protocol === IPPROTO.UDP && t.length >= 4) {
    return { ...base, transport: { kind: 'udp', srcPort: t.readUInt16BE(0), dstPort: t.readUInt16BE(2), payload: t.subarray(Math.min(8, t.length)) } };
  }
  const icmpProto = family === 4 ? IPPROTO.ICMP : IPPROTO.ICMPV6;
  if (protocol === icmpProto && t.length >= 4) {
    const type = t[0]!;
    const code = t[1]!;
    let quoted: DecodedIpPacket | undefined;
    if (isIcmpError(family, type) && t.length > 8) {
      try {
        quoted = decodeIpPacket(t.subarray(8));
      } catch {
        quoted = undefined;
      }
    }
    return { ...base, transport: quoted ? { kind: 'icmp', type, code, quoted } : { kind: 'icmp', type, code } };
  }
  return { ...base, transport: { kind: 'other' } };
}

/** The Internet checksum's 16-bit one's-complement sum of `parts` (folded, not inverted). */
function onesSum(parts: readonly Buffer[]): number {
  let sum = 0;
  for (const part of parts) {
    for (let i = 0; i + 1 < part.length; i += 2) sum += part.readUInt16BE(i);
    if (part.length % 2 === 1) sum += part[part.length - 1]! << 8;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/**
 * What is wrong with the checksums of a complete packet (empty when all
 * are right): the IPv4 header checksum and the TCP, UDP, ICMP or ICMPv6
 * checksum. A zero UDP checksum over IPv4 ("none") is accepted.
 */
export function checksumProblems(packet: Buffer): string[] {
  const p = decodeIpPacket(packet);
  if (p.truncated) return ['packet is truncated'];
  const problems: string[] = [];
  const end = p.family === 4 ? packet.readUInt16BE(2) : 40 + packet.readUInt16BE(4);
  if (p.family === 4 && onesSum([packet.subarray(0, p.headerLength)]) !== 0xffff) problems.push('IPv4 header checksum');
  const t = packet.subarray(p.headerLength, end);
  const name = p.transport.kind === 'other' ? undefined : p.transport.kind;
  if (name === undefined) return problems;
  if (name === 'udp' && p.family === 4 && t.length >= 8 && t.readUInt16BE(6) === 0) return problems;
  const pseudo: Buffer[] = [];
  if (p.family === 6) {
    const ph = Buffer.alloc(40);
    packet.copy(ph, 0, 8, 40);
    ph.writeUInt32BE(t.length, 32);
    ph[39] = p.protocol;
    pseudo.push(ph);
  } else if (name !== 'icmp') {
    const ph = Buffer.alloc(12);
    packet.copy(ph, 0, 12, 20);
    ph[9] = p.protocol;
    ph.writeUInt16BE(t.length, 10);
    pseudo.push(ph);
  }
  if (onesSum([...pseudo, t]) !== 0xffff) problems.push(`${name.toUpperCase()} checksum`);
  return problems;
}
