import { randomInt } from 'node:crypto';
import { ExpiryQueue } from './expiry-queue';
import { formatTuple, tupleEquals, tupleMatchesPacket, type FiveTuple } from './five-tuple';
import { Flow, type FlowEntry, type FlowState } from './flow';
import { FlowTableError } from './flow-table-error';
import { isTcpClosed, trackTcp, type TcpState } from './tcp-tracker';
import { resolveFlowTimeouts, stateTimeoutsMs, type FlowTimeouts, type StateTimeoutsMs } from './timeouts';
import { tupleHasher, type TupleHasher } from './tuple-hash';
import type { TupleSource } from './tuple-source';

const TCP = 6;
const UDP = 17;

/** Enough for a busy small-office gateway; conntrack sizes its default from RAM, we leave it to configuration. */
export const DEFAULT_MAX_FLOWS = 65536;
const INITIAL_BUCKETS = 1024;
/** Past this the table stops growing its bucket array; chains just get longer. */
const MAX_BUCKETS = 1 << 22;

/**
 * Why a flow left the table:
 * - `expired`: idle past its state's timeout;
 * - `reset`: the connection was reset (TCP RST) and its short close timeout ran out;
 * - `removed`: `remove()` was called.
 */
export type FlowRemoveReason = 'expired' | 'removed' | 'reset';

export interface FlowTableOptions<T> {
  /** Idle timeouts in seconds; unset entries keep {@link DEFAULT_FLOW_TIMEOUTS}. */
  readonly timeouts?: Partial<FlowTimeouts>;
  /** Inserting beyond this many flows throws a `full` {@link FlowTableError}. Default {@link DEFAULT_MAX_FLOWS}. */
  readonly maxFlows?: number;
  /** Millisecond clock. Default `Date.now`; tests inject their own. */
  readonly now?: () => number;
  /**
   * Called after a flow has left the table (it is no longer found by
   * lookups), so its owner can release what the flow held. May insert or
   * remove flows; an exception propagates to the caller of
   * `remove`/`expire`.
   */
  readonly onRemove?: (flow: Flow<T>, reason: FlowRemoveReason) => void;
  /**
   * Bucket hashing. Default: {@link tupleHasher} with a random per-table seed. Lookups
   * always compare bytes, so any function is correct, only slower; tests
   * inject a constant one to prove it.
   */
  readonly hasher?: TupleHasher;
}

/**
 * The connection tracking table: every flow is indexed under its original
 * and its reply tuple, so a packet from either side finds it (conntrack's
 * tuple hash, with the two directions' entries preallocated in the flow).
 *
 * Hot path. `lookup` hashes the packet's bytes in place and walks one
 * bucket of an intrusive chain, comparing bytes: no allocation, and a hash
 * collision can never conflate two flows. `track` is O(1) except when a
 * flow moves to a shorter timeout (see expiry below).
 *
 * Expiry. Flows sit in a min-heap keyed by the deadline they were filed
 * under, which is never later than their real `expiresAt`. A packet that
 * pushes `expiresAt` later does not touch the heap; when the old deadline
 * comes due, `expire` finds the flow still alive and files it again under
 * its current deadline (lazy rescheduling). So a busy flow costs one heap
 * operation per timeout period rather than per packet, and a state change
 * that shortens the timeout (FIN, RST) refiles it at once so it is never
 * expired late. Flows past their deadline stay visible to lookups until
 * the next `expire` (the engine calls it every second).
 */
export class FlowTable<T> implements Iterable<Flow<T>> {
  readonly timeouts: FlowTimeouts;
  readonly maxFlows: number;
  private readonly timeoutsMs: StateTimeoutsMs;
  private readonly now: () => number;
  private readonly onRemove: ((flow: Flow<T>, reason: FlowRemoveReason) => void) | undefined;
  private readonly hasher: TupleHasher;
  private readonly flows = new Set<Flow<T>>();
  private readonly queue = new ExpiryQueue<Flow<T>>();
  private buckets: (FlowEntry<T> | undefined)[];
  private mask: number;
  private nextId = 1;

