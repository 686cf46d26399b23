/**
 * Test packets, built from plain descriptions. Checksums come from the
 * reference implementation below, written independently of
 * host/nat-engine/packet (word sum reduced modulo 0xffff, no folding tricks),
 * so tests of the codec do not grade it with its own arithmetic.
 */
import { writeFileSync } from 'node:fs';
import { ipAddress, ipToBytes } from '@algd/sdk';

// ---------------------------------------------------------------- reference checksum

/**
 * The Internet checksum of the concatenation of `parts` (RFC 1071), by the
 * definition: add all 16-bit words as integers, take the ones'-complement
 * sum as the residue modulo 0xffff (0xffff standing for a non-zero multiple),
 * complement it.
 */
export function referenceChecksum(...parts: Uint8Array[]): number {
  const bytes = concat(...parts);
  let total = 0;
  for (let i = 0; i < bytes.length; i += 2) total += bytes[i]! * 256 + (bytes[i + 1] ?? 0);
  const sum = total === 0 ? 0 : ((total - 1) % 0xffff) + 1;
  return 0xffff - sum;
}

/** The IPv4 pseudo-header (RFC 793): src, dst, zero, protocol, 16-bit length. */
export function pseudoHeader4(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): Uint8Array {
  return concat(src, dst, Uint8Array.of(0, protocol), u16(length));
}

/** The IPv6 pseudo-header (RFC 8200 §8.1): src, dst, 32-bit length, three zeros, next header. */
export function pseudoHeader6(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): Uint8Array {
  return concat(src, dst, u32(length), Uint8Array.of(0, 0, 0, protocol));
}

// ---------------------------------------------------------------- descriptions

export interface Ipv4Spec {
  readonly family: 4;
  readonly src: string;
  readonly dst: string;
  readonly ttl?: number;
  readonly tos?: number;
  readonly id?: number;
  readonly dontFragment?: boolean;
  readonly moreFragments?: boolean;
  /** In 8-byte units. */
  readonly fragmentOffset?: number;
  /** Raw option bytes; padded with End-of-Options to a multiple of 4. */
  readonly options?: readonly number[];
  /** Overrides, for malformed packets. */
  readonly protocol?: number;
  readonly totalLength?: number;
  readonly ihl?: number;
  readonly headerChecksum?: number;
}

export type Ipv6Extension =
  /** Options padded with Pad1/PadN to a multiple of 8 bytes. */
  | { readonly kind: 'hop-by-hop' | 'destination-options'; readonly options?: readonly number[] }
  | { readonly kind: 'routing'; readonly routingType?: number; readonly segmentsLeft?: number; readonly addresses?: readonly string[] }
  | { readonly kind: 'fragment'; readonly offset?: number; readonly more?: boolean; readonly identification?: number }
  /** AH with a 12-byte ICV (RFC 4302), length field in 4-byte units minus 2. */
  | { readonly kind: 'ah'; readonly spi?: number; readonly sequence?: number; readonly icv?: readonly number[] }
  /** ESP header start; everything after it is "encrypted", so the L4 bytes follow unparsed. */
  | { readonly kind: 'esp'; readonly spi?: number };

export interface Ipv6Spec {
  readonly family: 6;
  readonly src: string;
  readonly dst: string;
  readonly hopLimit?: number;
  readonly trafficClass?: number;
  readonly flowLabel?: number;
  readonly extensions?: readonly Ipv6Extension[];
  /** Overrides, for malformed packets. */
  readonly payloadLength?: number;
}

export type IpSpec = Ipv4Spec | Ipv6Spec;

export interface TcpSpec {
  readonly kind: 'tcp';
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq?: number;
  readonly ack?: number;
  /** Byte 13: CWR ECE URG ACK PSH RST SYN FIN. */
  readonly flags?: number;
  readonly window?: number;
  readonly urgent?: number;
  /** Raw option bytes, padded with End-of-Options (0) to a multiple of 4. */
  readonly options?: readonly number[];
  readonly payload?: Uint8Array;
  /** Overrides, for malformed packets. */
  readonly dataOffsetWords?: number;
  readonly checksum?: number;
}

export interface UdpSpec {
  readonly kind: 'udp';
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload?: Uint8Array;
  /** 'none' writes 0 (legal for IPv4 only); a number overrides. */
  readonly checksum?: number | 'none';
  /** Overrides the length field; 0 for a jumbogram. */
  readonly length?: number;
}

export interface IcmpSpec {
  readonly kind: 'icmp';
  readonly type: number;
  readonly code: number;
  /** The 4 bytes after the checksum (identifier/sequence, unused, MTU…). */
  readonly rest?: number;
  /** For errors: the quoted packet (already cut to what is quoted). */
  readonly body?: Uint8Array;
  readonly checksum?: number;
}

export interface RawSpec {
  readonly kind: 'raw';
  readonly protocol: number;
  readonly bytes: Uint8Array;
}

export type L4Spec = TcpSpec | UdpSpec | IcmpSpec | RawSpec;

// ---------------------------------------------------------------- builders

export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 } as const;

