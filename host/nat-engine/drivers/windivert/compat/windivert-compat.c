/*
 * WinDivert's user-mode API over NFQUEUE (see windivert-compat.h for what
 * differs from WinDivert).
 *
 * A handle owns one NFQUEUE queue (the first free number from QUEUE_BASE),
 * the iptables chains feeding it (wdc-rules.h), its compiled filter
 * (wdc-filter.h) and two raw sockets for impostor injection. The kernel
 * queues every packet of the hooks; the library checks each against the
 * filter in C: non-matching packets get NF_ACCEPT at once, matching ones
 * are copied out to the caller and stay queued ("pending") until they are
 * sent back (NF_ACCEPT with their bytes) or expire (NF_DROP).
 *
 * WINDIVERT_ADDRESS (80 bytes, little-endian): Timestamp i64 @0, Layer u8
 * @8, Event u8 @9, flags u8 @10 (Sniffed 0x01, Outbound 0x02, Loopback
 * 0x04, Impostor 0x08, IPv6 0x10, IPChecksum 0x20, TCPChecksum 0x40,
 * UDPChecksum 0x80), Network.IfIdx u32 @16, Network.SubIfIdx u32 @20. The
 * library's token lives in bytes WinDivert leaves unused at this layer:
 * packet id u32 @24, handle tag u32 @28.
 *
 * Threads: one RecvEx may block (in poll, without the handle lock) while
 * another thread sends, shuts down or closes. Handles are looked up in a
 * registry and reference-counted per call, so a closed or bogus handle
 * fails with ERROR_INVALID_HANDLE and Close waits for calls in flight.
 */
#define _GNU_SOURCE
#include "windivert-compat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wdc-filter.h"
#include "wdc-packet.h"
#include "wdc-rules.h"
#include "wdc-win32.h"

#define LAYER_NETWORK 0
#define FLAG_SNIFF 0x0001
#define FLAG_DROP 0x0002
#define FLAG_RECV_ONLY 0x0004
#define FLAG_SEND_ONLY 0x0008
#define FLAG_NO_INSTALL 0x0010
#define FLAG_FRAGMENTS 0x0020
#define FLAGS_KNOWN 0x003f
#define PARAM_QUEUE_LENGTH 0
#define PARAM_QUEUE_TIME 1
#define PARAM_QUEUE_SIZE 2
#define PARAM_VERSION_MAJOR 3
#define PARAM_VERSION_MINOR 4
#define SHUTDOWN_RECV 1
#define SHUTDOWN_SEND 2
#define PRIORITY_MAX 30000
#define BATCH_MAX 255
#define MTU_MAX (40 + 0xffff)

#define A_TIMESTAMP 0
#define A_LAYER 8
#define A_EVENT 9
#define A_FLAGS 10
#define A_IFIDX 16
#define A_SUBIFIDX 20
#define A_TOKEN_ID 24
#define A_TOKEN_TAG 28
#define AF_OUTBOUND 0x02
#define AF_LOOPBACK 0x04
#define AF_IMPOSTOR 0x08
#define AF_IPV6 0x10
#define AF_IP_CHECKSUM 0x20
#define AF_TCP_CHECKSUM 0x40
#define AF_UDP_CHECKSUM 0x80

#define QUEUE_BASE 22340u
#define QUEUE_TRIES 64u
#define PENDING_CAP 16384u              /* WINDIVERT_PARAM_QUEUE_LENGTH_MAX; a power of two */
#define INJECT_MARK 0x00400000u         /* on impostor packets, so the handle's own rules skip them */
#define RESENT_MARK 0x00800000u         /* on captured datagrams sent on through a raw socket: untracked (wdc-rules.h) */
#define RX_SIZE (128 * 1024)            /* one netlink message: a packet of up to 64 KiB plus attributes */
#define SOCKET_BUFFER (8 * 1024 * 1024)
#define MAX_HANDLES 64

struct pending {
    uint32_t id;
    int live;
    int outbound; /* the path it was captured on */
    uint64_t at_ns;
};

/* The caller's buffers during one RecvEx; the packet callback appends to them. */
struct batch {
    uint8_t *buf;
    uint32_t cap, used;
    uint8_t *addrs;     /* NULL: the caller wants no addresses */
    uint32_t addr_cap, count;
    int full;
};

