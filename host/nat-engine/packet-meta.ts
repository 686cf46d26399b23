/**
 * Where in the gateway's path a driver saw a packet. The engine applies
 * destination rewrites before routing and source rewrites after it, as
 * netfilter does: a Linux driver that sees a packet at both hooks passes
 * `prerouting` then `postrouting`; a driver that sees each packet once
 * (WinDivert, the memory driver) passes `single` and gets both.
 */
export type NatStage = 'prerouting' | 'postrouting' | 'single';

/**
 * Which side a packet came from, as the driver knows from its adapter:
 * `private` (an internal client), `public` (the internet side: a boundary or
 * firewalled adapter) or `local` (sent by the gateway itself, e.g. by algd's
 * own listeners).
 */
export type PacketOrigin = 'private' | 'public' | 'local';

/** What a driver tells the engine about one packet. */
export interface PacketMeta {
  readonly origin: PacketOrigin;
  readonly stage: NatStage;
  /**
   * The packet's TCP/UDP checksum is not computed yet (Linux
   * CHECKSUM_PARTIAL, e.g. a locally sent or GRO-merged packet under
   * checksum offload; nfqueue reports NFQA_SKB_CSUMNOTREADY): the L4
   * checksum field holds the folded, not complemented, pseudo-header sum,
   * over which the NIC or the kernel later sums the L4 bytes. The engine's
   * rewrites then keep the field partial: an address change adjusts it as a
   * plain ones'-complement sum, a port change leaves it alone (ports are not
   * in the pseudo-header). The IPv4 header checksum is always complete.
   * Default false: every checksum is complete. Whoever hands the packet on
   * as complete must complete it (`completePartialChecksum`).
   */
  readonly checksumPartial?: boolean;
}