/** The protocol number an L4 description is carried as in `family`. */
export function protocolOf(l4: L4Spec, family: 4 | 6): number {
  switch (l4.kind) {
    case 'tcp': return 6;
    case 'udp': return 17;
    case 'icmp': return family === 4 ? 1 : 58;
    case 'raw': return l4.protocol;
  }
}

/** Builds a whole IP packet with every checksum right (unless overridden). */
export function buildPacket(ip: IpSpec, l4: L4Spec): Buffer {
  const src = addr(ip.src);
  const dst = addr(ip.dst);
  const protocol = protocolOf(l4, ip.family);
  const segment = buildL4(l4, ip.family, src, dst, protocol);
  return ip.family === 4 ? buildIpv4(ip, protocol, segment) : buildIpv6(ip, protocol, segment);
}

/** An ICMP (IPv4) or ICMPv6 (IPv6) error quoting the first `quoted` bytes of `original`. */
export function buildIcmpError(ip: IpSpec, type: number, code: number, original: Uint8Array, quoted = original.length, rest = 0): Buffer {
  return buildPacket(ip, { kind: 'icmp', type, code, rest, body: original.subarray(0, quoted) });
}

/** Bytes of IP header (IPv4 with options, IPv6 with extension headers) `ip` builds to. */
export function ipHeaderLengthOf(ip: IpSpec): number {
  return buildPacket(ip, { kind: 'raw', protocol: 59, bytes: new Uint8Array(0) }).length;
}

function buildL4(l4: L4Spec, family: 4 | 6, src: Uint8Array, dst: Uint8Array, protocol: number): Uint8Array {
  const pseudo = (length: number) => (family === 4 ? pseudoHeader4(src, dst, protocol, length) : pseudoHeader6(src, dst, protocol, length));
  switch (l4.kind) {
    case 'tcp': {
      const options = pad(l4.options ?? [], 4, 0);
      const header = new Uint8Array(20 + options.length);
      const dv = new DataView(header.buffer);
      dv.setUint16(0, l4.srcPort);
      dv.setUint16(2, l4.dstPort);
      dv.setUint32(4, l4.seq ?? 0x01020304);
      dv.setUint32(8, l4.ack ?? 0);
      header[12] = (l4.dataOffsetWords ?? header.length / 4) << 4;
      header[13] = l4.flags ?? TCP_FLAGS.ACK;
      dv.setUint16(14, l4.window ?? 65535);
      dv.setUint16(18, l4.urgent ?? 0);
      header.set(options, 20);
      const segment = concat(header, l4.payload ?? new Uint8Array(0));
      setU16(segment, 16, l4.checksum ?? referenceChecksum(pseudo(segment.length), segment));
      return segment;
    }
    case 'udp': {
      const payload = l4.payload ?? new Uint8Array(0);
      const segment = new Uint8Array(8 + payload.length);
      setU16(segment, 0, l4.srcPort);
      setU16(segment, 2, l4.dstPort);
      setU16(segment, 4, l4.length ?? segment.length);
      segment.set(payload, 8);
      let checksum: number;
      if (l4.checksum === 'none') checksum = 0;
      else if (l4.checksum !== undefined) checksum = l4.checksum;
      else {
        checksum = referenceChecksum(pseudo(segment.length), segment);
        if (checksum === 0) checksum = 0xffff; // RFC 768
      }
      setU16(segment, 6, checksum);
      return segment;
    }
    case 'icmp': {
      const body = l4.body ?? new Uint8Array(0);
      const message = new Uint8Array(8 + body.length);
      message[0] = l4.type;
      message[1] = l4.code;
      new DataView(message.buffer).setUint32(4, l4.rest ?? 0);
      message.set(body, 8);
      const covered = family === 4 ? [message] : [pseudo(message.length), message];
      setU16(message, 2, l4.checksum ?? referenceChecksum(...covered));
      return message;
    }
    case 'raw':
      return Uint8Array.from(l4.bytes);
  }
}

function buildIpv4(ip: Ipv4Spec, protocol: number, segment: Uint8Array): Buffer {
  const options = pad(ip.options ?? [], 4, 0);
  const header = new Uint8Array(20 + options.length);
  header[0] = 0x40 | (ip.ihl ?? header.length / 4);
  header[1] = ip.tos ?? 0;
  setU16(header, 2, ip.totalLength ?? header.length + segment.length);
  setU16(header, 4, ip.id ?? 0x1234);
  setU16(header, 6, (ip.dontFragment ? 0x4000 : 0) | (ip.moreFragments ? 0x2000 : 0) | (ip.fragmentOffset ?? 0));
  header[8] = ip.ttl ?? 64;
  header[9] = ip.protocol ?? protocol;
  header.set(addr(ip.src), 12);
  header.set(addr(ip.dst), 16);
  header.set(options, 20);
  setU16(header, 10, ip.headerChecksum ?? referenceChecksum(header));
  return Buffer.from(concat(header, segment));
}