  constructor(opts: FlowTableOptions<T> = {}) {
    this.timeouts = resolveFlowTimeouts(opts.timeouts);
    this.timeoutsMs = stateTimeoutsMs(this.timeouts);
    const maxFlows = opts.maxFlows ?? DEFAULT_MAX_FLOWS;
    if (!Number.isSafeInteger(maxFlows) || maxFlows < 1) throw new RangeError(`maxFlows must be a positive integer, got ${String(maxFlows)}`);
    this.maxFlows = maxFlows;
    this.now = opts.now ?? Date.now;
    this.onRemove = opts.onRemove;
    this.hasher = opts.hasher ?? tupleHasher(randomInt(0x100000000));
    this.buckets = emptyBuckets<T>(INITIAL_BUCKETS);
    this.mask = INITIAL_BUCKETS - 1;
  }

  /** Number of flows. */
  get size(): number {
    return this.flows.size;
  }

  /** The flow a packet belongs to and which direction it travels, or undefined. Allocates nothing. */
  lookup(p: TupleSource): FlowEntry<T> | undefined {
    const hash = this.hasher.hashPacket(p);
    for (let e = this.buckets[hash & this.mask]; e !== undefined; e = e.bucketNext) {
      if (e.bucketHash === hash && tupleMatchesPacket(e.tuple, p)) return e;
    }
    return undefined;
  }

  /**
   * Starts tracking a connection. `original` is the tuple of the packet that
   * creates it, `reply` the tuple its replies will carry. The tuples are kept
   * as given and must not be mutated afterwards. A TCP flow starts in
   * `syn_sent`, anything else `unreplied`; `track` the creating packet next.
   *
   * Throws {@link FlowTableError} `full` at `maxFlows`, `duplicate` when a
   * tuple is already tracked; RangeError when the two tuples disagree on
   * protocol or family.
   */
  insert(original: FiveTuple, reply: FiveTuple, data: T): Flow<T> {
    checkTuplePair(original, reply);
    if (this.flows.size >= this.maxFlows) {
      throw new FlowTableError('full', `flow table is full (${this.maxFlows} flows), cannot track ${formatTuple(original)}`);
    }
    if (tupleEquals(original, reply)) {
      throw new FlowTableError('duplicate', `original and reply tuples are the same (${formatTuple(original)}), directions would be indistinguishable`);
    }
    const originalHash = this.hasher.hashTuple(original);
    const replyHash = this.hasher.hashTuple(reply);
    const clash = this.find(original, originalHash) ?? this.find(reply, replyHash);
    if (clash !== undefined) {
      throw new FlowTableError('duplicate', `${formatTuple(clash.tuple)} is already tracked by ${clash.flow.describe()}`);
    }
    const now = this.now();
    const state: FlowState = original.protocol === TCP ? 'syn_sent' : 'unreplied';
    const flow = new Flow(this.nextId++, original, reply, data, state, now, now + this.timeoutMs(original.protocol, state));
    this.link(flow.originalEntry, originalHash);
    this.link(flow.replyEntry, replyHash);
    this.flows.add(flow);
    this.queue.push(flow, flow.expiresAt);
    if (2 * this.flows.size > this.buckets.length && this.buckets.length < MAX_BUCKETS) this.rehash(this.buckets.length * 2);
    return flow;
  }

  /**
   * Accounts one packet of a flow (found by `lookup`): advances its state
   * from the TCP flags and direction, counts it, and restarts its idle
   * timeout. `payloadBytes` is the transport payload length. `now`
   * defaults to the table's clock; a driver handling a batch may read the
   * clock once and pass it (a `Date.now()` per packet allocates its result).
   */
  track(entry: FlowEntry<T>, p: TupleSource, payloadBytes: number, now: number = this.now()): void {
    const flow = entry.flow;
    const direction = entry.direction;
    const protocol = flow.original.protocol;
    if (protocol === TCP) trackTcp(flow, direction, p.tcpFlags);
    else if (direction === 'reply') flow.state = 'replied';
    flow.packets[direction]++;
    flow.bytes[direction] += payloadBytes;
    flow.lastSeen = now;
    const expiresAt = now + this.timeoutMs(protocol, flow.state);
    flow.expiresAt = expiresAt;
    // A later deadline is picked up lazily by expire(); only an earlier one must be filed now.
    if (expiresAt < flow.queuedUntil) this.queue.reschedule(flow, expiresAt);
  }

  /**
   * Restarts the idle timeout of a flow whose packets were seen elsewhere
   * (the kernel's fast path counted some), as a packet would, without
   * changing its state or counters. A flow no longer in the table is left
   * alone.
   */
  touch(flow: Flow<T>, now: number = this.now()): void {
    if (!this.flows.has(flow)) return;
    flow.lastSeen = now;
    flow.expiresAt = Math.max(flow.expiresAt, now + this.timeoutMs(flow.original.protocol, flow.state));
  }