struct wdc_handle {
    pthread_mutex_t lock;
    int refs;           /* calls in flight (guarded by the registry lock) */
    int closing;        /* guarded by the registry lock */
    uint64_t flags;
    uint32_t tag;
    uint32_t lo_idx;
    struct wdc_filter *filter;
    struct nfq_handle *nfq;
    struct nfq_q_handle *qh;
    int fd, wake_fd, raw4, raw6, resent4, resent6;
    struct wdc_rules rules;
    int rules_up;
    int shutdown_recv, shutdown_send;
    uint64_t queue_length, queue_time_ms, queue_size;
    struct pending slots[PENDING_CAP];
    uint32_t fifo[PENDING_CAP];
    uint32_t fifo_head, fifo_count;
    struct batch *batch;
    int has_carry;
    uint32_t carry_len;
    uint8_t carry_addr[WDC_ADDRESS_SIZE];
    uint8_t carry[MTU_MAX];
    uint8_t rx[RX_SIZE];
    uint8_t scratch[MTU_MAX];
};

static __thread uint32_t last_error;
static __thread const char *filter_error;
static __thread unsigned filter_error_pos;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t registry_idle = PTHREAD_COND_INITIALIZER;
static struct wdc_handle *registry[MAX_HANDLES];

static int fail(uint32_t code)
{
    last_error = code;
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* ---- registry ------------------------------------------------------------ */

static struct wdc_handle *acquire(WDC_HANDLE handle)
{
    struct wdc_handle *found = NULL;
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < MAX_HANDLES; i++) {
        if (registry[i] != NULL && registry[i] == handle && !registry[i]->closing) {
            found = registry[i];
            found->refs++;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (found == NULL) last_error = WDC_ERROR_INVALID_HANDLE;
    return found;
}

static void release(struct wdc_handle *h)
{
    pthread_mutex_lock(&registry_lock);
    h->refs--;
    pthread_cond_broadcast(&registry_idle);
    pthread_mutex_unlock(&registry_lock);
}

static int register_handle(struct wdc_handle *h)
{
    int ok = 0;
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < MAX_HANDLES && !ok; i++) {
        if (registry[i] == NULL) {
            registry[i] = h;
            ok = 1;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return ok;
}

static void wake(struct wdc_handle *h)
{
    uint64_t one = 1;
    if (h->wake_fd >= 0 && write(h->wake_fd, &one, sizeof(one)) < 0) {
        /* The counter is saturated: a wake-up is pending anyway. */
    }
}

/* ---- pending packets (h->lock held) -------------------------------------- */

static void verdict_drop(struct wdc_handle *h, uint32_t id)
{
    nfq_set_verdict(h->qh, id, NF_DROP, 0, NULL);
}

static void pending_expire(struct wdc_handle *h, uint64_t now)
{
    uint64_t limit = h->queue_time_ms * 1000000ull;
    while (h->fifo_count > 0) {
        uint32_t id = h->fifo[h->fifo_head];
        struct pending *s = &h->slots[id & (PENDING_CAP - 1)];
        if (s->live && s->id == id) {
            if (now - s->at_ns < limit) return;
            verdict_drop(h, id);
            s->live = 0;
        }
        h->fifo_head = (h->fifo_head + 1) & (PENDING_CAP - 1);
        h->fifo_count--;
    }
}

/* Milliseconds until the oldest pending packet expires; -1 when none is pending. */
static int pending_timeout(struct wdc_handle *h, uint64_t now)
{
    uint64_t limit = h->queue_time_ms * 1000000ull;
    for (uint32_t i = 0; i < h->fifo_count; i++) {
        uint32_t id = h->fifo[(h->fifo_head + i) & (PENDING_CAP - 1)];
        struct pending *s = &h->slots[id & (PENDING_CAP - 1)];
        if (s->live && s->id == id) return s->at_ns + limit <= now ? 0 : (int)((s->at_ns + limit - now) / 1000000ull) + 1;
    }
    return -1;
}

static void pending_add(struct wdc_handle *h, uint32_t id, int outbound, uint64_t now)
{
    struct pending *s = &h->slots[id & (PENDING_CAP - 1)];
    if (h->fifo_count == PENDING_CAP) {
        /* Full: the oldest goes, as a full WinDivert queue loses packets. */
        uint32_t old = h->fifo[h->fifo_head];
        struct pending *o = &h->slots[old & (PENDING_CAP - 1)];
        if (o->live && o->id == old) {
            verdict_drop(h, old);
            o->live = 0;
        }
        h->fifo_head = (h->fifo_head + 1) & (PENDING_CAP - 1);
        h->fifo_count--;
    }
    if (s->live && s->id != id) verdict_drop(h, s->id);
    s->id = id;
    s->live = 1;
    s->outbound = outbound;
    s->at_ns = now;
    h->fifo[(h->fifo_head + h->fifo_count) & (PENDING_CAP - 1)] = id;
    h->fifo_count++;
}

static void pending_drop_all(struct wdc_handle *h)
{
    for (uint32_t i = 0; i < PENDING_CAP; i++) {
        if (h->slots[i].live) {
            verdict_drop(h, h->slots[i].id);
            h->slots[i].live = 0;
        }
    }
    h->fifo_count = 0;
}

/* ---- receiving ----------------------------------------------------------- */

static void fill_address(struct wdc_handle *h, uint8_t *a, const uint8_t *pkt, uint32_t len,
                         const struct wdc_meta *m, int ipv6, uint32_t id)
{
    uint64_t ts = now_ns() / 100; /* 100 ns ticks, QueryPerformanceCounter's usual 10 MHz */
    uint8_t flags = 0;
    memset(a, 0, WDC_ADDRESS_SIZE);
    memcpy(a + A_TIMESTAMP, &ts, 8);
    a[A_LAYER] = LAYER_NETWORK;
    a[A_EVENT] = 0;
    if (h->flags & FLAG_SNIFF) flags |= 0x01;
    if (m->outbound) flags |= AF_OUTBOUND;
    if (m->loopback) flags |= AF_LOOPBACK;
    if (ipv6) flags |= AF_IPV6;
    flags |= wdc_valid_checksums(pkt, len);
    a[A_FLAGS] = flags;
    wr32(a + A_IFIDX, m->if_idx);
    wr32(a + A_SUBIFIDX, 0);
    wr32(a + A_TOKEN_ID, id);
    wr32(a + A_TOKEN_TAG, h->tag);
}

/* libnetfilter_queue's per-packet callback, run from nfq_handle_packet in RecvEx (h->lock held). */
static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfad, void *data)
{
    struct wdc_handle *h = data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfad);
    struct batch *b = h->batch;
    unsigned char *payload = NULL;
    struct wdc_packet k;
    struct wdc_meta m;
    uint8_t addr[WDC_ADDRESS_SIZE];
    uint32_t id;
    int len;
    (void)msg;
    if (ph == NULL) return 0;
    id = ntohl(ph->packet_id);
    len = nfq_get_payload(nfad, &payload);
    if (len <= 0 || b == NULL || wdc_parse_packet(payload, (uint32_t)len, &k) != 0) {
        nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
        return 0;
    }
    memset(&m, 0, sizeof(m));
    m.outbound = ph->hook == NF_INET_POST_ROUTING;
    m.if_idx = m.outbound ? nfq_get_outdev(nfad) : nfq_get_indev(nfad);
    m.loopback = m.outbound && h->lo_idx != 0 && m.if_idx == h->lo_idx;
    if (!wdc_filter_match(h->filter, &k, &m)) {
        nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
        return 0;
    }
    if (h->flags & FLAG_DROP) {
        verdict_drop(h, id);
        return 0;
    }
    fill_address(h, addr, payload, (uint32_t)len, &m, k.ipv6, id);
    if (b->count < b->addr_cap && b->used + (uint32_t)len <= b->cap) {
        memcpy(b->buf + b->used, payload, (size_t)len);
        b->used += (uint32_t)len;
        if (b->addrs != NULL) memcpy(b->addrs + (size_t)b->count * WDC_ADDRESS_SIZE, addr, WDC_ADDRESS_SIZE);
        b->count++;
    } else {
        /* No room left in this batch: the packet opens the next one. */
        memcpy(h->carry, payload, (size_t)len);
        memcpy(h->carry_addr, addr, WDC_ADDRESS_SIZE);
        h->carry_len = (uint32_t)len;
        h->has_carry = 1;
        b->full = 1;
    }
    if (h->flags & FLAG_SNIFF) nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
    else pending_add(h, id, m.outbound, now_ns());
    return 0;
}

int WinDivertRecvEx(WDC_HANDLE handle, void *pPacket, unsigned packetLen, unsigned *pRecvLen, uint64_t flags,
                    void *pAddr, unsigned *pAddrLen, void *lpOverlapped)
{
    struct wdc_handle *h = acquire(handle);
    struct batch b;
    uint32_t error = 0;
    if (h == NULL) return 0;
    if (lpOverlapped != NULL || flags != 0 || pPacket == NULL || (h->flags & FLAG_SEND_ONLY) ||
        (pAddrLen != NULL && *pAddrLen < WDC_ADDRESS_SIZE)) {
        release(h);
        return fail(WDC_ERROR_INVALID_PARAMETER);
    }
    memset(&b, 0, sizeof(b));
    b.buf = pPacket;
    b.cap = packetLen;
    b.addrs = pAddr;
    b.addr_cap = pAddrLen != NULL ? *pAddrLen / WDC_ADDRESS_SIZE : 1;
    if (b.addr_cap > BATCH_MAX) b.addr_cap = BATCH_MAX;
    pthread_mutex_lock(&h->lock);
    if (h->has_carry) {
        if (h->carry_len > b.cap) {
            /* Larger than the whole buffer: truncated, as WinDivert does. */
            memcpy(b.buf, h->carry, b.cap);
            if (b.addrs != NULL) memcpy(b.addrs, h->carry_addr, WDC_ADDRESS_SIZE);
            h->has_carry = 0;
            pthread_mutex_unlock(&h->lock);
            release(h);
            if (pRecvLen != NULL) *pRecvLen = b.cap;
            if (pAddrLen != NULL) *pAddrLen = WDC_ADDRESS_SIZE;
            return fail(WDC_ERROR_INSUFFICIENT_BUFFER);
        }
        memcpy(b.buf, h->carry, h->carry_len);
        if (b.addrs != NULL) memcpy(b.addrs, h->carry_addr, WDC_ADDRESS_SIZE);
        b.used = h->carry_len;
        b.count = 1;
        h->has_carry = 0;
    }
    h->batch = &b;
    for (;;) {
        ssize_t n;
        int closing;
        pending_expire(h, now_ns());
        if (b.count >= b.addr_cap || b.full) break;
        pthread_mutex_lock(&registry_lock);
        closing = h->closing;
        pthread_mutex_unlock(&registry_lock);
        if (closing) {
            error = WDC_ERROR_OPERATION_ABORTED;
            break;
        }
        n = recv(h->fd, h->rx, sizeof(h->rx), MSG_DONTWAIT);
        if (n > 0) {
            nfq_handle_packet(h->nfq, (char *)h->rx, (int)n);
            continue;
        }
        if (n < 0 && (errno == EINTR || errno == ENOBUFS)) continue; /* ENOBUFS: the kernel lost packets; go on */
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            error = WDC_ERROR_GEN_FAILURE;
            break;
        }
        if (b.count > 0) break;
        if (h->shutdown_recv) {
            error = WDC_ERROR_NO_DATA;
            break;
        }
        {
            struct pollfd fds[2] = {{h->fd, POLLIN, 0}, {h->wake_fd, POLLIN, 0}};
            int timeout = pending_timeout(h, now_ns());
            uint64_t counter;
            pthread_mutex_unlock(&h->lock);
            poll(fds, 2, timeout);
            if ((fds[1].revents & POLLIN) && read(h->wake_fd, &counter, sizeof(counter)) < 0) {
                /* Drained by another reader. */
            }
            pthread_mutex_lock(&h->lock);
        }
    }
    h->batch = NULL;
    pthread_mutex_unlock(&h->lock);
    if (b.count > 0) {
        if (pRecvLen != NULL) *pRecvLen = b.used;
        if (pAddrLen != NULL) *pAddrLen = b.count * WDC_ADDRESS_SIZE;
        release(h);
        return 1;
    }
    release(h);
    return fail(error != 0 ? error : WDC_ERROR_GEN_FAILURE);
}

