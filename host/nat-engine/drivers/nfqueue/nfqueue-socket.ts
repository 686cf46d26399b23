/**
 * One NFQUEUE queue, served from Node's main thread in batches.
 *
 * How it meets the event loop (and why):
 *
 * - The main thread owns the queue. It receives, hands a batch to the
 *   handler (the NAT engine, whose flow table lives on this thread) and
 *   issues the verdicts, synchronously, within one event-loop turn. Moving
 *   the queue into a worker would mean moving the engine too, or copying
 *   every packet across threads twice.
 * - Readability comes from a tiny watcher thread (readiness-watcher.ts)
 *   blocked in poll(2): Node cannot watch a netlink fd itself. The watcher
 *   reports once and waits to be re-armed, so a wake-up costs one message
 *   per batch, not per packet, and nothing ever polls on a timer.
 * - A wake-up drains with non-blocking recv() until the socket is empty,
 *   `maxBatch` packets have been read, or the receive arena is full. If it
 *   stopped on a bound, the next drain runs from setImmediate (other I/O
 *   gets its turn; under load no thread round trip is paid); otherwise the
 *   watcher is re-armed.
 * - No per-packet copies: every message is received into its own region of
 *   one preallocated arena; `nfq_handle_packet` parses it in place and calls
 *   the registered callback, which records the packet in a reusable slot
 *   (nfqueue-packet.ts). Payloads are views into the arena.
 * - Verdicts: drops, modified and marked packets one by one
 *   (`nfq_set_verdict`, `nfq_set_verdict2` with a mark);
 *   then all plain accepts of the batch with one `nfq_set_verdict_batch`
 *   on the last accepted id. That is exact: the queue delivers in id order,
 *   every earlier batch has been decided, and this batch's other packets
 *   were decided just before, so "every queued id up to N" is precisely the
 *   accepted ones. The common all-accept batch thus costs one send.
 *
 * Failures never throw out of the loop: a handler exception, a malformed
 * answer or a library error is counted in `stats.errors`, logged
 * (throttled), and the packet gets the fallback verdict: accept when
 * `failOpen`, drop otherwise. Socket overruns (ENOBUFS: the kernel could
 * not deliver a packet) are counted in `stats.overruns`; with fail-open the
 * kernel accepted that packet, without it the kernel dropped it.
 *
 * An open socket keeps the process alive (its watcher thread is a live
 * handle), as a listening server does.
 *
 * close() stops the watcher, gives every packet still waiting in the socket
 * the fallback verdict (without calling the handler), then destroys the
 * queue. Packets the kernel queues in the instant between that last drain
 * and the unbind are dropped by the kernel.
 */

import { loadLibc, MSG_DONTWAIT, MSG_TRUNC, SO_RCVBUF, SO_RCVBUFFORCE, SOL_SOCKET, type Libc } from './libc';
import { describeErrno, loadKoffi } from '../ffi/load-koffi';
import { NfqueueError } from './nfqueue-errors';
import {
  AF_INET,
  AF_INET6,
  loadNfqueueLib,
  NF_ACCEPT,
  NF_DROP,
  NFQA_CFG_F_FAIL_OPEN,
  NFQA_CFG_F_GSO,
  NFQA_SKB_CSUMNOTREADY,
  NFQA_SKB_GSO,
  NFQNL_COPY_PACKET,
  PACKET_HDR_HOOK,
  PACKET_HDR_HW_PROTOCOL,
  PACKET_HDR_ID,
  type Address,
  type NfqueueLib,
  type Pointer,
} from './nfqueue-lib';
import { PacketSlot, type NfqueuePacket } from './nfqueue-packet';
import { summableBuffer } from '../../packet/simd-sum';
import { ReadinessWatcher } from './readiness-watcher';
import { ThrottledLog, type LogFn } from '../throttled-log';

export type NfqueueVerdict = 'accept' | 'drop';