  /**
   * True for a TCP flow that is finished (time_wait) or reset (close): a
   * SYN for its original tuple starts a new connection, and the engine
   * replaces the flow rather than tracking the SYN in the old one.
   */
  isClosing(flow: Flow<T>): boolean {
    // A TCP flow's state is always a TcpState.
    return flow.original.protocol === TCP && isTcpClosed(flow.state as TcpState);
  }

  /** Removes a flow now and reports it to `onRemove` as `removed`. Returns false if it was not in the table. */
  remove(flow: Flow<T>): boolean {
    if (!this.flows.has(flow)) return false;
    this.unlink(flow);
    this.onRemove?.(flow, 'removed');
    return true;
  }

  /**
   * Removes and returns the flows whose timeout has run out (`expiresAt <=
   * now`), reporting each to `onRemove` as `expired`, or `reset` for a
   * reset TCP connection. Cost is proportional to the flows that come due,
   * not to the table size.
   */
  expire(now: number = this.now()): Flow<T>[] {
    const expired: Flow<T>[] = [];
    for (let flow = this.queue.peek(); flow !== undefined && flow.queuedUntil <= now; flow = this.queue.peek()) {
      if (flow.expiresAt > now) {
        this.queue.reschedule(flow, flow.expiresAt); // seen since it was filed
        continue;
      }
      this.unlink(flow);
      expired.push(flow);
      this.onRemove?.(flow, flow.state === 'close' ? 'reset' : 'expired');
    }
    return expired;
  }

  /** The flows, in creation order. Removing flows while iterating is safe. */
  [Symbol.iterator](): IterableIterator<Flow<T>> {
    return this.flows.values();
  }

  private timeoutMs(protocol: number, state: FlowState): number {
    return protocol === TCP || protocol === UDP ? this.timeoutsMs.byState[state] : this.timeoutsMs.other;
  }

  private find(tuple: FiveTuple, hash: number): FlowEntry<T> | undefined {
    for (let e = this.buckets[hash & this.mask]; e !== undefined; e = e.bucketNext) {
      if (e.bucketHash === hash && tupleEquals(e.tuple, tuple)) return e;
    }
    return undefined;
  }

  private link(entry: FlowEntry<T>, hash: number): void {
    const i = hash & this.mask;
    entry.bucketHash = hash;
    entry.bucketNext = this.buckets[i];
    this.buckets[i] = entry;
  }

  private unlinkEntry(entry: FlowEntry<T>): void {
    const i = entry.bucketHash & this.mask;
    let e = this.buckets[i];
    if (e === entry) {
      this.buckets[i] = entry.bucketNext;
    } else {
      while (e !== undefined && e.bucketNext !== entry) e = e.bucketNext;
      if (e !== undefined) e.bucketNext = entry.bucketNext;
    }
    entry.bucketNext = undefined;
  }

  private unlink(flow: Flow<T>): void {
    this.unlinkEntry(flow.originalEntry);
    this.unlinkEntry(flow.replyEntry);
    this.queue.remove(flow);
    this.flows.delete(flow);
  }

  private rehash(bucketCount: number): void {
    const old = this.buckets;
    const buckets = emptyBuckets<T>(bucketCount);
    const mask = bucketCount - 1;
    for (let head of old) {
      while (head !== undefined) {
        const next = head.bucketNext;
        const i = head.bucketHash & mask;
        head.bucketNext = buckets[i];
        buckets[i] = head;
        head = next;
      }
    }
    this.buckets = buckets;
    this.mask = mask;
  }
}

function emptyBuckets<T>(n: number): (FlowEntry<T> | undefined)[] {
  return new Array<FlowEntry<T> | undefined>(n).fill(undefined);
}

function checkTuplePair(original: FiveTuple, reply: FiveTuple): void {
  if (original.protocol !== reply.protocol || original.family !== reply.family) {
    throw new RangeError(`reply tuple ${formatTuple(reply)} does not match the protocol and family of ${formatTuple(original)}`);
  }
  const length = original.family === 4 ? 4 : 16;
  for (const a of [original.srcAddr, original.dstAddr, reply.srcAddr, reply.dstAddr]) {
    if (a.length !== length) throw new RangeError(`an IPv${original.family} tuple needs ${length}-byte addresses, got ${a.length}`);
  }
}