int WinDivertRecv(WDC_HANDLE handle, void *pPacket, unsigned packetLen, unsigned *pRecvLen, void *pAddr)
{
    return WinDivertRecvEx(handle, pPacket, packetLen, pRecvLen, 0, pAddr, NULL, NULL);
}

/* ---- sending ------------------------------------------------------------- */

/* The transport protocol of an IPv4 or IPv6 packet (IPv6: the first header's next-header field). */
static int ip_protocol(const uint8_t *pkt, uint32_t len)
{
    if (len >= 20 && (pkt[0] >> 4) == 4) return pkt[9];
    if (len >= 40 && (pkt[0] >> 4) == 6) return pkt[6];
    return -1;
}

/* Through a raw socket (`raw4`/`raw6`, by family), routed by its destination; an impostor's TTL goes down first. */
static uint32_t send_raw(uint8_t *pkt, uint32_t len, int impostor, int raw4, int raw6)
{
    ssize_t n;
    if (impostor) {
        /* WinDivert's loop guard: the TTL / hop limit goes down on every reinjection. */
        if ((pkt[0] >> 4) == 4) {
            if (pkt[8] <= 1) return WDC_ERROR_HOST_UNREACHABLE;
            pkt[8]--;
            wdc_calc_checksums(pkt, len, WDC_NO_TCP_CHECKSUM | WDC_NO_UDP_CHECKSUM | WDC_NO_ICMP_CHECKSUM | WDC_NO_ICMPV6_CHECKSUM);
        } else {
            if (pkt[7] <= 1) return WDC_ERROR_HOST_UNREACHABLE;
            pkt[7]--;
        }
    }
    if ((pkt[0] >> 4) == 4) {
        struct sockaddr_in to;
        memset(&to, 0, sizeof(to));
        to.sin_family = AF_INET;
        memcpy(&to.sin_addr, pkt + 16, 4);
        if (raw4 < 0) return WDC_ERROR_NOT_SUPPORTED;
        n = sendto(raw4, pkt, len, 0, (struct sockaddr *)&to, sizeof(to));
    } else {
        struct sockaddr_in6 to;
        memset(&to, 0, sizeof(to));
        to.sin6_family = AF_INET6;
        memcpy(&to.sin6_addr, pkt + 24, 16);
        if (raw6 < 0) return WDC_ERROR_NOT_SUPPORTED;
        n = sendto(raw6, pkt, len, 0, (struct sockaddr *)&to, sizeof(to));
    }
    if (n == (ssize_t)len) return 0;
    if (errno == ENETUNREACH || errno == EHOSTUNREACH) return WDC_ERROR_HOST_UNREACHABLE;
    return errno == EPERM || errno == EACCES ? WDC_ERROR_ACCESS_DENIED : WDC_ERROR_GEN_FAILURE;
}