function buildIpv6(ip: Ipv6Spec, protocol: number, segment: Uint8Array): Buffer {
  const extensions = ip.extensions ?? [];
  const chain: Uint8Array[] = [];
  for (let i = 0; i < extensions.length; i++) {
    const ext = extensions[i]!;
    const next = i + 1 < extensions.length ? extensionNumber(extensions[i + 1]!) : protocol;
    chain.push(buildExtension(ext, next));
  }
  const headers = concat(...chain);
  const header = new Uint8Array(40);
  new DataView(header.buffer).setUint32(0, (6 << 28) | ((ip.trafficClass ?? 0) << 20) | (ip.flowLabel ?? 0));
  setU16(header, 4, ip.payloadLength ?? headers.length + segment.length);
  header[6] = extensions.length > 0 ? extensionNumber(extensions[0]!) : protocol;
  header[7] = ip.hopLimit ?? 64;
  header.set(addr(ip.src), 8);
  header.set(addr(ip.dst), 24);
  return Buffer.from(concat(header, headers, segment));
}

function extensionNumber(ext: Ipv6Extension): number {
  switch (ext.kind) {
    case 'hop-by-hop': return 0;
    case 'routing': return 43;
    case 'fragment': return 44;
    case 'esp': return 50;
    case 'ah': return 51;
    case 'destination-options': return 60;
  }
}

function buildExtension(ext: Ipv6Extension, next: number): Uint8Array {
  switch (ext.kind) {
    case 'hop-by-hop':
    case 'destination-options': {
      const body = padOptions6(ext.options ?? []);
      return concat(Uint8Array.of(next, (body.length + 2) / 8 - 1), body);
    }
    case 'routing': {
      // Type 0 layout: 4 reserved bytes, then the addresses.
      const addresses = (ext.addresses ?? []).map(addr);
      return concat(Uint8Array.of(next, addresses.length * 2, ext.routingType ?? 0, ext.segmentsLeft ?? 0, 0, 0, 0, 0), ...addresses);
    }
    case 'fragment': {
      const out = new Uint8Array(8);
      out[0] = next;
      setU16(out, 2, ((ext.offset ?? 0) << 3) | (ext.more ? 1 : 0));
      new DataView(out.buffer).setUint32(4, ext.identification ?? 0xcafe);
      return out;
    }
    case 'ah': {
      const icv = Uint8Array.from(ext.icv ?? new Array<number>(12).fill(0xaa));
      const out = new Uint8Array(12 + icv.length);
      out[0] = next;
      out[1] = out.length / 4 - 2;
      const dv = new DataView(out.buffer);
      dv.setUint32(4, ext.spi ?? 0x100);
      dv.setUint32(8, ext.sequence ?? 1);
      out.set(icv, 12);
      return out;
    }
    case 'esp': {
      const out = new Uint8Array(8);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, ext.spi ?? 0x200);
      dv.setUint32(4, 1);
      return out;
    }
  }
}

/** Options padded (Pad1 for one byte, PadN otherwise) so that 2 + length is a multiple of 8. */
function padOptions6(options: readonly number[]): Uint8Array {
  const missing = (8 - ((options.length + 2) % 8)) % 8;
  if (missing === 0) return Uint8Array.from(options);
  if (missing === 1) return Uint8Array.from([...options, 0]);
  return Uint8Array.from([...options, 1, missing - 2, ...new Array<number>(missing - 2).fill(0)]);
}

// ---------------------------------------------------------------- bytes

export function addr(text: string): Uint8Array {
  return ipToBytes(ipAddress(text));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function pad(bytes: readonly number[], multiple: number, fill: number): Uint8Array {
  const out = [...bytes];
  while (out.length % multiple !== 0) out.push(fill);
  return Uint8Array.from(out);
}

function u16(v: number): Uint8Array {
  return Uint8Array.of((v >> 8) & 0xff, v & 0xff);
}

function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

function setU16(bytes: Uint8Array, at: number, v: number): void {
  bytes[at] = (v >> 8) & 0xff;
  bytes[at + 1] = v & 0xff;
}

/** Lower-case hex without separators. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Bytes from hex; whitespace and `|` (for readable field grouping) are ignored. */
export function fromHex(text: string): Buffer {
  const clean = text.replace(/[\s|]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`not hex: ${text}`);
  return Buffer.from(clean, 'hex');
}

/** The 16-bit big-endian value at `at`. */
export function getU16(bytes: Uint8Array, at: number): number {
  return bytes[at]! * 256 + bytes[at + 1]!;
}

// ---------------------------------------------------------------- pcap

/** LINKTYPE_RAW: each record is a bare IPv4 or IPv6 packet. */
export const LINKTYPE_RAW = 101;

/** Writes `packets` to a classic pcap file (microsecond timestamps, one second apart). */
export function writePcap(path: string, packets: readonly Uint8Array[], linktype = LINKTYPE_RAW): void {
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(0x40000, 16); // snaplen
  global.writeUInt32LE(linktype, 20);
  const records: Buffer[] = [global];
  packets.forEach((p, i) => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1_700_000_000 + i, 0);
    rec.writeUInt32LE(p.length, 8);
    rec.writeUInt32LE(p.length, 12);
    records.push(rec, Buffer.from(p));
  });
  writeFileSync(path, Buffer.concat(records));
}
