/* See wdc-filter.h. A recursive-descent parser to a small tree, evaluated with short-circuit. */
#include "wdc-filter.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 1024
#define MAX_TESTS 256
#define MAX_DEPTH 64
#define MAX_TEXT 16384
#define MAX_WORD 40

enum field {
    F_TRUE, F_FALSE, F_ZERO, F_INBOUND, F_OUTBOUND, F_LOOPBACK, F_IMPOSTOR, F_IFIDX, F_SUBIFIDX,
    F_IP, F_IPV6, F_TCP, F_UDP, F_ICMP, F_ICMPV6,
    F_TCP_SRCPORT, F_TCP_DSTPORT, F_TCP_SYN, F_TCP_ACK, F_TCP_FIN, F_TCP_RST, F_TCP_PSH, F_TCP_URG, F_TCP_PAYLOADLENGTH,
    F_UDP_SRCPORT, F_UDP_DSTPORT, F_UDP_LENGTH, F_UDP_PAYLOADLENGTH
};

static const struct { const char *name; enum field field; } FIELDS[] = {
    {"true", F_TRUE}, {"false", F_FALSE}, {"zero", F_ZERO}, {"inbound", F_INBOUND}, {"outbound", F_OUTBOUND},
    {"loopback", F_LOOPBACK}, {"impostor", F_IMPOSTOR}, {"ifIdx", F_IFIDX}, {"subIfIdx", F_SUBIFIDX},
    {"ip", F_IP}, {"ipv6", F_IPV6}, {"tcp", F_TCP}, {"udp", F_UDP}, {"icmp", F_ICMP}, {"icmpv6", F_ICMPV6},
    {"tcp.SrcPort", F_TCP_SRCPORT}, {"tcp.DstPort", F_TCP_DSTPORT}, {"tcp.Syn", F_TCP_SYN}, {"tcp.Ack", F_TCP_ACK},
    {"tcp.Fin", F_TCP_FIN}, {"tcp.Rst", F_TCP_RST}, {"tcp.Psh", F_TCP_PSH}, {"tcp.Urg", F_TCP_URG},
    {"tcp.PayloadLength", F_TCP_PAYLOADLENGTH}, {"udp.SrcPort", F_UDP_SRCPORT}, {"udp.DstPort", F_UDP_DSTPORT},
    {"udp.Length", F_UDP_LENGTH}, {"udp.PayloadLength", F_UDP_PAYLOADLENGTH},
};

enum op { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE };
enum node_kind { N_TEST, N_AND, N_OR };

struct node {
    enum node_kind kind;
    enum field field;
    enum op op;
    uint32_t value;
    int a, b;
};

struct wdc_filter {
    int root;
    int count;
    struct node nodes[MAX_NODES];
};

enum tok_kind { T_END, T_OPEN, T_CLOSE, T_AND, T_OR, T_NOT, T_OP, T_WORD, T_BAD };

struct parser {
    const char *text;
    size_t pos;          /* next unread byte */
    enum tok_kind kind;  /* current token */
    size_t start;        /* its position */
    enum op op;
    char word[MAX_WORD + 1];
    struct wdc_filter *f;
    int tests;
    const char *error;
    unsigned error_pos;
};

static int is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == ':' || c == '_';
}

static void next(struct parser *p)
{
    const char *s = p->text;
    while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r') p->pos++;
    p->start = p->pos;
    switch (s[p->pos]) {
    case '\0': p->kind = T_END; return;
    case '(': p->pos++; p->kind = T_OPEN; return;
    case ')': p->pos++; p->kind = T_CLOSE; return;
    case '&':
        if (s[p->pos + 1] == '&') { p->pos += 2; p->kind = T_AND; return; }
        break;
    case '|':
        if (s[p->pos + 1] == '|') { p->pos += 2; p->kind = T_OR; return; }
        break;
    case '!':
        if (s[p->pos + 1] == '=') { p->pos += 2; p->kind = T_OP; p->op = OP_NE; return; }
        p->pos++; p->kind = T_NOT; return;
    case '=':
        p->pos += s[p->pos + 1] == '=' ? 2 : 1; p->kind = T_OP; p->op = OP_EQ; return;
    case '<':
        if (s[p->pos + 1] == '=') { p->pos += 2; p->op = OP_LE; } else { p->pos++; p->op = OP_LT; }
        p->kind = T_OP; return;
    case '>':
        if (s[p->pos + 1] == '=') { p->pos += 2; p->op = OP_GE; } else { p->pos++; p->op = OP_GT; }
        p->kind = T_OP; return;
    default:
        if (is_word_char(s[p->pos])) {
            size_t n = 0;
            while (is_word_char(s[p->pos])) {
                if (n >= MAX_WORD) { p->kind = T_BAD; return; }
                p->word[n++] = s[p->pos++];
            }
            p->word[n] = '\0';
            if (strcmp(p->word, "and") == 0) p->kind = T_AND;
            else if (strcmp(p->word, "or") == 0) p->kind = T_OR;
            else if (strcmp(p->word, "not") == 0) p->kind = T_NOT;
            else p->kind = T_WORD;
            return;
        }
        break;
    }
    p->kind = T_BAD;
}

