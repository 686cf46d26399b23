/**
 * fast-check arbitraries for packet property tests: descriptions of valid
 * packets (built by test/support/packets.ts) and of rewrites, plus the
 * description a rewrite should turn a packet into.
 */
import fc from 'fast-check';
import { ipFromBytes } from '@algd/sdk';
import {
  addr, buildIcmpError, buildPacket, ipHeaderLengthOf,
  type IcmpSpec, type IpSpec, type Ipv6Extension, type L4Spec, type TcpSpec, type UdpSpec,
} from '../../../support/packets';
import { rewriteDestination, rewriteInnerDestination, rewriteInnerSource, rewriteSource, type PacketView } from '../../../../host/nat-engine/packet';

/** Seed shared by the property tests so CI runs are reproducible. */
export const SEED = 0x5eed_a19d;

export interface PlainCase {
  readonly ip: IpSpec;
  readonly l4: L4Spec;
}

export interface ErrorCase {
  readonly outer: IpSpec;
  readonly type: number;
  readonly code: number;
  readonly rest: number;
  readonly inner: PlainCase;
  /** Bytes quoted past the inner IP header and its first 8 L4 bytes (capped at the whole packet). */
  readonly extraQuoted: number;
}

export interface EndpointChange {
  readonly addr?: string | undefined;
  readonly port?: number | undefined;
}

export interface RewriteOp {
  readonly src: EndpointChange;
  readonly dst: EndpointChange;
}

export interface ErrorRewriteOp {
  /** Outer addresses (ICMP has no ports). */
  readonly outer: RewriteOp;
  readonly inner: RewriteOp;
}

// Documentation prefixes only (RFC 5737, RFC 3849); the host part varies.
export const addr4Arb = fc.tuple(fc.constantFrom('192.0.2', '198.51.100', '203.0.113'), fc.integer({ min: 0, max: 255 })).map(([p, x]) => `${p}.${x}`);
export const addr6Arb = fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => ipFromBytes(Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...b])) as string);
export const portArb = fc.integer({ min: 0, max: 0xffff });
const u32Arb = fc.integer({ min: 0, max: 0xffffffff });
const payloadArb = fc.uint8Array({ maxLength: 64 });

// Well-formed option lists, so that tshark dissects them cleanly too.
const ipv4OptionsArb = fc.constantFrom<readonly number[]>(
  [],
  [1, 1, 1, 1],
  [148, 4, 0, 0],
  [7, 7, 4, 0, 0, 0, 0],
  [68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0],
);
const ipv6OptionsArb = fc.constantFrom<readonly number[]>([], [5, 2, 0, 0], [0x1e, 2, 0xab, 0xcd], [0x1e, 6, 1, 2, 3, 4, 5, 6]);

export const ipv4Arb: fc.Arbitrary<IpSpec> = fc.record({
  family: fc.constant(4 as const),
  src: addr4Arb,
  dst: addr4Arb,
  ttl: fc.integer({ min: 1, max: 255 }),
  tos: fc.integer({ min: 0, max: 255 }),
  id: portArb,
  dontFragment: fc.boolean(),
  options: ipv4OptionsArb,
});

/** Extension headers in RFC 8200 §4.1 order, each present or not. */
const extensionsArb: fc.Arbitrary<Ipv6Extension[]> = fc
  .record({
    hopByHop: fc.option(ipv6OptionsArb, { nil: undefined }),
    destination1: fc.option(ipv6OptionsArb, { nil: undefined }),
    routing: fc.boolean(),
    fragment: fc.option(u32Arb, { nil: undefined }),
    ah: fc.boolean(),
    destination2: fc.option(ipv6OptionsArb, { nil: undefined }),
  })
  .map((e) => {
    const out: Ipv6Extension[] = [];
    if (e.hopByHop) out.push({ kind: 'hop-by-hop', options: e.hopByHop });
    if (e.destination1) out.push({ kind: 'destination-options', options: e.destination1 });
    if (e.routing) out.push({ kind: 'routing', routingType: 0, segmentsLeft: 0, addresses: ['2001:db8:ffff::99'] });
    if (e.fragment !== undefined) out.push({ kind: 'fragment', offset: 0, more: false, identification: e.fragment });
    if (e.ah) out.push({ kind: 'ah' });
    if (e.destination2) out.push({ kind: 'destination-options', options: e.destination2 });
    return out;
  });

