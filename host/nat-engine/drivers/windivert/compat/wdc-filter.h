/*
 * The subset of the WinDivert filter language (NETWORK layer) that algd's
 * filter generator emits, parsed and evaluated the way WinDivert does:
 *
 *   filter := or ; or := and (("or" | "||") and)* ; and := arg (("and" | "&&") arg)*
 *   arg    := "(" filter ")" | test ; test := ("not" | "!")* FIELD [op NUMBER]
 *   op     := "==" | "=" | "!=" | "<" | ">" | "<=" | ">="
 *
 * Fields: true false zero inbound outbound loopback impostor ifIdx subIfIdx
 * ip ipv6 tcp udp icmp icmpv6 tcp.SrcPort tcp.DstPort tcp.Syn tcp.Ack
 * tcp.Fin tcp.Rst tcp.Psh tcp.Urg tcp.PayloadLength udp.SrcPort udp.DstPort
 * udp.Length udp.PayloadLength (case-sensitive, as WinDivert's). NUMBER is
 * decimal or 0x-hex, at most 2^32-1.
 *
 * As in WinDivert: a bare FIELD means FIELD != 0; "not" negates a single
 * test by flipping its operator (so "not (..)" is a syntax error); a test
 * on a field the packet lacks (tcp.* of a UDP packet) is false, negated or
 * not. Anything else (other fields, addresses, the ?: operator) is refused.
 */
#ifndef WDC_FILTER_H
#define WDC_FILTER_H

#include <stdint.h>

#include "wdc-packet.h"

/* What the filter knows of a packet besides its bytes. */
struct wdc_meta {
    int outbound;
    int loopback;
    int impostor;
    uint32_t if_idx;
    uint32_t sub_if_idx;
};

struct wdc_filter;

/* Compiles `text`; NULL on error, with a static description in *error and the byte position in *error_pos. */
struct wdc_filter *wdc_filter_compile(const char *text, const char **error, unsigned *error_pos);

/* 1 if the packet matches. */
int wdc_filter_match(const struct wdc_filter *f, const struct wdc_packet *k, const struct wdc_meta *m);

void wdc_filter_free(struct wdc_filter *f);

#endif
