import { formatTuple, type FiveTuple } from './five-tuple';
import type { TcpState } from './tcp-tracker';

/**
 * Which way a packet travels within its flow: `original` is the direction
 * of the packet that created the flow, `reply` the way back (conntrack's
 * IP_CT_DIR_ORIGINAL / IP_CT_DIR_REPLY).
 */
export type FlowDirection = 'original' | 'reply';

/** UDP and other connectionless flows: has anything come back yet? */
export type DatagramState = 'unreplied' | 'replied';

/** TCP flows hold a {@link TcpState}, all others a {@link DatagramState}. */
export type FlowState = TcpState | DatagramState;

/**
 * Where a flow's packets are translated: `none`, by the engine (all of
 * them); `kernel`, offloaded to the driver's fast path (the engine sees
 * only TCP's SYN, FIN and RST); `retired`, back with the engine for good
 * (it closed, or the kernel refused it).
 */
export type FlowOffloadState = 'none' | 'kernel' | 'retired';

/** A counter per direction. */
export class DirectionCounters {
  original = 0;
  reply = 0;
}

/**
 * One direction of a flow as the flow table indexes it: what a lookup
 * returns. Each flow owns its two entries from birth, so a lookup hands
 * back an existing object and allocates nothing.
 */
export class FlowEntry<T = unknown> {
  /** Owned by FlowTable: the hash of `tuple`, kept for cheap rejection and resizing. */
  bucketHash = 0;
  /** Owned by FlowTable: the next entry in the same hash bucket. */
  bucketNext: FlowEntry<T> | undefined = undefined;

  constructor(
    readonly flow: Flow<T>,
    readonly direction: FlowDirection,
    /** The tuple packets of this direction carry when they reach the gateway. */
    readonly tuple: FiveTuple,
  ) {}
}

/**
 * One connection through the gateway, reachable from both directions.
 *
 * `reply` is the tuple reply packets carry as the gateway sees them, which
 * after translation is not `reverseTuple(original)`: for a connection
 * redirected to a listener, replies come from the listener.
 *
 * State, times and counters are maintained by the FlowTable that created
 * the flow; `data` belongs to its user (the NAT engine keeps the flow's
 * translation there). Times are milliseconds on the table's clock; the
 * flow is alive while `now < expiresAt`.
 */
export class Flow<T = unknown> {
  readonly originalEntry: FlowEntry<T>;
  readonly replyEntry: FlowEntry<T>;
  state: FlowState;
  // Numeric fields start as numbers, never undefined: V8 then stores the
  // ms timestamps unboxed in place instead of allocating a box per packet.
  lastSeen = 0;
  expiresAt = 0;
  /** Packets seen per direction. */
  readonly packets = new DirectionCounters();
  /** Transport payload bytes seen per direction (headers not included). */
  readonly bytes = new DirectionCounters();
  /** TCP only: a bit per direction that has sent FIN (1 original, 2 reply); see tcp-tracker. */
  tcpFinSeen = 0;
  /** Owned by the NAT engine: whether the kernel translates the flow's packets. */
  offload: FlowOffloadState = 'none';
  /** Owned by the expiry queue: position in its heap, -1 when not queued. */
  queueIndex = -1;
  /** Owned by the expiry queue: the deadline the flow is filed under, never later than `expiresAt`. */
  queuedUntil = 0;

  constructor(
    /** Unique within its table, increasing in creation order. */
    readonly id: number,
    readonly original: FiveTuple,
    readonly reply: FiveTuple,
    public data: T,
    state: FlowState,
    readonly createdAt: number,
    expiresAt: number,
  ) {
    this.originalEntry = new FlowEntry(this, 'original', original);
    this.replyEntry = new FlowEntry(this, 'reply', reply);
    this.state = state;
    this.lastSeen = createdAt;
    this.expiresAt = expiresAt;
  }

  /** `flow #7 tcp 198.51.100.2:40000 -> 203.0.113.2:21 (reply tcp 127.0.0.1:3000 -> 198.51.100.2:40000) established`. */
  describe(): string {
    return `flow #${this.id} ${formatTuple(this.original)} (reply ${formatTuple(this.reply)}) ${this.state}`;
  }
}
