/* See wdc-packet.h. Written from the RFCs (791, 793, 768, 8200, 1071). */
#include "wdc-packet.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

uint32_t wdc_ip_length(const uint8_t *p, uint32_t avail)
{
    uint32_t len;
    if (avail < 1) return 0;
    switch (p[0] >> 4) {
    case 4:
        if (avail < 20) return 0;
        len = rd16(p + 2);
        if (len < 20) return 0;
        break;
    case 6:
        if (avail < 40) return 0;
        len = 40u + rd16(p + 4);
        break;
    default:
        return 0;
    }
    return len <= avail ? len : 0;
}

/* Skips IPv6 extension headers; returns the upper-layer protocol and its offset, or -1 for fragments/unknown layouts. */
static int ipv6_upper(const uint8_t *p, uint32_t len, uint8_t *proto, uint32_t *off, int *fragment)
{
    uint8_t next = p[6];
    uint32_t at = 40;
    for (int hops = 0; hops < 16; hops++) {
        switch (next) {
        case 0: case 43: case 60: /* hop-by-hop, routing, destination options */
            if (at + 8 > len) return -1;
            next = p[at];
            at += 8u + 8u * p[at + 1];
            break;
        case 51: /* AH: length in 4-byte units, minus 2 */
            if (at + 8 > len) return -1;
            next = p[at];
            at += 4u * (p[at + 1] + 2u);
            break;
        case 44: /* fragment */
            if (at + 8 > len) return -1;
            *fragment = 1;
            if ((rd16(p + at + 2) & 0xfff8) != 0) { *proto = p[at]; return -1; }
            next = p[at];
            at += 8;
            break;
        default:
            if (at > len) return -1;
            *proto = next;
            *off = at;
            return 0;
        }
    }
    return -1;
}

int wdc_parse_packet(const uint8_t *p, uint32_t len, struct wdc_packet *out)
{
    uint32_t l4 = 0, total = wdc_ip_length(p, len);
    uint8_t proto = 0;
    int have_l4 = 0;
    memset(out, 0, sizeof(*out));
    if (total == 0) return -1;
    if ((p[0] >> 4) == 4) {
        uint32_t ihl = 4u * (p[0] & 0x0f);
        if (ihl < 20 || ihl > total) return -1;
        out->ipv4 = 1;
        proto = p[9];
        out->fragment = (rd16(p + 6) & 0x3fff) != 0;
        /* Non-first fragments carry no transport header. */
        have_l4 = (rd16(p + 6) & 0x1fff) == 0;
        l4 = ihl;
    } else {
        out->ipv6 = 1;
        have_l4 = ipv6_upper(p, total, &proto, &l4, &out->fragment) == 0;
    }
    out->protocol = proto;
    if (!have_l4) return 0;
    out->l4_offset = l4;
    out->l4_length = total - l4;
    switch (proto) {
    case 6:
        if (out->l4_length >= 20 && 4u * (p[l4 + 12] >> 4) >= 20 && 4u * (p[l4 + 12] >> 4) <= out->l4_length) {
            out->has_tcp = 1;
            out->src_port = rd16(p + l4);
            out->dst_port = rd16(p + l4 + 2);
            out->tcp_flags = p[l4 + 13];
            out->payload_length = out->l4_length - 4u * (p[l4 + 12] >> 4);
        }
        break;
    case 17:
        if (out->l4_length >= 8) {
            out->has_udp = 1;
            out->src_port = rd16(p + l4);
            out->dst_port = rd16(p + l4 + 2);
            out->udp_length = rd16(p + l4 + 4);
            out->payload_length = out->l4_length - 8;
        }
        break;
    case 1:
        out->has_icmp = out->ipv4 && out->l4_length >= 8;
        break;
    case 58:
        out->has_icmpv6 = out->ipv6 && out->l4_length >= 8;
        break;
    default:
        break;
    }
    return 0;
}

/* Ones'-complement sum of 16-bit big-endian words (RFC 1071), not folded. */
static uint64_t sum16(const uint8_t *p, uint32_t len, uint64_t acc)
{
    uint32_t i;
    for (i = 0; i + 1 < len; i += 2) acc += rd16(p + i);
    if (len & 1) acc += (uint64_t)p[len - 1] << 8;
    return acc;
}

static uint16_t fold(uint64_t acc)
{
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

/* The pseudo-header sum (RFC 793 / RFC 8200 §8.1). */
static uint64_t pseudo(const uint8_t *p, int v6, uint8_t proto, uint32_t l4len)
{
    uint64_t acc = v6 ? sum16(p + 8, 32, 0) : sum16(p + 12, 8, 0);
    return acc + proto + (l4len & 0xffff) + (l4len >> 16);
}

/* The checksum field of the transport header, or -1 for none. */
static int checksum_at(const struct wdc_packet *k)
{
    if (k->has_tcp) return 16;
    if (k->has_udp) return 6;
    if (k->has_icmp || k->has_icmpv6) return 2;
    return -1;
}

uint8_t wdc_valid_checksums(const uint8_t *p, uint32_t len)
{
    struct wdc_packet k;
    uint8_t flags = 0;
    if (wdc_parse_packet(p, len, &k) != 0) return 0;
    if (k.ipv4 && fold(sum16(p, 4u * (p[0] & 0x0f), 0)) == 0xffff) flags |= WDC_FLAG_IP_CHECKSUM;
    if (k.fragment) return flags; /* a fragment's transport checksum covers bytes it does not hold */
    if (k.has_tcp && fold(sum16(p + k.l4_offset, k.l4_length, pseudo(p, k.ipv6, 6, k.l4_length))) == 0xffff) flags |= WDC_FLAG_TCP_CHECKSUM;
    if (k.has_udp) {
        /* IPv4 UDP may carry no checksum (0); that is valid. */
        if ((k.ipv4 && rd16(p + k.l4_offset + 6) == 0) ||
            fold(sum16(p + k.l4_offset, k.l4_length, pseudo(p, k.ipv6, 17, k.l4_length))) == 0xffff)
            flags |= WDC_FLAG_UDP_CHECKSUM;
    }
    return flags;
}

int wdc_calc_checksums(uint8_t *p, uint32_t len, unsigned no_flags)
{
    struct wdc_packet k;
    int at;
    if (wdc_parse_packet(p, len, &k) != 0) return -1;
    if (k.ipv4 && !(no_flags & WDC_NO_IP_CHECKSUM)) {
        uint32_t ihl = 4u * (p[0] & 0x0f);
        wr16(p + 10, 0);
        wr16(p + 10, (uint16_t)~fold(sum16(p, ihl, 0)));
    }
    at = checksum_at(&k);
    if (at < 0 || k.fragment) return 0;
    if ((k.has_tcp && (no_flags & WDC_NO_TCP_CHECKSUM)) || (k.has_udp && (no_flags & WDC_NO_UDP_CHECKSUM)) ||
        (k.has_icmp && (no_flags & WDC_NO_ICMP_CHECKSUM)) || (k.has_icmpv6 && (no_flags & WDC_NO_ICMPV6_CHECKSUM)))
        return 0;
    {
        uint8_t *l4 = p + k.l4_offset;
        uint64_t acc = k.has_icmp ? 0 : pseudo(p, k.ipv6, k.protocol, k.l4_length);
        uint16_t c;
        wr16(l4 + at, 0);
        c = (uint16_t)~fold(sum16(l4, k.l4_length, acc));
        if (k.has_udp && c == 0) c = 0xffff; /* 0 means "no checksum" in UDP */
        wr16(l4 + at, c);
    }
    return 0;
}
