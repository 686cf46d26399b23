/**
 * WINDIVERT_ADDRESS, read and written in place.
 *
 * The C struct uses bitfields, which koffi cannot describe, so it is handled
 * as the raw 80 bytes WinDivert reads and writes (little-endian, MSVC
 * bitfield layout: the first bitfield in the lowest bits):
 *
 * | offset | field |
 * | --- | --- |
 * | 0  | Timestamp, i64 |
 * | 8  | Layer, u8 |
 * | 9  | Event, u8 |
 * | 10 | flags: Sniffed 0x01, Outbound 0x02, Loopback 0x04, Impostor 0x08, IPv6 0x10, IPChecksum 0x20, TCPChecksum 0x40, UDPChecksum 0x80 |
 * | 11 | Reserved1 |
 * | 12 | Reserved2, u32 |
 * | 16 | union: Network.IfIdx u32 @16, Network.SubIfIdx u32 @20 (network layers) |
 *
 * RecvEx fills an array of these, one per packet; SendEx takes one per
 * packet. {@link WindivertAddress} is a movable view: `at(i)` points it at
 * the i-th address of such an array, so the per-packet path reads flags and
 * interface indexes without allocating.
 */

import { WINDIVERT_ADDRESS_SIZE } from './windivert-constants';

export const ADDRESS_OFFSET = {
  TIMESTAMP: 0,
  LAYER: 8,
  EVENT: 9,
  FLAGS: 10,
  RESERVED1: 11,
  RESERVED2: 12,
  IF_IDX: 16,
  SUB_IF_IDX: 20,
} as const;

/** Bits of the flag byte at offset 10. */
export const ADDRESS_FLAG = {
  SNIFFED: 0x01,
  OUTBOUND: 0x02,
  LOOPBACK: 0x04,
  IMPOSTOR: 0x08,
  IPV6: 0x10,
  IP_CHECKSUM: 0x20,
  TCP_CHECKSUM: 0x40,
  UDP_CHECKSUM: 0x80,
} as const;

/** A view of one WINDIVERT_ADDRESS inside a buffer of consecutive addresses. */
export class WindivertAddress {
  /** Byte offset of the viewed address in `buf`. */
  offset = 0;

  /** Views address `index` of `buf` (default: a fresh zeroed single address). */
  constructor(
    public buf: Buffer = Buffer.alloc(WINDIVERT_ADDRESS_SIZE),
    index = 0,
  ) {
    this.at(index);
  }

  /** Moves the view to address `index` of its buffer; returns itself. */
  at(index: number): this {
    const offset = index * WINDIVERT_ADDRESS_SIZE;
    if (!Number.isInteger(index) || index < 0 || offset + WINDIVERT_ADDRESS_SIZE > this.buf.length) {
      throw new RangeError(`address index ${index} is outside a buffer of ${Math.floor(this.buf.length / WINDIVERT_ADDRESS_SIZE)} addresses`);
    }
    this.offset = offset;
    return this;
  }

  /** Views address `index` of another buffer; returns itself. */
  wrap(buf: Buffer, index = 0): this {
    this.buf = buf;
    return this.at(index);
  }

  /** Packet timestamp (QueryPerformanceCounter ticks on Windows). Allocates a BigInt: not for the per-packet path. */
  get timestamp(): bigint {
    return this.buf.readBigInt64LE(this.offset + ADDRESS_OFFSET.TIMESTAMP);
  }
  set timestamp(v: bigint) {
    this.buf.writeBigInt64LE(v, this.offset + ADDRESS_OFFSET.TIMESTAMP);
  }

  /** WINDIVERT_LAYER_* of the handle. */
  get layer(): number {
    return this.buf[this.offset + ADDRESS_OFFSET.LAYER]!;
  }
  set layer(v: number) {
    this.buf[this.offset + ADDRESS_OFFSET.LAYER] = v;
  }

  /** WINDIVERT_EVENT_*; 0 (NETWORK_PACKET) at the network layers. */
  get event(): number {
    return this.buf[this.offset + ADDRESS_OFFSET.EVENT]!;
  }
  set event(v: number) {
    this.buf[this.offset + ADDRESS_OFFSET.EVENT] = v;
  }

