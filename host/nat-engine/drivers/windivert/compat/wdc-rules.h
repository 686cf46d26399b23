/*
 * The compat library's capture rules: per handle, one chain in raw
 * PREROUTING (inbound: before routing and conntrack, as WinDivert's inbound
 * path sees packets) and one in mangle POSTROUTING (outbound: after routing,
 * before source NAT), each sending the packets to the handle's NFQUEUE
 * queue, for IPv4 (iptables) and IPv6 (ip6tables, when present).
 *
 * Chains are named WDCOMPAT_<pid>_<queue>_PRE / _POST, so a run that died
 * without closing its handles is recognised by its dead pid and swept at the
 * next open. Loopback is skipped inbound (WinDivert sees loopback outbound
 * only) and packets carrying the library's injection mark are skipped, so
 * impostor packets it sends are not captured again by itself.
 *
 * A third chain, in raw OUTPUT, keeps the captured UDP the library sends on
 * through its own raw sockets (marked, not skipped by the capture: the
 * handle still sees it outbound, as WinDivert would) out of conntrack (CT --notrack): those datagrams were
 * already translated by the host, and a conntrack entry made for one (say,
 * a server's RTP sent on to a client) would hold the reverse tuple of the
 * client's own next flow (its RTP to that server) and so keep the gateway's
 * NAT (ICS's stand-in here) from translating it, depending on which side's
 * first packet came first.
 *
 * Commands run with posix_spawn (no shell, no fork of the threaded host).
 */
#ifndef WDC_RULES_H
#define WDC_RULES_H

#include <stdint.h>

#define WDC_CHAIN_PREFIX "WDCOMPAT_"

struct wdc_rules {
    char pre[32];
    char post[32];
    char out[32];
    int installed[2];   /* per family (0: iptables, 1: ip6tables) */
};

/*
 * Creates the chains for `queue`: packets with `skip_mark` are not captured, UDP with `notrack_mark` leaves
 * untracked. On failure removes what was made and returns a Win32 error code (0 on success).
 */
uint32_t wdc_rules_install(struct wdc_rules *r, unsigned queue, uint32_t skip_mark, uint32_t notrack_mark);

/* Removes the chains and their jumps. Idempotent. */
void wdc_rules_remove(struct wdc_rules *r);

/* Removes WDCOMPAT_ chains whose owning process no longer exists. */
void wdc_rules_sweep_stale(void);

#endif
