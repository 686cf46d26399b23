/**
 * A minimal reader for classic pcap files (what `tcpdump -w` writes; not
 * pcapng), and the link-layer stripping that turns a captured frame into
 * the IP packet it carries.
 */

import { readFileSync } from 'node:fs';

/** Link-layer header types (https://www.tcpdump.org/linktypes.html) the lab understands. */
export const LINKTYPE = {
  ETHERNET: 1,
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** One captured frame. */
export interface PcapPacket {
  /** Capture time in seconds since the epoch (microsecond or nanosecond resolution). */
  readonly ts: number;
  /** The captured bytes (at most the snapshot length). */
  readonly data: Buffer;
  /** The frame's length on the wire; larger than `data.length` when truncated by the snapshot length. */
  readonly origLen: number;
}

/** A parsed pcap file. */
export interface Pcap {
  readonly linkType: number;
  readonly snapLen: number;
  readonly packets: PcapPacket[];
}

export class PcapFormatError extends Error {
  override readonly name = 'PcapFormatError';
}

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

/**
 * Parses a pcap file's bytes. With `allowTruncated`, a partial last record
 * (a file still being written) is ignored instead of being an error.
 */
export function parsePcap(bytes: Buffer, opts: { allowTruncated?: boolean } = {}): Pcap {
  if (bytes.length < GLOBAL_HEADER) {
    if (opts.allowTruncated) return { linkType: -1, snapLen: 0, packets: [] };
    throw new PcapFormatError(`pcap too short for a global header: ${bytes.length} bytes`);
  }
  const magicLE = bytes.readUInt32LE(0);
  let le: boolean;
  let nanos: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nanos = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = bytes.readUInt32BE(0);
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) {
      throw new PcapFormatError(`not a pcap file (magic 0x${magicLE.toString(16)}; pcapng is not supported)`);
    }
    le = false;
    nanos = magicBE === 0xa1b23c4d;
  }
  const u32 = (off: number): number => (le ? bytes.readUInt32LE(off) : bytes.readUInt32BE(off));
  const snapLen = u32(16);
  // The upper bits of the link-type field may carry FCS information; the type is the low 16 bits.
  const linkType = u32(20) & 0xffff;
  const packets: PcapPacket[] = [];
  let off = GLOBAL_HEADER;
  while (off < bytes.length) {
    if (off + RECORD_HEADER > bytes.length) {
      if (opts.allowTruncated) break;
      throw new PcapFormatError(`truncated record header at offset ${off}`);
    }
    const sec = u32(off);
    const frac = u32(off + 4);
    const inclLen = u32(off + 8);
    const origLen = u32(off + 12);
    if (inclLen > Math.max(snapLen, 0x40000)) throw new PcapFormatError(`record at offset ${off} claims ${inclLen} bytes`);
    const start = off + RECORD_HEADER;
    if (start + inclLen > bytes.length) {
      if (opts.allowTruncated) break;
      throw new PcapFormatError(`truncated record at offset ${off}`);
    }
    packets.push({ ts: sec + frac / (nanos ? 1e9 : 1e6), data: Buffer.from(bytes.subarray(start, start + inclLen)), origLen });
    off = start + inclLen;
  }
  return { linkType, snapLen, packets };
}

/** Reads and parses a pcap file. */
export function readPcap(path: string, opts: { allowTruncated?: boolean } = {}): Pcap {
  return parsePcap(readFileSync(path), opts);
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = [0x8100, 0x88a8, 0x9100];

/** Drops link-layer padding after the IP packet (Ethernet pads frames to 60 bytes). */
function trimToIpLength(packet: Buffer): Buffer {
  const version = packet[0]! >> 4;
  let length: number | undefined;
  if (version === 4 && packet.length >= 20) length = packet.readUInt16BE(2);
  if (version === 6 && packet.length >= 40) length = 40 + packet.readUInt16BE(4);
  return length !== undefined && length >= 20 && length < packet.length ? packet.subarray(0, length) : packet;
}

function ipByEthertype(ethertype: number, frame: Buffer, offset: number): Buffer | undefined {
  if (ethertype !== ETHERTYPE_IPV4 && ethertype !== ETHERTYPE_IPV6) return undefined;
  return frame.length > offset ? trimToIpLength(frame.subarray(offset)) : undefined;
}

/**
 * The IP packet inside a captured frame (without link-layer padding), or
 * undefined when the frame carries something else, such as ARP. Supports
 * Ethernet (with 802.1Q/802.1ad tags), Linux cooked v1 and v2, and the raw
 * IP link types. Throws for any other link type. The result shares memory
 * with `frame`.
 */
export function stripLinkHeader(linkType: number, frame: Buffer): Buffer | undefined {
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      let off = 12;
      if (frame.length < off + 2) return undefined;
      let ethertype = frame.readUInt16BE(off);
      while (ETHERTYPE_VLAN.includes(ethertype)) {
        off += 4;
        if (frame.length < off + 2) return undefined;
        ethertype = frame.readUInt16BE(off);
      }
      return ipByEthertype(ethertype, frame, off + 2);
    }
    case LINKTYPE.LINUX_SLL:
      // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
      return frame.length < 16 ? undefined : ipByEthertype(frame.readUInt16BE(14), frame, 16);
    case LINKTYPE.LINUX_SLL2:
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
      return frame.length < 20 ? undefined : ipByEthertype(frame.readUInt16BE(0), frame, 20);
    case LINKTYPE.RAW:
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6: {
      if (frame.length === 0) return undefined;
      const version = frame[0]! >> 4;
      return version === 4 || version === 6 ? trimToIpLength(frame) : undefined;
    }
    default:
      throw new PcapFormatError(`unsupported link type ${linkType}`);
  }
}

/** The IP packets of a capture, in capture order, with their timestamps. */
export function ipPackets(pcap: Pcap): { ts: number; packet: Buffer }[] {
  const out: { ts: number; packet: Buffer }[] = [];
  for (const p of pcap.packets) {
    const packet = stripLinkHeader(pcap.linkType, p.data);
    if (packet) out.push({ ts: p.ts, packet });
  }
  return out;
}
