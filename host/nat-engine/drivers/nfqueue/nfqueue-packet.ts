/**
 * One queued packet as the batch handler sees it.
 *
 * The payload is not copied: it lives in the socket's receive arena, where
 * the kernel's netlink message was received, and `buffer`/`offset`/`length`
 * locate it there, which is what the NAT engine's `process(buf, meta,
 * offset, length)` takes. `payload` is the same bytes as a Buffer view,
 * made on first access. Both are writable (rewrite in place, then return
 * the view as `modified`) and valid only until the handler returns: the
 * next batch reuses the arena and these objects.
 */

/** Netfilter hooks (linux/netfilter.h `enum nf_inet_hooks`). */
export const NF_INET_HOOK = {
  PRE_ROUTING: 0,
  LOCAL_IN: 1,
  FORWARD: 2,
  LOCAL_OUT: 3,
  POST_ROUTING: 4,
} as const;

export interface NfqueuePacket {
  /** The kernel's packet id, the handle of its verdict. */
  readonly id: number;
  /** The IP packet (a view into the receive arena; see above). */
  readonly payload: Buffer;
  /** The receive arena holding the packet at `offset`, `length` bytes. */
  readonly buffer: Buffer;
  readonly offset: number;
  readonly length: number;
  /** The netfilter hook that queued it ({@link NF_INET_HOOK}). */
  readonly hook: number;
  /** The link-layer protocol (EtherType: 0x0800 IPv4, 0x86dd IPv6), 0 when the kernel gave none. */
  readonly hwProtocol: number;
  /** Interface index it came in on / goes out on; 0 when none (no input device at OUTPUT, no output device at PREROUTING). */
  readonly inIfIndex: number;
  readonly outIfIndex: number;
  /** The packet's netfilter mark. */
  readonly mark: number;
  /**
   * NFQA_SKB_* flags (nfqueue-lib.ts): with the socket's `gso` option, a
   * partial L4 checksum (CSUMNOTREADY) and a GSO super-packet (GSO); 0
   * without it (the kernel then segments and completes checksums first).
   */
  readonly skbInfo: number;
}

/** The reusable, mutable implementation the socket fills for each packet. */
export class PacketSlot implements NfqueuePacket {
  id = 0;
  offset = 0;
  length = 0;
  hook = 0;
  hwProtocol = 0;
  inIfIndex = 0;
  outIfIndex = 0;
  mark = 0;
  skbInfo = 0;
  /** The socket's bookkeeping while it issues verdicts: accepted, verdict not yet sent. */
  acceptPending = false;
  private view: Buffer | undefined;

  constructor(readonly buffer: Buffer) {}

  get payload(): Buffer {
    this.view ??= this.buffer.subarray(this.offset, this.offset + this.length);
    return this.view;
  }

  /** Points the slot at a new packet. */
  fill(id: number, offset: number, length: number, hook: number, hwProtocol: number, inIfIndex: number, outIfIndex: number, mark: number, skbInfo = 0): void {
    this.id = id;
    this.offset = offset;
    this.length = length;
    this.hook = hook;
    this.hwProtocol = hwProtocol;
    this.inIfIndex = inIfIndex;
    this.outIfIndex = outIfIndex;
    this.mark = mark;
    this.skbInfo = skbInfo;
    this.view = undefined;
  }
}
