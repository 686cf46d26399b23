import type { FiveTuple } from '../flow/five-tuple';

/**
 * One direction of an offloaded flow, as the kernel is to apply it: the
 * packets carrying `match` at `hook` get one end rewritten, exactly as the
 * engine would have rewritten them. Destination rewrites happen before
 * routing, source rewrites after it (the engine's own stages).
 */
export interface OffloadRule {
  readonly hook: 'prerouting' | 'postrouting';
  /** The tuple the direction's packets carry when they reach the hook. */
  readonly match: FiveTuple;
  /** Which end is rewritten, and to what. */
  readonly rewrite: { readonly side: 'src' | 'dst'; readonly addr: Uint8Array; readonly port: number };
}

/** Packets and bytes (whole IP packets) the kernel rewrote for one flow since it was offloaded. */
export interface OffloadCounter {
  readonly packets: number;
  readonly bytes: number;
}

/**
 * A driver's kernel fast path for established flows (optional): the
 * kernel rewrites the flow's packets itself, so they never cross to
 * userland. Thin, like the rest of a driver: it installs and removes the
 * rules the engine's offloader computed, and reads their counters; which
 * flows go and when is the offloader's business
 * (host/nat-engine/offload/flow-offloader.ts).
 *
 * Packets a TCP connection opens or closes with (SYN, FIN, RST) stay on the
 * queue, so the engine keeps tracking the connection's state.
 */
export interface FlowOffload {
  /** Installs the rules of flow `id` (both directions at once). Rejects when the kernel refused them; nothing is installed then. */
  add(id: number, rules: readonly OffloadRule[]): Promise<void>;
  /** Removes flow `id`'s rules and resolves with its last counter (undefined: not installed, or unreadable); a flow not installed is fine. */
  remove(id: number): Promise<OffloadCounter | undefined>;
  /** The counters of every installed flow, by id. */
  counters(): Promise<Map<number, OffloadCounter>>;
}
