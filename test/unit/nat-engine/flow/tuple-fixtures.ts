import { ipAddress, ipToBytes } from '@algd/sdk';
import type { FiveTuple, TupleSource } from '../../../../host/nat-engine/flow';

export const TCP = 6;
export const UDP = 17;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const ACK = 0x10;

type Proto = 'tcp' | 'udp' | number;

function protocolNumber(p: Proto): number {
  return p === 'tcp' ? TCP : p === 'udp' ? UDP : p;
}

/** A stored tuple from address text. */
export function tuple(protocol: Proto, src: string, srcPort: number, dst: string, dstPort: number): FiveTuple {
  const srcAddr = ipToBytes(ipAddress(src));
  return { family: srcAddr.length === 4 ? 4 : 6, protocol: protocolNumber(protocol), srcAddr, srcPort, dstAddr: ipToBytes(ipAddress(dst)), dstPort };
}

/**
 * A packet as the codec would present it: a buffer holding an IP header
 * (addresses where IPv4/IPv6 put them) after `lead` bytes of something
 * else, so offsets are absolute, and the rest filled with 0xee.
 */
export function packet(protocol: Proto, src: string, srcPort: number, dst: string, dstPort: number, tcpFlags = 0, lead = 5): TupleSource {
  const s = ipToBytes(ipAddress(src));
  const d = ipToBytes(ipAddress(dst));
  const v6 = s.length === 16;
  const buf = Buffer.alloc(lead + (v6 ? 40 : 20) + 8, 0xee);
  const srcAddrOffset = lead + (v6 ? 8 : 12);
  const dstAddrOffset = lead + (v6 ? 24 : 16);
  buf.set(s, srcAddrOffset);
  buf.set(d, dstAddrOffset);
  return { buf, family: v6 ? 6 : 4, protocol: protocolNumber(protocol), srcAddrOffset, dstAddrOffset, addrLength: v6 ? 16 : 4, srcPort, dstPort, tcpFlags };
}

/** The packet carrying exactly `t`, with the given flags. */
export function packetOf(t: FiveTuple, tcpFlags = 0, lead = 5): TupleSource {
  const v6 = t.family === 6;
  const buf = Buffer.alloc(lead + (v6 ? 40 : 20) + 8, 0xee);
  const srcAddrOffset = lead + (v6 ? 8 : 12);
  const dstAddrOffset = lead + (v6 ? 24 : 16);
  buf.set(t.srcAddr, srcAddrOffset);
  buf.set(t.dstAddr, dstAddrOffset);
  return { buf, family: t.family, protocol: t.protocol, srcAddrOffset, dstAddrOffset, addrLength: v6 ? 16 : 4, srcPort: t.srcPort, dstPort: t.dstPort, tcpFlags };
}

/** A clock the test moves by hand, in ms. */
export class ManualClock {
  constructor(public ms = 1_000_000) {}
  readonly now = (): number => this.ms;
  advance(ms: number): number {
    this.ms += ms;
    return this.ms;
  }
}