/**
 * The handler's decision for one packet. `modified` replaces the packet's
 * bytes (at most 65535); it may be the packet's own `payload` rewritten in
 * place. `mark` (accept only) replaces the packet's netfilter mark, all 32
 * bits: keep the bits you do not own (`packet.mark | bit`). Handlers that
 * allocate nothing per packet can return shared constant objects for plain
 * accept and drop.
 */
export interface NfqueueDecision {
  readonly verdict: NfqueueVerdict;
  readonly modified?: Buffer;
  readonly mark?: number;
}

/**
 * Decides a batch: one decision per packet, by index. A missing or invalid
 * entry gets the fallback verdict and counts as an error. The packets and
 * the array are reused after the handler returns.
 */
export type NfqueueBatchHandler = (packets: readonly NfqueuePacket[]) => ReadonlyArray<NfqueueDecision | undefined>;

export interface NfqueueOptions {
  /** The queue number (0–65535), as in `-j NFQUEUE --queue-num N`. */
  readonly queueNum: number;
  /** Kernel queue length before fail-open / drop applies. Default 4096. */
  readonly maxLen?: number;
  /**
   * Accept rather than drop when the kernel queue or socket overflows
   * (NFQA_CFG_F_FAIL_OPEN), and the fallback verdict for packets the
   * handler could not decide. Default true: without the ALG, traffic still
   * flows; it never stalls.
   */
  readonly failOpen?: boolean;
  /**
   * Let the kernel queue GSO super-packets unsegmented (NFQA_CFG_F_GSO):
   * cheaper, but packets may exceed the MTU (up to 64 KiB) and carry partial
   * checksums; each packet's `skbInfo` says which. Default false: the kernel
   * segments them and completes checksums first.
   */
  readonly gso?: boolean;
  /**
   * Bytes of each packet copied to userspace. Default and maximum 65535
   * (the kernel caps it at 65531, its netlink attribute limit: a longer
   * packet, only possible as a GRO super-packet, arrives cut short).
   */
  readonly copyRange?: number;
  /** Packets per batch at most. Default 256. */
  readonly maxBatch?: number;
  /** Socket receive buffer (SO_RCVBUFFORCE, as root; else SO_RCVBUF capped by rmem_max). Default 8 MiB. */
  readonly receiveBufferBytes?: number;
  /** Where errors and warnings go; default: nowhere (they are still counted). */
  readonly log?: LogFn;
  /** The library to load; default libnetfilter_queue.so.1. */
  readonly library?: string;
}

export interface NfqueueStats {
  /** Packets handed to the handler (or, during close, decided by fallback). */
  readonly received: number;
  /** Accept verdicts issued, modified ones included. */
  readonly accepted: number;
  readonly dropped: number;
  /** Accept verdicts that carried new bytes. */
  readonly modified: number;
  /** Library, handler and verdict failures. */
  readonly errors: number;
  /** Packets the kernel could not deliver to the socket (ENOBUFS). */
  readonly overruns: number;
  readonly batches: number;
  readonly largestBatch: number;
  /** Packets the kernel flagged as GSO super-packets (only with `gso`). */
  readonly gsoPackets: number;
  /** Packets whose L4 checksum was partial, CHECKSUM_PARTIAL (only with `gso`). */
  readonly partialChecksums: number;
  /** The largest packet received, in bytes. */
  readonly largestPacket: number;
}

type MutableStats = { -readonly [K in keyof NfqueueStats]: NfqueueStats[K] };

const DEFAULTS = {
  maxLen: 4096,
  failOpen: true,
  gso: false,
  copyRange: 0xffff,
  maxBatch: 256,
  receiveBufferBytes: 8 * 1024 * 1024,
};

/** Netlink and nfqueue attributes around the copied bytes stay well under this. */
const MESSAGE_OVERHEAD = 4096;
/** Arena room for this many small packets per batch, besides the worst-case messages. */
const ARENA_BYTES_PER_SLOT = 2048;
/** Worst-case messages the arena holds besides the small-packet room: without GSO, and with it (64 KiB super-packets in bulk). */
const ARENA_LARGE_MESSAGES = 4;
const ARENA_LARGE_MESSAGES_GSO = 32;
/** After an unexpected recv() error, wait this long before listening again (no hot error loop). */
const ERROR_BACKOFF_MS = 100;
/** close() stops giving fallback verdicts after this many drains (bounded even under a flood). */
const CLOSE_DRAIN_ROUNDS = 16;
const MAX_PAYLOAD = 0xffff;