export const ipv6Arb: fc.Arbitrary<IpSpec> = fc.record({
  family: fc.constant(6 as const),
  src: addr6Arb,
  dst: addr6Arb,
  hopLimit: fc.integer({ min: 1, max: 255 }),
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  extensions: fc.oneof(fc.constant([]), extensionsArb),
});

export const tcpArb: fc.Arbitrary<TcpSpec> = fc.record({
  kind: fc.constant('tcp' as const),
  srcPort: portArb,
  dstPort: portArb,
  seq: u32Arb,
  ack: u32Arb,
  flags: fc.integer({ min: 0, max: 255 }),
  window: portArb,
  options: fc.constantFrom<readonly number[]>([], [2, 4, 5, 180], [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], [1, 3, 3, 7]),
  payload: payloadArb,
});

export const udpArb: fc.Arbitrary<UdpSpec> = fc.record({
  kind: fc.constant('udp' as const),
  srcPort: portArb,
  dstPort: portArb,
  payload: payloadArb,
});

function echoArb(family: 4 | 6): fc.Arbitrary<IcmpSpec> {
  return fc.record({
    kind: fc.constant('icmp' as const),
    type: family === 4 ? fc.constantFrom(0, 8) : fc.constantFrom(128, 129),
    code: fc.constant(0),
    rest: u32Arb,
    body: fc.uint8Array({ maxLength: 32 }),
  });
}

function plainCaseArb(family: 4 | 6, l4: fc.Arbitrary<L4Spec>): fc.Arbitrary<PlainCase> {
  return fc.record({ ip: family === 4 ? ipv4Arb : ipv6Arb, l4 });
}

/** A valid TCP, UDP or ICMP echo packet, IPv4 or IPv6. */
export const plainCaseArb4 = plainCaseArb(4, fc.oneof(tcpArb, udpArb, echoArb(4)));
export const plainCaseArb6 = plainCaseArb(6, fc.oneof(tcpArb, udpArb, echoArb(6)));
export const anyPlainCaseArb = fc.oneof(plainCaseArb4, plainCaseArb6);

const errorTypes4 = fc.oneof(
  fc.tuple(fc.constant(3), fc.integer({ min: 0, max: 15 })),
  fc.tuple(fc.constant(4), fc.constant(0)),
  fc.tuple(fc.constant(5), fc.integer({ min: 0, max: 3 })),
  fc.tuple(fc.constant(11), fc.integer({ min: 0, max: 1 })),
  fc.tuple(fc.constant(12), fc.integer({ min: 0, max: 2 })),
);
const errorTypes6 = fc.oneof(
  fc.tuple(fc.constant(1), fc.integer({ min: 0, max: 6 })),
  fc.tuple(fc.constant(2), fc.constant(0)),
  fc.tuple(fc.constant(3), fc.integer({ min: 0, max: 1 })),
  fc.tuple(fc.constant(4), fc.integer({ min: 0, max: 2 })),
);

/**
 * The 4 bytes after an error's checksum, as a real sender fills them. Random
 * bytes there would be read (by tshark, by RFC 4884) as an extension length.
 */
function errorRest(family: 4 | 6, type: number, code: number, seed: number): number {
  if (family === 4) {
    if (type === 3 && code === 4) return seed & 0xffff; // next-hop MTU (RFC 1191)
    if (type === 5) return seed; // gateway address
    if (type === 12) return ((seed & 0xff) << 24) >>> 0; // pointer
    return 0;
  }
  if (type === 2) return seed; // MTU
  if (type === 4) return seed; // pointer
  return 0;
}

