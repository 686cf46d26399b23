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
}