const align8 = (n: number): number => (n + 7) & ~7;

export class NfqueueSocket {
  /** Shared fallback decisions: returned for undecided packets, never mutated. */
  private static readonly ACCEPT: NfqueueDecision = Object.freeze({ verdict: 'accept' });
  private static readonly DROP: NfqueueDecision = Object.freeze({ verdict: 'drop' });

  private readonly counters: MutableStats = { received: 0, accepted: 0, dropped: 0, modified: 0, errors: 0, overruns: 0, batches: 0, largestBatch: 0, gsoPackets: 0, partialChecksums: 0, largestPacket: 0 };
  private readonly log: ThrottledLog;
  private readonly fallback: NfqueueDecision;
  private readonly fallbackVerdict: number;
  private readonly maxMessage: number;
  private readonly gso: boolean;
  private readonly arena: Buffer;
  private readonly arenaBase: number;
  private readonly slots: PacketSlot[];
  /** The slots of the current batch, handed to the handler; reused. */
  private readonly batch: PacketSlot[] = [];
  /** `nfq_get_payload` writes the payload's address here. */
  private readonly payloadPtr = Buffer.alloc(8);
  private readonly watcher: ReadinessWatcher;
  private readonly EAGAIN: number;
  private readonly EINTR: number;
  private readonly ENOBUFS: number;
  private count = 0;
  /** The handler; null while close() decides the last packets by fallback. */
  private onBatch: NfqueueBatchHandler | null;
  private pendingDrain: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private watcherFailed = false;

  private constructor(
    private readonly lib: NfqueueLib,
    private readonly libc: Libc,
    private readonly h: bigint,
    private readonly qh: bigint,
    private readonly callback: bigint,
    private readonly fd: number,
    readonly queueNum: number,
    opts: Required<Omit<NfqueueOptions, 'log' | 'library' | 'queueNum'>>,
    onBatch: NfqueueBatchHandler,
    log: LogFn,
  ) {
    this.onBatch = onBatch;
    ({ EAGAIN: this.EAGAIN, EINTR: this.EINTR, ENOBUFS: this.ENOBUFS } = errnoValues());
    this.log = new ThrottledLog(log);
    this.fallback = opts.failOpen ? NfqueueSocket.ACCEPT : NfqueueSocket.DROP;
    this.fallbackVerdict = opts.failOpen ? NF_ACCEPT : NF_DROP;
    this.maxMessage = opts.copyRange + MESSAGE_OVERHEAD;
    this.gso = opts.gso;
    // Its own memory (never a pool slice), which does not move, and where checksums are summed without a copy.
    const large = opts.gso ? ARENA_LARGE_MESSAGES_GSO : ARENA_LARGE_MESSAGES;
    this.arena = summableBuffer(large * this.maxMessage + opts.maxBatch * ARENA_BYTES_PER_SLOT);
    this.arenaBase = Number(loadKoffi().address(this.arena));
    this.slots = Array.from({ length: opts.maxBatch }, () => new PacketSlot(this.arena));
    this.watcher = new ReadinessWatcher(fd, {
      onReadable: () => this.drain(),
      onFailure: (err) => this.onWatcherFailure(err),
    });
  }