static int fail(struct parser *p, const char *error)
{
    if (p->error == NULL) {
        p->error = error;
        p->error_pos = (unsigned)p->start;
    }
    return -1;
}

static int add_node(struct parser *p, struct node n)
{
    if (p->f->count >= MAX_NODES) return fail(p, "filter too long");
    p->f->nodes[p->f->count] = n;
    return p->f->count++;
}

static int parse_number(const char *w, uint32_t *out)
{
    char *end;
    unsigned long long v;
    if (!isdigit((unsigned char)w[0])) return -1;
    if (w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
        if (!isxdigit((unsigned char)w[2])) return -1;
        v = strtoull(w + 2, &end, 16);
    } else {
        v = strtoull(w, &end, 10);
    }
    if (*end != '\0' || v > 0xffffffffull) return -1;
    *out = (uint32_t)v;
    return 0;
}

static enum op negate(enum op op)
{
    switch (op) {
    case OP_EQ: return OP_NE;
    case OP_NE: return OP_EQ;
    case OP_LT: return OP_GE;
    case OP_GE: return OP_LT;
    case OP_GT: return OP_LE;
    case OP_LE: return OP_GT;
    }
    return op;
}

static int parse_test(struct parser *p)
{
    struct node n = {N_TEST, F_TRUE, OP_NE, 0, -1, -1};
    int negated = 0;
    size_t i;
    while (p->kind == T_NOT) { negated = !negated; next(p); }
    if (p->kind != T_WORD) return fail(p, p->kind == T_OPEN ? "\"not\" applies to a single test, not to a parenthesized filter" : "expected a field");
    for (i = 0; i < sizeof(FIELDS) / sizeof(FIELDS[0]); i++) {
        if (strcmp(FIELDS[i].name, p->word) == 0) break;
    }
    if (i == sizeof(FIELDS) / sizeof(FIELDS[0])) return fail(p, "unknown or unsupported field");
    n.field = FIELDS[i].field;
    next(p);
    if (p->kind == T_OP) {
        n.op = p->op;
        next(p);
        if (p->kind != T_WORD || parse_number(p->word, &n.value) != 0) return fail(p, "expected a number (decimal or 0x-hex, at most 2^32-1)");
        next(p);
    }
    if (negated) n.op = negate(n.op);
    if (++p->tests > MAX_TESTS) return fail(p, "too many tests");
    return add_node(p, n);
}

static int parse_or(struct parser *p, int depth);

static int parse_arg(struct parser *p, int depth)
{
    int inner;
    if (p->kind != T_OPEN) return parse_test(p);
    if (depth >= MAX_DEPTH) return fail(p, "filter nested too deeply");
    next(p);
    inner = parse_or(p, depth + 1);
    if (inner < 0) return -1;
    if (p->kind != T_CLOSE) return fail(p, "expected \")\"");
    next(p);
    return inner;
}

static int parse_and(struct parser *p, int depth)
{
    int left = parse_arg(p, depth);
    while (left >= 0 && p->kind == T_AND) {
        int right;
        next(p);
        right = parse_arg(p, depth);
        if (right < 0) return -1;
        left = add_node(p, (struct node){N_AND, F_TRUE, OP_EQ, 0, left, right});
    }
    return left;
}

static int parse_or(struct parser *p, int depth)
{
    int left = parse_and(p, depth);
    while (left >= 0 && p->kind == T_OR) {
        int right;
        next(p);
        right = parse_and(p, depth);
        if (right < 0) return -1;
        left = add_node(p, (struct node){N_OR, F_TRUE, OP_EQ, 0, left, right});
    }
    return left;
}