  /** The whole flag byte. */
  get flags(): number {
    return this.buf[this.offset + ADDRESS_OFFSET.FLAGS]!;
  }
  set flags(v: number) {
    this.buf[this.offset + ADDRESS_OFFSET.FLAGS] = v;
  }

  get sniffed(): boolean {
    return this.flag(ADDRESS_FLAG.SNIFFED);
  }
  set sniffed(v: boolean) {
    this.setFlag(ADDRESS_FLAG.SNIFFED, v);
  }

  /** Set for packets on the outbound path (leaving, or loopback); on send it picks the path the packet is injected into. */
  get outbound(): boolean {
    return this.flag(ADDRESS_FLAG.OUTBOUND);
  }
  set outbound(v: boolean) {
    this.setFlag(ADDRESS_FLAG.OUTBOUND, v);
  }

  /** From this machine to this machine (any local address, not only 127/8); WinDivert sees these outbound only. */
  get loopback(): boolean {
    return this.flag(ADDRESS_FLAG.LOOPBACK);
  }
  set loopback(v: boolean) {
    this.setFlag(ADDRESS_FLAG.LOOPBACK, v);
  }

  /** Injected by another driver; WinDivert decrements its TTL on reinjection. */
  get impostor(): boolean {
    return this.flag(ADDRESS_FLAG.IMPOSTOR);
  }
  set impostor(v: boolean) {
    this.setFlag(ADDRESS_FLAG.IMPOSTOR, v);
  }

  get ipv6(): boolean {
    return this.flag(ADDRESS_FLAG.IPV6);
  }
  set ipv6(v: boolean) {
    this.setFlag(ADDRESS_FLAG.IPV6, v);
  }

  /** The IPv4 header checksum is valid (cleared: offloaded, and recomputed by WinDivert on send). */
  get ipChecksum(): boolean {
    return this.flag(ADDRESS_FLAG.IP_CHECKSUM);
  }
  set ipChecksum(v: boolean) {
    this.setFlag(ADDRESS_FLAG.IP_CHECKSUM, v);
  }

  get tcpChecksum(): boolean {
    return this.flag(ADDRESS_FLAG.TCP_CHECKSUM);
  }
  set tcpChecksum(v: boolean) {
    this.setFlag(ADDRESS_FLAG.TCP_CHECKSUM, v);
  }

  get udpChecksum(): boolean {
    return this.flag(ADDRESS_FLAG.UDP_CHECKSUM);
  }
  set udpChecksum(v: boolean) {
    this.setFlag(ADDRESS_FLAG.UDP_CHECKSUM, v);
  }

  /** Network.IfIdx: the interface the packet arrived on (inbound) or leaves by (outbound). */
  get ifIdx(): number {
    return this.buf.readUInt32LE(this.offset + ADDRESS_OFFSET.IF_IDX);
  }
  set ifIdx(v: number) {
    this.buf.writeUInt32LE(v, this.offset + ADDRESS_OFFSET.IF_IDX);
  }

  /** Network.SubIfIdx. */
  get subIfIdx(): number {
    return this.buf.readUInt32LE(this.offset + ADDRESS_OFFSET.SUB_IF_IDX);
  }
  set subIfIdx(v: number) {
    this.buf.writeUInt32LE(v, this.offset + ADDRESS_OFFSET.SUB_IF_IDX);
  }

  /** Zeroes the viewed address. */
  clear(): this {
    this.buf.fill(0, this.offset, this.offset + WINDIVERT_ADDRESS_SIZE);
    return this;
  }

  /** Copies the viewed 80 bytes to address `index` of `target` (unknown bytes included: a library may keep state there). */
  copyTo(target: Buffer, index: number): void {
    this.buf.copy(target, index * WINDIVERT_ADDRESS_SIZE, this.offset, this.offset + WINDIVERT_ADDRESS_SIZE);
  }

  private flag(bit: number): boolean {
    return (this.buf[this.offset + ADDRESS_OFFSET.FLAGS]! & bit) !== 0;
  }

  private setFlag(bit: number, on: boolean): void {
    const at = this.offset + ADDRESS_OFFSET.FLAGS;
    this.buf[at] = on ? this.buf[at]! | bit : this.buf[at]! & ~bit;
  }
}