  /**
   * Binds queue `opts.queueNum` and starts serving it: `onBatch` is called
   * on this thread with each batch of queued packets. Needs CAP_NET_ADMIN in
   * the current network namespace. Throws {@link NfqueueUnavailableError}
   * when the library is missing, {@link NfqueueError} when a setup call
   * fails (e.g. another process holds the queue); nothing is left bound then.
   */
  static open(opts: NfqueueOptions, onBatch: NfqueueBatchHandler): NfqueueSocket {
    const o = resolveOptions(opts);
    const lib = loadNfqueueLib(opts.library);
    const libc = loadLibc();
    const log: LogFn = opts.log ?? (() => undefined);
    const failure = (operation: string, hint = ''): NfqueueError => {
      const errno = lib.errno();
      return new NfqueueError(`${operation} failed: ${describeErrno(errno)}${hint}`, operation, errno);
    };

    const h = lib.nfq_open();
    if (h === null) throw failure('nfq_open', ' (CAP_NET_ADMIN in this network namespace is required)');
    let qh: Pointer = null;
    let callback: bigint | undefined;
    // The socket object is born after the queue exists; the trampoline reaches it through this.
    let socket: NfqueueSocket | undefined;
    try {
      // nfq_bind_pf is a no-op since Linux 3.8 and kept for older kernels. Its
      // counterpart nfq_unbind_pf is deliberately not called: on those older
      // kernels it unbinds the family for every queue program on the host.
      for (const pf of [AF_INET, AF_INET6]) if (lib.nfq_bind_pf(h, pf) < 0) throw failure(`nfq_bind_pf(${pf})`);
      callback = lib.registerCallback((_qh, _nfmsg, nfad) => (socket ? socket.onPacket(nfad) : 0));
      qh = lib.nfq_create_queue(h, o.queueNum, callback, null);
      if (qh === null) throw failure(`nfq_create_queue(${o.queueNum})`, ' (is another program bound to this queue?)');
      if (lib.nfq_set_mode(qh, NFQNL_COPY_PACKET, o.copyRange) < 0) throw failure('nfq_set_mode');
      if (lib.nfq_set_queue_maxlen(qh, o.maxLen) < 0) throw failure('nfq_set_queue_maxlen');
      const flags = (o.failOpen ? NFQA_CFG_F_FAIL_OPEN : 0) | (o.gso ? NFQA_CFG_F_GSO : 0);
      if (lib.nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO, flags) < 0) {
        throw failure('nfq_set_queue_flags', ' (a kernel without the fail-open/GSO queue flags?)');
      }
      const fd = lib.nfq_fd(h);
      setReceiveBuffer(libc, fd, o.receiveBufferBytes, log);
      socket = new NfqueueSocket(lib, libc, h, qh, callback, fd, o.queueNum, o, onBatch, log);
      return socket;
    } catch (err) {
      if (qh !== null) lib.nfq_destroy_queue(qh);
      lib.nfq_close(h);
      if (callback !== undefined) lib.unregisterCallback(callback);
      throw err;
    }
  }

  /** A snapshot of the counters. */
  get stats(): NfqueueStats {
    return { ...this.counters };
  }

  /** True once close() has been called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Stops serving: no handler call starts after this. Packets still waiting
   * in the socket get the fallback verdict; then the queue is destroyed
   * (unbound) and the handle closed. Idempotent; never rejects.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.cancelPendingDrain();
    await this.watcher.stop();
    this.cancelPendingDrain();
    this.onBatch = null;
    try {
      for (let round = 0; round < CLOSE_DRAIN_ROUNDS && this.drainOnce() === 'more'; round++);
    } catch (err) {
      this.error('close', `nfqueue ${this.queueNum}: the last drain failed: ${String(err)}`);
    }
    if (this.lib.nfq_destroy_queue(this.qh) < 0) this.error('close', `nfqueue ${this.queueNum}: nfq_destroy_queue failed: ${describeErrno(this.lib.errno())}`);
    if (this.lib.nfq_close(this.h) < 0) this.error('close', `nfqueue ${this.queueNum}: nfq_close failed: ${describeErrno(this.lib.errno())}`);
    this.lib.unregisterCallback(this.callback);
  }

  /** The watcher says the socket is readable: drain, then schedule the next wake-up. */
  private drain(): void {
    this.pendingDrain = undefined;
    if (this.closing) return;
    const outcome = this.drainOnce();
    if (this.closing) return;
    if (outcome === 'more') this.pendingDrain = setImmediate(() => this.drain());
    else if (outcome === 'error') this.pendingDrain = setTimeout(() => this.rearm(), ERROR_BACKOFF_MS);
    else this.rearm();
  }

  private rearm(): void {
    this.pendingDrain = undefined;
    if (this.watcherFailed) this.pendingDrain = setTimeout(() => this.drain(), ERROR_BACKOFF_MS);
    else this.watcher.arm();
  }

  /**
   * Receives one batch and decides it. 'more' when it stopped on a bound
   * (the socket may hold more), 'empty' when the socket ran dry, 'error'
   * when recv() failed unexpectedly.
   */
  private drainOnce(): 'more' | 'empty' | 'error' {
    const { lib, libc, arena } = this;
    let used = 0;
    let outcome: 'more' | 'empty' | 'error' = 'more';
    this.count = 0;
    while (this.count < this.slots.length && arena.length - used >= this.maxMessage) {
      const at = this.arenaBase + used;
      // MSG_TRUNC: a message longer than the room given reports its real length, so truncation is visible.
      const n = libc.recv(this.fd, at, this.maxMessage, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        const errno = libc.errno();
        if (errno === this.EAGAIN) {
          outcome = 'empty';
          break;
        }
        if (errno === this.EINTR) continue;
        if (errno === this.ENOBUFS) {
          this.counters.overruns++;
          this.log.report('overrun', 'warn', `nfqueue ${this.queueNum}: socket overrun (ENOBUFS), the kernel ${this.fallbackVerdict === NF_ACCEPT ? 'accepted' : 'dropped'} packets unseen; consider a larger receiveBufferBytes`);
          continue;
        }
        this.error('recv', `nfqueue ${this.queueNum}: recv() failed: ${describeErrno(errno)}`);
        outcome = 'error';
        break;
      }
      if (n > this.maxMessage) {
        this.error('truncated', `nfqueue ${this.queueNum}: a ${n}-byte message exceeded the ${this.maxMessage}-byte receive room and was lost`);
        continue;
      }
      // The callback (onPacket) runs inside this call, once per packet in the message.
      if (lib.nfq_handle_packet(this.h, at, n) < 0) {
        this.error('handle', `nfqueue ${this.queueNum}: nfq_handle_packet failed: ${describeErrno(lib.errno())} (an error reply to a verdict?)`);
      }
      used += align8(n);
    }
    if (this.count > 0) this.decide();
    return outcome;
  }

  /** The registered callback: records one packet of the message being handled. Must not throw. */
  private onPacket(nfad: Address): number {
    try {
      if (nfad === 0) return 0;
      const { lib, arena, arenaBase } = this;
      const hdr = lib.nfq_get_msg_packet_hdr(nfad);
      if (hdr === 0) {
        this.error('parse', `nfqueue ${this.queueNum}: a message without a packet header`);
        return 0;
      }
      // Header and payload point into the message, which is in the arena: read them there.
      const h = hdr - arenaBase;
      const id = arena.readUInt32BE(h + PACKET_HDR_ID);
      if (this.count === this.slots.length) {
        // One message per packet is what the kernel sends; should one ever carry more, decide the excess at once.
        this.error('overflow', `nfqueue ${this.queueNum}: more packets than batch slots; packet ${id} got the fallback verdict`);
        this.verdict(id, this.fallbackVerdict, 0, null);
        return 0;
      }
      const len = Math.max(lib.nfq_get_payload(nfad, this.payloadPtr), 0);
      const payloadAt = this.payloadPtr.readUInt32LE(0) + this.payloadPtr.readUInt32LE(4) * 0x1_0000_0000;
      const offset = len > 0 ? payloadAt - arenaBase : 0;
      if (offset < 0 || offset + len > arena.length) {
        this.error('parse', `nfqueue ${this.queueNum}: packet ${id}'s payload lies outside the receive buffer; fallback verdict`);
        this.verdict(id, this.fallbackVerdict, 0, null);
        return 0;
      }
      // NFQA_SKB_INFO comes only with NFQA_CFG_F_GSO; without it no packet is partial or GSO.
      const skbInfo = this.gso ? lib.nfq_get_skbinfo(nfad) : 0;
      const c = this.counters;
      if (skbInfo & NFQA_SKB_GSO) c.gsoPackets++;
      if (skbInfo & NFQA_SKB_CSUMNOTREADY) c.partialChecksums++;
      if (len > c.largestPacket) c.largestPacket = len;
      this.slots[this.count++]!.fill(
        id,
        offset,
        len,
        arena[h + PACKET_HDR_HOOK]!,
        arena.readUInt16BE(h + PACKET_HDR_HW_PROTOCOL),
        lib.nfq_get_indev(nfad),
        lib.nfq_get_outdev(nfad),
        lib.nfq_get_nfmark(nfad),
        skbInfo,
      );
    } catch (err) {
      this.error('parse', `nfqueue ${this.queueNum}: reading a packet failed: ${String(err)}`);
    }
    return 0;
  }

  /** Hands the batch to the handler and issues its verdicts (see the top of the file for the order). */
  private decide(): void {
    const n = this.count;
    const batch = this.batch;
    for (let i = 0; i < n; i++) batch.push(this.slots[i]!);
    this.counters.received += n;
    this.counters.batches++;
    if (n > this.counters.largestBatch) this.counters.largestBatch = n;

    const decisions = this.callHandler(batch);
    let accepts = 0;
    let lastAccept = 0;
    let unresolved = false;
    for (let i = 0; i < n; i++) {
      const slot = batch[i]!;
      let d = decisions ? decisions[i] : this.fallback;
      if (d == null || (d.verdict !== 'accept' && d.verdict !== 'drop')) {
        if (decisions) this.error('decision', `nfqueue ${this.queueNum}: no valid decision for packet ${slot.id} (index ${i}); fallback verdict`);
        d = this.fallback;
      }
      if (d.verdict === 'drop') {
        if (this.verdict(slot.id, NF_DROP, 0, null)) this.counters.dropped++;
        else unresolved = true;
      } else if (d.modified !== undefined) {
        if (!this.modifiedVerdict(slot, d.modified, d.mark)) unresolved = true;
      } else if (d.mark !== undefined) {
        // A mark is per packet: no batch verdict for it.
        if (this.verdict(slot.id, NF_ACCEPT, 0, null, d.mark)) this.counters.accepted++;
        else unresolved = true;
      } else {
        accepts++;
        lastAccept = slot.id;
        slot.acceptPending = true;
      }
    }
    if (accepts > 0) {
      // A failed individual verdict leaves its packet queued, and a batch verdict would accept it too.
      const batched = accepts > 1 && !unresolved && this.acceptUpTo(lastAccept);
      if (batched) this.counters.accepted += accepts;
      for (let i = 0; i < n; i++) {
        const slot = batch[i]!;
        if (!slot.acceptPending) continue;
        slot.acceptPending = false;
        if (!batched && this.verdict(slot.id, NF_ACCEPT, 0, null)) this.counters.accepted++;
      }
    }
    batch.length = 0;
  }

  /** The handler's decisions; the fallback for all (null) when it throws or while closing. */
  private callHandler(batch: readonly NfqueuePacket[]): ReadonlyArray<NfqueueDecision | undefined> | null {
    if (this.onBatch === null) return null;
    try {
      const decisions = this.onBatch(batch);
      if (Array.isArray(decisions)) return decisions;
      throw new TypeError(`the handler returned ${typeof decisions}, not an array`);
    } catch (err) {
      this.error('handler', `nfqueue ${this.queueNum}: the batch handler failed; ${batch.length} packets get the fallback verdict: ${String(err)}`);
      return null;
    }
  }

  /** Accepts every queued packet up to `id` (one send); false (counted, logged) when it fails. */
  private acceptUpTo(id: number): boolean {
    if (this.lib.nfq_set_verdict_batch(this.qh, id, NF_ACCEPT) >= 0) return true;
    this.error('verdict', `nfqueue ${this.queueNum}: nfq_set_verdict_batch(${id}) failed: ${describeErrno(this.lib.errno())}; deciding one by one`);
    return false;
  }

  /** Accept with new bytes; on failure the unmodified packet must not pass, so it is dropped. */
  private modifiedVerdict(slot: PacketSlot, data: Buffer, mark: number | undefined): boolean {
    if (data.length > MAX_PAYLOAD || data.length === 0) {
      this.error('modified', `nfqueue ${this.queueNum}: modified packet ${slot.id} has ${data.length} bytes (1-${MAX_PAYLOAD}); dropped`);
    } else if (this.verdict(slot.id, NF_ACCEPT, data.length, data, mark)) {
      this.counters.accepted++;
      this.counters.modified++;
      return true;
    }
    if (this.verdict(slot.id, NF_DROP, 0, null)) {
      this.counters.dropped++;
      return true;
    }
    return false;
  }

  /** One `nfq_set_verdict` (`nfq_set_verdict2` with a mark); false (counted, logged) when it fails. */
  private verdict(id: number, verdict: number, len: number, data: Buffer | null, mark?: number): boolean {
    const sent = mark === undefined ? this.lib.nfq_set_verdict(this.qh, id, verdict, len, data) : this.lib.nfq_set_verdict2(this.qh, id, verdict, mark >>> 0, len, data);
    if (sent >= 0) return true;
    this.error('verdict', `nfqueue ${this.queueNum}: nfq_set_verdict(${id}, ${verdict === NF_ACCEPT ? 'accept' : 'drop'}) failed: ${describeErrno(this.lib.errno())}`);
    return false;
  }

  private onWatcherFailure(err: Error): void {
    if (this.watcherFailed || this.closing) return;
    this.watcherFailed = true;
    this.error('watcher', `nfqueue ${this.queueNum}: the readiness watcher failed (${err.message}); falling back to draining every ${ERROR_BACKOFF_MS} ms`);
    if (this.pendingDrain === undefined) this.pendingDrain = setTimeout(() => this.drain(), 0);
  }

  private cancelPendingDrain(): void {
    if (this.pendingDrain === undefined) return;
    clearImmediate(this.pendingDrain as NodeJS.Immediate);
    clearTimeout(this.pendingDrain as NodeJS.Timeout);
    this.pendingDrain = undefined;
  }

  private error(kind: string, message: string): void {
    this.counters.errors++;
    this.log.report(kind, 'error', message);
  }
}

