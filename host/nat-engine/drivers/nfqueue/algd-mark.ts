/**
 * The three bits of the netfilter mark algd owns: 0x40000000, 0x20000000
 * and 0x10000000.
 *
 * 0x20000000 ({@link ALGD_MARK}): the driver sets it (keeping the packet's
 * other bits) on every packet the engine translated; algd's nat chains save
 * it into the connection's mark, so the connection is known as algd's from
 * its first packet on.
 *
 * 0x10000000 ({@link ALGD_DONE_MARK}), on the packet only, never saved: the
 * engine translated the packet before routing and has nothing left to do
 * after it (a direction that rewrites only its destination, such as an
 * inbound data channel's data), so the capture's postrouting rule lets it
 * pass instead of queueing it a second time. That halves the userland
 * crossings of a bulk transfer's data.
 *
 * 0x40000000 ({@link ALGD_REDIRECT_MARK}), on the packet only: the SYN of a
 * control connection the kernel is to redirect (kernel-redirects.ts); the
 * nat table's prerouting chain sends the connection to its listener.
 * Only a verdict sets it, so with algd not reading (killed, overflow with
 * fail-open) control connections pass to their servers as before.
 *
 * Bits 28 to 30 are far from the low bits routing policies, VPN daemons
 * and firewall GUIs usually take; an administrator who uses them must move
 * their own marks.
 */
export const ALGD_MARK = 0x20000000;

/** A packet translated before routing that the postrouting capture skips (never in a connection's mark). */
export const ALGD_DONE_MARK = 0x10000000;

/** The SYN of a control connection the kernel redirects to its listener (never in a connection's mark). */
export const ALGD_REDIRECT_MARK = 0x40000000;

/** `0x20000000/0x20000000`, as iptables' mark and connmark matches take it. */
export const ALGD_MARK_MATCH = markMatch(ALGD_MARK);

/** `0x10000000/0x10000000`. */
export const ALGD_DONE_MARK_MATCH = markMatch(ALGD_DONE_MARK);

function markMatch(bit: number): string {
  return `0x${bit.toString(16)}/0x${bit.toString(16)}`;
}