struct wdc_filter *wdc_filter_compile(const char *text, const char **error, unsigned *error_pos)
{
    struct parser p;
    memset(&p, 0, sizeof(p));
    *error = NULL;
    *error_pos = 0;
    if (text == NULL || strlen(text) > MAX_TEXT) {
        *error = "filter missing or too long";
        return NULL;
    }
    p.text = text;
    p.f = calloc(1, sizeof(*p.f));
    if (p.f == NULL) {
        *error = "out of memory";
        return NULL;
    }
    next(&p);
    p.f->root = parse_or(&p, 0);
    if (p.f->root >= 0 && p.kind != T_END) p.f->root = fail(&p, "unexpected token");
    if (p.f->root < 0) {
        *error = p.error != NULL ? p.error : "syntax error";
        *error_pos = p.error_pos;
        free(p.f);
        return NULL;
    }
    return p.f;
}

/* The field's value; 0 when the packet lacks it (then *relevant is 0). */
static uint32_t field_value(enum field f, const struct wdc_packet *k, const struct wdc_meta *m, int *relevant)
{
    *relevant = 1;
    switch (f) {
    case F_TRUE: return 1;
    case F_FALSE: case F_ZERO: return 0;
    case F_INBOUND: return !m->outbound;
    case F_OUTBOUND: return m->outbound != 0;
    case F_LOOPBACK: return m->loopback != 0;
    case F_IMPOSTOR: return m->impostor != 0;
    case F_IFIDX: return m->if_idx;
    case F_SUBIFIDX: return m->sub_if_idx;
    case F_IP: return (uint32_t)k->ipv4;
    case F_IPV6: return (uint32_t)k->ipv6;
    case F_TCP: return (uint32_t)k->has_tcp;
    case F_UDP: return (uint32_t)k->has_udp;
    case F_ICMP: return (uint32_t)k->has_icmp;
    case F_ICMPV6: return (uint32_t)k->has_icmpv6;
    default: break;
    }
    if (f >= F_TCP_SRCPORT && f <= F_TCP_PAYLOADLENGTH) {
        *relevant = k->has_tcp;
        switch (f) {
        case F_TCP_SRCPORT: return k->src_port;
        case F_TCP_DSTPORT: return k->dst_port;
        case F_TCP_FIN: return (k->tcp_flags & 0x01) != 0;
        case F_TCP_SYN: return (k->tcp_flags & 0x02) != 0;
        case F_TCP_RST: return (k->tcp_flags & 0x04) != 0;
        case F_TCP_PSH: return (k->tcp_flags & 0x08) != 0;
        case F_TCP_ACK: return (k->tcp_flags & 0x10) != 0;
        case F_TCP_URG: return (k->tcp_flags & 0x20) != 0;
        default: return k->payload_length;
        }
    }
    *relevant = k->has_udp;
    switch (f) {
    case F_UDP_SRCPORT: return k->src_port;
    case F_UDP_DSTPORT: return k->dst_port;
    case F_UDP_LENGTH: return k->udp_length;
    default: return k->payload_length;
    }
}

static int eval(const struct wdc_filter *f, int i, const struct wdc_packet *k, const struct wdc_meta *m)
{
    /* Iterative over the right spine of and/or chains, recursive on the left (bounded by MAX_DEPTH nesting). */
    for (;;) {
        const struct node *n = &f->nodes[i];
        if (n->kind == N_AND) {
            if (!eval(f, n->a, k, m)) return 0;
            i = n->b;
            continue;
        }
        if (n->kind == N_OR) {
            if (eval(f, n->a, k, m)) return 1;
            i = n->b;
            continue;
        }
        {
            int relevant;
            uint32_t v = field_value(n->field, k, m, &relevant);
            if (!relevant) return 0;
            switch (n->op) {
            case OP_EQ: return v == n->value;
            case OP_NE: return v != n->value;
            case OP_LT: return v < n->value;
            case OP_GT: return v > n->value;
            case OP_LE: return v <= n->value;
            case OP_GE: return v >= n->value;
            }
            return 0;
        }
    }
}

int wdc_filter_match(const struct wdc_filter *f, const struct wdc_packet *k, const struct wdc_meta *m)
{
    return eval(f, f->root, k, m);
}

void wdc_filter_free(struct wdc_filter *f)
{
    free(f);
}