function errnoValues(): { EAGAIN: number; EINTR: number; ENOBUFS: number } {
  const E = loadKoffi().os.errno;
  return { EAGAIN: E['EAGAIN'] ?? 11, EINTR: E['EINTR'] ?? 4, ENOBUFS: E['ENOBUFS'] ?? 105 };
}

function resolveOptions(opts: NfqueueOptions): Required<Omit<NfqueueOptions, 'log' | 'library'>> {
  const o = { ...DEFAULTS, ...definedOnly(opts), queueNum: opts.queueNum };
  const int = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`nfqueue option ${name} must be an integer in ${min}..${max}, got ${v}`);
  };
  int('queueNum', o.queueNum, 0, 0xffff);
  int('maxLen', o.maxLen, 1, 0xffffffff);
  int('copyRange', o.copyRange, 1, MAX_PAYLOAD);
  int('maxBatch', o.maxBatch, 1, 4096);
  int('receiveBufferBytes', o.receiveBufferBytes, 0, 0x7fffffff);
  return o;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Raises the socket's receive buffer so a burst is queued, not overrun. 0 keeps the system default. */
function setReceiveBuffer(libc: Libc, fd: number, bytes: number, log: LogFn): void {
  if (bytes === 0) return;
  const value = Buffer.alloc(4);
  value.writeInt32LE(bytes);
  if (libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, value, 4) === 0) return;
  // Without CAP_NET_ADMIN over the limit, SO_RCVBUF still gets up to net.core.rmem_max.
  if (libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, value, 4) !== 0) {
    log('warn', `nfqueue: cannot set the receive buffer to ${bytes} bytes: ${describeErrno(libc.errno())}`);
  }
}
