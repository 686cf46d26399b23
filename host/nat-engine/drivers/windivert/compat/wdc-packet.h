/*
 * IP packet parsing and Internet checksums for the WinDivert compat
 * library: what the filter tests need (protocol, ports, TCP flags) and what
 * WinDivert's checksum flags and WinDivertHelperCalcChecksums promise.
 */
#ifndef WDC_PACKET_H
#define WDC_PACKET_H

#include <stdint.h>

/* What a filter can ask about a packet. Fields of absent headers are "not relevant". */
struct wdc_packet {
    int ipv4;               /* an IPv4 header was parsed */
    int ipv6;               /* an IPv6 header was parsed */
    uint8_t protocol;       /* transport protocol after IPv6 extension headers */
    int fragment;           /* an IP fragment (transport checksums cannot be checked or computed) */
    int has_tcp, has_udp, has_icmp, has_icmpv6;
    uint32_t l4_offset;     /* transport header offset (when a transport header is present) */
    uint32_t l4_length;     /* transport header + payload */
    uint16_t src_port, dst_port;
    uint8_t tcp_flags;      /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 */
    uint32_t payload_length;
    uint16_t udp_length;
};

/* Parses `len` bytes. Returns 0 for an IPv4/IPv6 packet (transport fields filled when present), -1 otherwise. */
int wdc_parse_packet(const uint8_t *p, uint32_t len, struct wdc_packet *out);

/* Length of the IP packet at `p` from its header (IPv4 total length, IPv6 40 + payload length), or 0 if malformed or longer than `avail`. */
uint32_t wdc_ip_length(const uint8_t *p, uint32_t avail);

/* Checksum-valid bits as WINDIVERT_ADDRESS flags (IPChecksum 0x20, TCPChecksum 0x40, UDPChecksum 0x80). */
#define WDC_FLAG_IP_CHECKSUM 0x20
#define WDC_FLAG_TCP_CHECKSUM 0x40
#define WDC_FLAG_UDP_CHECKSUM 0x80
uint8_t wdc_valid_checksums(const uint8_t *p, uint32_t len);

/* WinDivertHelperCalcChecksums flags (checksums to leave alone). */
#define WDC_NO_IP_CHECKSUM 1
#define WDC_NO_ICMP_CHECKSUM 2
#define WDC_NO_ICMPV6_CHECKSUM 4
#define WDC_NO_TCP_CHECKSUM 8
#define WDC_NO_UDP_CHECKSUM 16

/* Recomputes every checksum of the packet except those `no_flags` excludes. Returns 0, or -1 if not an IP packet. */
int wdc_calc_checksums(uint8_t *p, uint32_t len, unsigned no_flags);

#endif