function errorCaseArb(family: 4 | 6): fc.Arbitrary<ErrorCase> {
  return fc.record({
    outer: family === 4 ? ipv4Arb : ipv6Arb,
    typeCode: family === 4 ? errorTypes4 : errorTypes6,
    restSeed: u32Arb,
    inner: plainCaseArb(family, fc.oneof(tcpArb, udpArb, echoArb(family))),
    extraQuoted: fc.oneof(fc.integer({ min: 0, max: 24 }), fc.constant(10_000)),
  }).map(({ typeCode: [type, code], restSeed, ...rest }) => ({ ...rest, type, code, rest: errorRest(family, type, code, restSeed) }));
}

/** An ICMP/ICMPv6 error quoting a TCP, UDP or ICMP echo packet, cut anywhere after its first 8 L4 bytes. */
export const anyErrorCaseArb = fc.oneof(errorCaseArb(4), errorCaseArb(6));

export function buildCase(c: PlainCase): Buffer {
  return buildPacket(c.ip, c.l4);
}

/** The quoted length of an error case: inner IP header + 8 + extra, at most the whole inner packet. */
export function quotedLength(e: ErrorCase): number {
  return Math.min(buildCase(e.inner).length, ipHeaderLengthOf(e.inner.ip) + 8 + e.extraQuoted);
}

export function buildErrorCase(e: ErrorCase): Buffer {
  return buildIcmpError(e.outer, e.type, e.code, buildCase(e.inner), quotedLength(e), e.rest);
}

const changeArb = (addrArb: fc.Arbitrary<string>) => fc.record({ addr: fc.option(addrArb, { nil: undefined }), port: fc.option(portArb, { nil: undefined }) });

export function rewriteOpArb(family: 4 | 6): fc.Arbitrary<RewriteOp> {
  const a = family === 4 ? addr4Arb : addr6Arb;
  return fc.record({ src: changeArb(a), dst: changeArb(a) });
}

export function errorRewriteOpArb(family: 4 | 6): fc.Arbitrary<ErrorRewriteOp> {
  return fc.record({ outer: rewriteOpArb(family), inner: rewriteOpArb(family) });
}

/** A plain case together with a rewrite of its family. */
export const rewriteCaseArb = fc.oneof(
  fc.tuple(plainCaseArb4, rewriteOpArb(4)),
  fc.tuple(plainCaseArb6, rewriteOpArb(6)),
);

export const errorRewriteCaseArb = fc.oneof(
  fc.tuple(errorCaseArb(4), errorRewriteOpArb(4)),
  fc.tuple(errorCaseArb(6), errorRewriteOpArb(6)),
);

function bytesOf(text: string | undefined): Uint8Array | undefined {
  return text === undefined ? undefined : addr(text);
}

/** Applies `op` with the code under test (source first, as after routing). */
export function applyRewrite(view: PacketView, op: RewriteOp): void {
  rewriteSource(view, bytesOf(op.src.addr), op.src.port);
  rewriteDestination(view, bytesOf(op.dst.addr), op.dst.port);
}

export function applyErrorRewrite(view: PacketView, op: ErrorRewriteOp): void {
  rewriteSource(view, bytesOf(op.outer.src.addr), undefined);
  rewriteDestination(view, bytesOf(op.outer.dst.addr), undefined);
  rewriteInnerSource(view, bytesOf(op.inner.src.addr), op.inner.src.port);
  rewriteInnerDestination(view, bytesOf(op.inner.dst.addr), op.inner.dst.port);
}

/** The description `op` should turn `c` into (ports only for TCP/UDP). */
export function rewrittenCase(c: PlainCase, op: RewriteOp): PlainCase {
  const ip = { ...c.ip, src: op.src.addr ?? c.ip.src, dst: op.dst.addr ?? c.ip.dst };
  if (c.l4.kind !== 'tcp' && c.l4.kind !== 'udp') return { ip, l4: c.l4 };
  return { ip, l4: { ...c.l4, srcPort: op.src.port ?? c.l4.srcPort, dstPort: op.dst.port ?? c.l4.dstPort } };
}

export function rewrittenErrorCase(e: ErrorCase, op: ErrorRewriteOp): ErrorCase {
  const outer = { ...e.outer, src: op.outer.src.addr ?? e.outer.src, dst: op.outer.dst.addr ?? e.outer.dst };
  return { ...e, outer, inner: rewrittenCase(e.inner, op.inner) };
}
