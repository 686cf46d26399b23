import { ipFromBytes } from '@algd/sdk';
import type { TupleSource } from './tuple-source';

/**
 * The identity of one direction of a connection, in raw form: addresses as
 * 4 or 16 network-order bytes, ports and protocol as numbers, exactly as
 * they appear in packets. Raw bytes (not address text) so that a packet can
 * be matched against a tuple without decoding or allocating.
 *
 * Tuples are values: once built they are never mutated, so `reverseTuple`
 * and the flow table may share their address arrays.
 */
export interface FiveTuple {
  readonly family: 4 | 6;
  /** IP protocol number: 6 TCP, 17 UDP, ... */
  readonly protocol: number;
  readonly srcAddr: Uint8Array;
  readonly srcPort: number;
  readonly dstAddr: Uint8Array;
  readonly dstPort: number;
}

/**
 * The tuple a packet carries, with its addresses copied out of the packet
 * buffer (which the driver reuses for the next packet). Allocates: meant
 * for flow creation, not for lookups.
 */
export function tupleFromPacket(p: TupleSource): FiveTuple {
  return {
    family: p.family,
    protocol: p.protocol,
    srcAddr: copyBytes(p.buf, p.srcAddrOffset, p.addrLength),
    srcPort: p.srcPort,
    dstAddr: copyBytes(p.buf, p.dstAddrOffset, p.addrLength),
    dstPort: p.dstPort,
  };
}

/** The same connection seen from the other end: source and destination swapped. Shares the address arrays. */
export function reverseTuple(t: FiveTuple): FiveTuple {
  return { family: t.family, protocol: t.protocol, srcAddr: t.dstAddr, srcPort: t.dstPort, dstAddr: t.srcAddr, dstPort: t.srcPort };
}

/** True when both tuples name the same direction of the same connection. */
export function tupleEquals(a: FiveTuple, b: FiveTuple): boolean {
  return (
    a.srcPort === b.srcPort &&
    a.dstPort === b.dstPort &&
    a.protocol === b.protocol &&
    a.family === b.family &&
    bytesEqual(a.srcAddr, b.srcAddr) &&
    bytesEqual(a.dstAddr, b.dstAddr)
  );
}

/** True when the packet carries exactly this tuple. Compares address bytes in place; allocates nothing. */
export function tupleMatchesPacket(t: FiveTuple, p: TupleSource): boolean {
  return (
    t.srcPort === p.srcPort &&
    t.dstPort === p.dstPort &&
    t.protocol === p.protocol &&
    t.family === p.family &&
    t.srcAddr.length === p.addrLength &&
    bytesEqualAt(t.srcAddr, p.buf, p.srcAddrOffset) &&
    bytesEqualAt(t.dstAddr, p.buf, p.dstAddrOffset)
  );
}

/** `tcp 198.51.100.2:40000 -> 203.0.113.2:21`, `udp [2001:db8::2]:5060 -> [2001:db8::1]:5060`. For logs and errors. */
export function formatTuple(t: FiveTuple): string {
  return `${protocolName(t.protocol)} ${formatSide(t.family, t.srcAddr, t.srcPort)} -> ${formatSide(t.family, t.dstAddr, t.dstPort)}`;
}

function protocolName(protocol: number): string {
  switch (protocol) {
    case 1: return 'icmp';
    case 6: return 'tcp';
    case 17: return 'udp';
    case 58: return 'icmpv6';
    case 132: return 'sctp';
    default: return `proto-${protocol}`;
  }
}

function formatSide(family: 4 | 6, addr: Uint8Array, port: number): string {
  const text = ipFromBytes(addr, 0, family);
  return family === 6 ? `[${text}]:${port}` : `${text}:${port}`;
}

function copyBytes(buf: Uint8Array, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = buf[offset + i]!;
  return out;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && bytesEqualAt(a, b, 0);
}

/** Compares all of `expected` with `buf` from `offset`. */
function bytesEqualAt(expected: Uint8Array, buf: Uint8Array, offset: number): boolean {
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] !== buf[offset + i]) return false;
  }
  return true;
}
