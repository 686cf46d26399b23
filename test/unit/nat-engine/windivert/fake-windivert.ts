/**
 * A WinDivert stand-in for driver unit tests: a library object recording
 * every call, and a batch source the test feeds synchronously.
 */

import type { BatchSource, ReceiverEvents } from '../../../../host/nat-engine/drivers/windivert/windivert-receiver';
import type { LocalAddressBook } from '../../../../host/nat-engine/drivers/windivert/local-addresses';
import type { Bytes, WindivertHandle, WindivertLib } from '../../../../host/nat-engine/drivers/windivert/windivert-lib';
import { WindivertAddress } from '../../../../host/nat-engine/drivers/windivert/windivert-address';

export const FAKE_HANDLE = 0x1234n;
const INVALID = 0xffffffffffffffffn;

export interface SentBatch {
  readonly packets: Buffer[];
  /** The 80-byte addresses, as sent. */
  readonly addresses: Buffer[];
}

export interface OpenCall {
  readonly filter: string;
  readonly layer: number;
  readonly priority: number;
  readonly flags: number;
}

/** A fake WinDivertLib; set the `fail*` fields to make calls fail with a Win32 code. */
export class FakeWindivertLib implements WindivertLib {
  readonly library = '/opt/algd/WinDivert.dll';
  readonly folder = '/opt/algd';
  readonly lastErrorSource = { library: this.library, symbol: 'GetLastError' };
  readonly calls: string[] = [];
  readonly opens: OpenCall[] = [];
  readonly params = new Map<number, number>();
  readonly sent: SentBatch[] = [];
  failOpen: number | undefined;
  failSend: number | undefined;
  failSetParam: number | undefined;
  versionMajor = 2;
  /** Called on WinDivertShutdown (the test's source ends there). */
  onShutdown: (how: number) => void = () => undefined;
  private error = 0;

  WinDivertOpen(filter: string, layer: number, priority: number, flags: number): WindivertHandle | null {
    this.calls.push('open');
    this.opens.push({ filter, layer, priority, flags });
    if (this.failOpen !== undefined) return this.fail(this.failOpen, INVALID);
    return FAKE_HANDLE;
  }

  WinDivertRecvEx(): number {
    throw new Error('the driver must receive through its batch source, not on the main thread');
  }

  WinDivertSendEx(handle: WindivertHandle, packet: Bytes, packetLen: number, sendLen: Bytes | null, flags: number, addr: Bytes, addrLen: number): number {
    this.calls.push('send');
    expect([handle, flags, sendLen]).toEqual([FAKE_HANDLE, 0, null]);
    if (this.failSend !== undefined) return this.fail(this.failSend, 0);
    const bytes = Buffer.from(packet.buffer, packet.byteOffset, packetLen);
    const addrs = Buffer.from(addr.buffer, addr.byteOffset, addrLen);
    const batch: SentBatch = { packets: [], addresses: [] };
    let off = 0;
    for (let i = 0; i < addrLen / 80; i++) {
      const len = bytes[off]! >> 4 === 4 ? bytes.readUInt16BE(off + 2) : 40 + bytes.readUInt16BE(off + 4);
      batch.packets.push(Buffer.from(bytes.subarray(off, off + len)));
      batch.addresses.push(Buffer.from(addrs.subarray(i * 80, i * 80 + 80)));
      off += len;
    }
    expect(off).toBe(packetLen);
    this.sent.push(batch);
    return 1;
  }

  WinDivertShutdown(handle: WindivertHandle, how: number): number {
    this.calls.push(`shutdown ${how}`);
    expect(handle).toBe(FAKE_HANDLE);
    this.onShutdown(how);
    return 1;
  }

  WinDivertClose(handle: WindivertHandle): number {
    this.calls.push('close');
    expect(handle).toBe(FAKE_HANDLE);
    return 1;
  }

  WinDivertSetParam(_handle: WindivertHandle, param: number, value: number | bigint): number {
    this.calls.push(`set ${param}=${value}`);
    if (this.failSetParam !== undefined) return this.fail(this.failSetParam, 0);
    this.params.set(param, Number(value));
    return 1;
  }

  WinDivertGetParam(_handle: WindivertHandle, param: number, value: Bytes): number {
    this.calls.push(`get ${param}`);
    (value as BigUint64Array)[0] = param === 3 ? BigInt(this.versionMajor) : 0n;
    return 1;
  }

  WinDivertHelperCalcChecksums(): number {
    throw new Error('the driver should never need WinDivertHelperCalcChecksums');
  }

  WinDivertHelperCompileFilter(): number {
    return 1;
  }

  WinDivertHelperEvalFilter(): number {
    return 1;
  }

  lastError(): number {
    return this.error;
  }

  private fail<T>(code: number, result: T): T {
    this.error = code;
    return result;
  }
}

/** What a test says about a packet it feeds: where WinDivert saw it. */
export interface Seen {
  readonly outbound?: boolean;
  readonly loopback?: boolean;
  readonly ifIdx: number;
  /** Checksum-valid flags; default all valid. */
  readonly checksums?: boolean;
  /** A byte the library keeps in the reserved part (must come back verbatim). */
  readonly token?: number;
}

/** A batch source fed by the test; batches are delivered synchronously. */
export class FakeSource implements BatchSource {
  readonly packets = Buffer.alloc(1 << 20);
  readonly addresses = Buffer.alloc(255 * 80);
  nexts = 0;
  stopped = false;
  ended = false;
  private events: ReceiverEvents | undefined;

  start(events: ReceiverEvents): void {
    this.events = events;
  }

  /** Packs `packets` as RecvEx would and delivers them as one batch. */
  feed(packets: readonly { readonly bytes: Uint8Array; readonly seen: Seen }[]): void {
    let off = 0;
    const a = new WindivertAddress(this.addresses);
    packets.forEach((p, i) => {
      this.packets.set(p.bytes, off);
      off += p.bytes.length;
      a.at(i).clear();
      a.outbound = p.seen.outbound ?? false;
      a.loopback = p.seen.loopback ?? false;
      a.ifIdx = p.seen.ifIdx;
      a.ipv6 = p.bytes[0]! >> 4 === 6;
      const valid = p.seen.checksums ?? true;
      a.ipChecksum = valid;
      a.tcpChecksum = valid;
      a.udpChecksum = valid;
      this.addresses.writeUInt32LE(p.seen.token ?? 0, i * 80 + 24);
    });
    this.feedRaw(packets.length, off);
  }

  /** Delivers a batch of whatever is in the buffers. */
  feedRaw(count: number, length: number): void {
    this.events!.onBatch(count, length);
  }

  end(code?: number): void {
    this.ended = true;
    this.events!.onEnd(code);
  }

  next(): void {
    this.nexts++;
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
}

/** Local addresses from a fixed table (address text → interface index). */
export function fixedAddresses(table: Record<string, number>): LocalAddressBook {
  return {
    ifIdxOf(buf, offset, length) {
      const text = length === 4 ? Array.from(buf.subarray(offset, offset + 4)).join('.') : Buffer.from(buf.subarray(offset, offset + 16)).toString('hex');
      return table[text];
    },
  };
}