/* An impostor, or a packet the handle sends out on its own: marked INJECT_MARK, so the handle's rules skip it. */
static uint32_t inject(struct wdc_handle *h, uint8_t *pkt, uint32_t len, int impostor)
{
    return send_raw(pkt, len, impostor, h->raw4, h->raw6);
}

int WinDivertSendEx(WDC_HANDLE handle, const void *pPacket, unsigned packetLen, unsigned *pSendLen, uint64_t flags,
                    const void *pAddr, unsigned addrLen, void *lpOverlapped)
{
    struct wdc_handle *h = acquire(handle);
    const uint8_t *pkt = pPacket, *addrs = pAddr;
    uint32_t count, off = 0, error = 0;
    if (h == NULL) return 0;
    count = addrLen / WDC_ADDRESS_SIZE;
    if (lpOverlapped != NULL || flags != 0 || pPacket == NULL || pAddr == NULL || count == 0 || count > BATCH_MAX ||
        addrLen % WDC_ADDRESS_SIZE != 0 || (h->flags & FLAG_RECV_ONLY)) {
        release(h);
        return fail(WDC_ERROR_INVALID_PARAMETER);
    }
    pthread_mutex_lock(&h->lock);
    if (h->shutdown_send) error = WDC_ERROR_OPERATION_ABORTED;
    for (uint32_t i = 0; i < count && error == 0; i++) {
        const uint8_t *a = addrs + (size_t)i * WDC_ADDRESS_SIZE;
        uint32_t len = wdc_ip_length(pkt + off, packetLen - off), id = rd32(a + A_TOKEN_ID);
        unsigned no = WDC_NO_ICMP_CHECKSUM | WDC_NO_ICMPV6_CHECKSUM;
        struct pending *s = &h->slots[id & (PENDING_CAP - 1)];
        if (len == 0) {
            error = WDC_ERROR_INVALID_PARAMETER;
            break;
        }
        memcpy(h->scratch, pkt + off, len);
        /* As WinDivert: checksums whose valid-flag is clear are computed in full. */
        if (a[A_FLAGS] & AF_IP_CHECKSUM) no |= WDC_NO_IP_CHECKSUM;
        if (a[A_FLAGS] & AF_TCP_CHECKSUM) no |= WDC_NO_TCP_CHECKSUM;
        if (a[A_FLAGS] & AF_UDP_CHECKSUM) no |= WDC_NO_UDP_CHECKSUM;
        wdc_calc_checksums(h->scratch, len, no);
        /* The packet the handle queued under this address's token, still awaiting its verdict. */
        int queued = rd32(a + A_TOKEN_TAG) == h->tag && s->live && s->id == id;
        if (queued && (a[A_FLAGS] & AF_OUTBOUND) && !s->outbound) {
            /* Captured inbound, sent outbound: the gateway sends it now (WinDivert's outbound path). The
             * queued original goes; the bytes leave through a raw socket, routed by their destination. */
            s->live = 0;
            verdict_drop(h, id);
            error = inject(h, h->scratch, len, 0);
        } else if (queued && (s->outbound || ip_protocol(h->scratch, len) != IPPROTO_UDP)) {
            s->live = 0;
            if (nfq_set_verdict(h->qh, id, NF_ACCEPT, len, h->scratch) < 0) error = WDC_ERROR_GEN_FAILURE;
        } else if (queued) {
            /* A datagram captured inbound and sent back inbound goes through a raw socket, untracked (wdc-rules.h): an
             * accepted verdict would let conntrack make an entry for it here, and that entry could take the
             * tuple of a client's own next flow (its RTP to the same peer) from the gateway's NAT. */
            s->live = 0;
            verdict_drop(h, id);
            error = send_raw(h->scratch, len, 0, h->resent4, h->resent6);
        } else {
            error = inject(h, h->scratch, len, (a[A_FLAGS] & AF_IMPOSTOR) != 0);
        }
        if (error == 0) off += len;
    }
    pthread_mutex_unlock(&h->lock);
    release(h);
    if (pSendLen != NULL) *pSendLen = off;
    return error == 0 ? 1 : fail(error);
}

