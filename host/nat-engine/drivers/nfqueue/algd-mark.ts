/**
 * The one bit of the netfilter mark algd owns: 0x20000000.
 *
 * The driver sets it (keeping the packet's other bits) on every packet the
 * engine translated; algd's nat chains save it into the connection's mark,
 * so the connection is known as algd's from its first packet on. Bit 29 is
 * far from the low bits routing policies, VPN daemons and firewall GUIs
 * usually take; an administrator who uses it must move their own marks.
 */
export const ALGD_MARK = 0x20000000;

/** `0x20000000/0x20000000`, as iptables' mark and connmark matches take it. */
export const ALGD_MARK_MATCH = `0x${ALGD_MARK.toString(16)}/0x${ALGD_MARK.toString(16)}`;