int WinDivertSend(WDC_HANDLE handle, const void *pPacket, unsigned packetLen, unsigned *pSendLen, const void *pAddr)
{
    return WinDivertSendEx(handle, pPacket, packetLen, pSendLen, 0, pAddr, WDC_ADDRESS_SIZE, NULL);
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Frees everything `h` holds; rules and queue go first so no packet is queued to a dead socket. */
static void destroy(struct wdc_handle *h)
{
    if (h->rules_up) wdc_rules_remove(&h->rules);
    if (h->qh != NULL) {
        pending_drop_all(h);
        nfq_destroy_queue(h->qh);
    }
    if (h->nfq != NULL) nfq_close(h->nfq);
    if (h->wake_fd >= 0) close(h->wake_fd);
    if (h->raw4 >= 0) close(h->raw4);
    if (h->raw6 >= 0) close(h->raw6);
    if (h->resent4 >= 0) close(h->resent4);
    if (h->resent6 >= 0) close(h->resent6);
    if (h->filter != NULL) wdc_filter_free(h->filter);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static uint32_t errno_to_win32(int e)
{
    return e == EPERM || e == EACCES ? WDC_ERROR_ACCESS_DENIED : e == ENOMEM ? WDC_ERROR_NOT_ENOUGH_MEMORY : WDC_ERROR_GEN_FAILURE;
}

/* The queue, its socket and the wake-up eventfd; a Win32 error code on failure. */
static uint32_t open_queue(struct wdc_handle *h)
{
    unsigned q;
    h->nfq = nfq_open();
    if (h->nfq == NULL) return errno_to_win32(errno);
    /* Obsolete since Linux 3.8, harmless before. */
    nfq_unbind_pf(h->nfq, AF_INET);
    nfq_bind_pf(h->nfq, AF_INET);
    nfq_unbind_pf(h->nfq, AF_INET6);
    nfq_bind_pf(h->nfq, AF_INET6);
    errno = 0;
    for (q = QUEUE_BASE; q < QUEUE_BASE + QUEUE_TRIES; q++) {
        h->qh = nfq_create_queue(h->nfq, (uint16_t)q, on_packet, h);
        if (h->qh != NULL) break;
        /* EPERM is also the kernel's answer for a queue another socket holds (a second handle): try the next. */
        if (errno == EPERM && geteuid() != 0) return WDC_ERROR_ACCESS_DENIED;
    }
    if (h->qh == NULL) return errno_to_win32(errno);
    if (nfq_set_mode(h->qh, NFQNL_COPY_PACKET, 0xffff) < 0) return errno_to_win32(errno);
    nfq_set_queue_maxlen(h->qh, (uint32_t)h->queue_length);
    nfnl_rcvbufsiz(nfq_nfnlh(h->nfq), SOCKET_BUFFER);
    h->fd = nfq_fd(h->nfq);
    h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (h->wake_fd < 0) return errno_to_win32(errno);
    h->rules_up = 1;
    return wdc_rules_install(&h->rules, q, INJECT_MARK, RESENT_MARK);
}

static int raw_socket(int family, unsigned mark)
{
    int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
    return fd;
}

WDC_HANDLE WinDivertOpen(const char *filter, int layer, int16_t priority, uint64_t flags)
{
    struct wdc_handle *h;
    const char *error;
    unsigned pos;
    uint32_t code = 0;
    filter_error = NULL;
    filter_error_pos = 0;
    if (layer != LAYER_NETWORK || priority > PRIORITY_MAX || priority < -PRIORITY_MAX || (flags & ~(uint64_t)FLAGS_KNOWN) != 0 ||
        (flags & (FLAG_SNIFF | FLAG_DROP)) == (FLAG_SNIFF | FLAG_DROP) ||
        (flags & (FLAG_RECV_ONLY | FLAG_SEND_ONLY)) == (FLAG_RECV_ONLY | FLAG_SEND_ONLY)) {
        fail(WDC_ERROR_INVALID_PARAMETER);
        return (WDC_HANDLE)(intptr_t)-1;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        fail(WDC_ERROR_NOT_ENOUGH_MEMORY);
        return (WDC_HANDLE)(intptr_t)-1;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->fd = h->wake_fd = h->raw4 = h->raw6 = h->resent4 = h->resent6 = -1;
    h->flags = flags;
    h->queue_length = 4096;
    h->queue_time_ms = 2000;
    h->queue_size = 4194304;
    h->filter = wdc_filter_compile(filter, &error, &pos);
    if (h->filter == NULL) {
        filter_error = error;
        filter_error_pos = pos;
        destroy(h);
        fail(WDC_ERROR_INVALID_PARAMETER);
        return (WDC_HANDLE)(intptr_t)-1;
    }
    while (h->tag == 0) {
        if (getrandom(&h->tag, sizeof(h->tag), 0) != sizeof(h->tag)) h->tag = (uint32_t)now_ns() ^ (uint32_t)getpid();
    }
    h->lo_idx = if_nametoindex("lo");
    if (!(flags & FLAG_SEND_ONLY)) {
        wdc_rules_sweep_stale();
        code = open_queue(h);
    }
    if (code == 0 && !(flags & FLAG_RECV_ONLY)) {
        h->raw4 = raw_socket(AF_INET, INJECT_MARK);
        if (h->raw4 < 0) code = errno_to_win32(errno);
        h->raw6 = raw_socket(AF_INET6, INJECT_MARK); /* absent IPv6 only disables IPv6 injection */
    }
    if (code == 0 && !(flags & (FLAG_RECV_ONLY | FLAG_SEND_ONLY))) {
        h->resent4 = raw_socket(AF_INET, RESENT_MARK);
        if (h->resent4 < 0) code = errno_to_win32(errno);
        h->resent6 = raw_socket(AF_INET6, RESENT_MARK);
    }
    if (code == 0 && !register_handle(h)) code = WDC_ERROR_NOT_ENOUGH_MEMORY;
    if (code != 0) {
        destroy(h);
        fail(code);
        return (WDC_HANDLE)(intptr_t)-1;
    }
    return h;
}

int WinDivertShutdown(WDC_HANDLE handle, int how)
{
    struct wdc_handle *h = acquire(handle);
    int remove = 0;
    if (h == NULL) return 0;
    if (how < SHUTDOWN_RECV || how > (SHUTDOWN_RECV | SHUTDOWN_SEND)) {
        release(h);
        return fail(WDC_ERROR_INVALID_PARAMETER);
    }
    pthread_mutex_lock(&h->lock);
    if ((how & SHUTDOWN_RECV) && !h->shutdown_recv) {
        h->shutdown_recv = 1;
        remove = h->rules_up;
        h->rules_up = 0;
    }
    if (how & SHUTDOWN_SEND) h->shutdown_send = 1;
    pthread_mutex_unlock(&h->lock);
    /* Outside the lock: iptables takes a while, and a RecvEx may drain meanwhile. */
    if (remove) wdc_rules_remove(&h->rules);
    wake(h);
    release(h);
    return 1;
}

int WinDivertClose(WDC_HANDLE handle)
{
    struct wdc_handle *h = NULL;
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < MAX_HANDLES; i++) {
        if (registry[i] != NULL && registry[i] == handle) {
            h = registry[i];
            registry[i] = NULL;
            h->closing = 1;
            break;
        }
    }
    if (h == NULL) {
        pthread_mutex_unlock(&registry_lock);
        return fail(WDC_ERROR_INVALID_HANDLE);
    }
    wake(h);
    /* Calls in flight end (a blocked RecvEx with ERROR_OPERATION_ABORTED) before anything is freed. */
    while (h->refs > 0) pthread_cond_wait(&registry_idle, &registry_lock);
    pthread_mutex_unlock(&registry_lock);
    destroy(h);
    return 1;
}

int WinDivertSetParam(WDC_HANDLE handle, int param, uint64_t value)
{
    struct wdc_handle *h = acquire(handle);
    int ok = 1;
    if (h == NULL) return 0;
    pthread_mutex_lock(&h->lock);
    switch (param) {
    case PARAM_QUEUE_LENGTH:
        if (value < 32 || value > 16384) ok = 0;
        else {
            h->queue_length = value;
            if (h->qh != NULL) nfq_set_queue_maxlen(h->qh, (uint32_t)value);
        }
        break;
    case PARAM_QUEUE_TIME:
        if (value < 100 || value > 16000) ok = 0;
        else h->queue_time_ms = value;
        break;
    case PARAM_QUEUE_SIZE:
        if (value < 65535 || value > 33554432) ok = 0;
        else h->queue_size = value;
        break;
    default:
        ok = 0;
        break;
    }
    pthread_mutex_unlock(&h->lock);
    release(h);
    return ok ? 1 : fail(WDC_ERROR_INVALID_PARAMETER);
}

int WinDivertGetParam(WDC_HANDLE handle, int param, uint64_t *pValue)
{
    struct wdc_handle *h = acquire(handle);
    uint64_t v;
    if (h == NULL) return 0;
    switch (param) {
    case PARAM_QUEUE_LENGTH: v = h->queue_length; break;
    case PARAM_QUEUE_TIME: v = h->queue_time_ms; break;
    case PARAM_QUEUE_SIZE: v = h->queue_size; break;
    case PARAM_VERSION_MAJOR: v = 2; break;
    case PARAM_VERSION_MINOR: v = 2; break;
    default:
        release(h);
        return fail(WDC_ERROR_INVALID_PARAMETER);
    }
    release(h);
    if (pValue == NULL) return fail(WDC_ERROR_INVALID_PARAMETER);
    *pValue = v;
    return 1;
}

int WinDivertHelperCalcChecksums(void *pPacket, unsigned packetLen, void *pAddr, uint64_t flags)
{
    uint8_t *a = pAddr;
    if (pPacket == NULL || wdc_calc_checksums(pPacket, packetLen, (unsigned)flags) != 0) return fail(WDC_ERROR_INVALID_PARAMETER);
    if (a != NULL) {
        if (!(flags & WDC_NO_IP_CHECKSUM)) a[A_FLAGS] |= AF_IP_CHECKSUM;
        if (!(flags & WDC_NO_TCP_CHECKSUM)) a[A_FLAGS] |= AF_TCP_CHECKSUM;
        if (!(flags & WDC_NO_UDP_CHECKSUM)) a[A_FLAGS] |= AF_UDP_CHECKSUM;
    }
    return 1;
}

int WinDivertHelperCompileFilter(const char *filter, int layer, char *object, unsigned objLen, const char **errorStr,
                                 unsigned *errorPos)
{
    const char *error;
    unsigned pos;
    struct wdc_filter *f;
    if (layer != LAYER_NETWORK) {
        if (errorStr != NULL) *errorStr = "only the NETWORK layer is supported";
        if (errorPos != NULL) *errorPos = 0;
        return fail(WDC_ERROR_INVALID_PARAMETER);
    }
    f = wdc_filter_compile(filter, &error, &pos);
    if (f == NULL) {
        if (errorStr != NULL) *errorStr = error;
        if (errorPos != NULL) *errorPos = pos;
        return fail(WDC_ERROR_INVALID_PARAMETER);
    }
    wdc_filter_free(f);
    if (object != NULL) {
        size_t n = strlen(filter);
        if (n >= objLen) return fail(WDC_ERROR_INSUFFICIENT_BUFFER);
        memcpy(object, filter, n + 1);
    }
    return 1;
}

int WinDivertHelperEvalFilter(const char *filter, const void *pPacket, unsigned packetLen, const void *pAddr)
{
    const uint8_t *a = pAddr;
    const char *error;
    unsigned pos;
    struct wdc_packet k;
    struct wdc_meta m;
    struct wdc_filter *f;
    int match;
    if (pPacket == NULL || a == NULL) return fail(WDC_ERROR_INVALID_PARAMETER);
    f = wdc_filter_compile(filter, &error, &pos);
    if (f == NULL) return fail(WDC_ERROR_INVALID_PARAMETER);
    if (wdc_parse_packet(pPacket, packetLen, &k) != 0) {
        wdc_filter_free(f);
        return fail(WDC_ERROR_INVALID_PARAMETER);
    }
    memset(&m, 0, sizeof(m));
    m.outbound = (a[A_FLAGS] & AF_OUTBOUND) != 0;
    m.loopback = (a[A_FLAGS] & AF_LOOPBACK) != 0;
    m.impostor = (a[A_FLAGS] & AF_IMPOSTOR) != 0;
    m.if_idx = rd32(a + A_IFIDX);
    m.sub_if_idx = rd32(a + A_SUBIFIDX);
    match = wdc_filter_match(f, &k, &m);
    wdc_filter_free(f);
    last_error = 0;
    return match;
}

uint32_t WinDivertCompatGetLastError(void)
{
    return last_error;
}

const char *WinDivertCompatFilterError(unsigned *pos)
{
    if (pos != NULL) *pos = filter_error_pos;
    return filter_error;
}
