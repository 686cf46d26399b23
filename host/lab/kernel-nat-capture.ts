/**
 * Reference packets from the kernel's own NAT: runs a TCP exchange, a UDP
 * exchange and a UDP datagram to a closed port from the client to the
 * server through the lab gateway's masquerade, captures the gateway's
 * `priv0` and `pub0` at the same time, and pairs each packet as it entered
 * the gateway with the same packet as it left it.
 *
 * The pairs are what algd's NAT engine is compared against, byte for byte:
 * feed `before` to the engine, expect `after`. Note what the kernel did
 * besides NAT: the gateway forwards, so `after` has the TTL / hop limit
 * one lower (and the IPv4 header checksum updated for it). Checksums in
 * both are real: the lab turns veth checksum offload off.
 *
 * Pairs are matched on what NAT does not change: the server-side port,
 * TCP sequence and acknowledgement numbers, flags and payload, the UDP
 * payload, and for the ICMP error its type, code and the quoted datagram's
 * destination port and payload.
 */

import { randomBytes } from 'node:crypto';

import { labAddresses } from './addresses';
import type { Capture } from './capture';
import { startTcpEchoServer, startUdpEchoServer, echoRequest, type EchoServer } from './echo-peers';
import { decodeIpPacket, TCP_FLAGS, type DecodedIpPacket } from './ip-packet';
import type { Lab } from './lab';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from './topology';

/** The kinds of packet pairs captured. */
export const KERNEL_NAT_PAIR_KINDS = ['tcp-syn', 'tcp-syn-ack', 'tcp-data', 'tcp-data-reply', 'udp', 'udp-reply', 'icmp-error'] as const;
export type KernelNatPairKind = (typeof KERNEL_NAT_PAIR_KINDS)[number];

/** One packet before and after the kernel's NAT on the gateway. */
export interface KernelNatPair {
  readonly kind: KernelNatPairKind;
  /**
   * `outbound`: client to server; `before` captured on priv0, `after` on
   * pub0 (source translated). `inbound`: server to client; `before` on
   * pub0, `after` on priv0 (destination translated back; for the ICMP error
   * the quoted packet's source too).
   */
  readonly direction: 'outbound' | 'inbound';
  /** The IP packet (no link header) as it entered the gateway. */
  readonly before: Buffer;
  /** The IP packet as it left the gateway. */
  readonly after: Buffer;
}

export interface KernelNatCapture {
  readonly family: 4 | 6;
  readonly pairs: Readonly<Record<KernelNatPairKind, KernelNatPair>>;
  /** The server ports used: TCP echo, UDP echo, and the closed UDP port. */
  readonly ports: { readonly tcp: number; readonly udp: number; readonly closedUdp: number };
  /** Every IP packet captured on each gateway interface, in capture order. */
  readonly captured: { readonly priv0: Buffer[]; readonly pub0: Buffer[] };
  /** The pcap files (gone after lab teardown unless ALGD_LAB_KEEP=1). */
  readonly pcaps: { readonly priv0: string; readonly pub0: string };
}

export interface KernelNatCaptureOptions {
  /** IPv4 (default) needs a lab with `masquerade`; IPv6 one with `ipv6Nat`. */
  readonly family?: 4 | 6;
  readonly tcpPort?: number;
  readonly udpPort?: number;
  /** A UDP port nothing listens on in the server; the datagram to it draws an ICMP port unreachable. */
  readonly closedUdpPort?: number;
  /** Bound for each exchange and for waiting for the captures; default 10 s. */
  readonly timeoutMs?: number;
}

interface Decoded {
  readonly packet: Buffer;
  readonly d: DecodedIpPacket;
}

interface PairSpec {
  readonly kind: KernelNatPairKind;
  readonly direction: 'outbound' | 'inbound';
  /** Picks the `before` packet. */
  readonly select: (d: DecodedIpPacket) => boolean;
}

/** What NAT leaves unchanged in a packet, as a string; undefined for packets not of interest. */
function natInvariantKey(d: DecodedIpPacket, direction: 'outbound' | 'inbound'): string | undefined {
  const t = d.transport;
  if (t.kind === 'tcp') {
    const serverPort = direction === 'outbound' ? t.dstPort : t.srcPort;
    return `tcp ${serverPort} ${t.seq} ${t.ack} ${t.flags} ${t.payload.toString('hex')}`;
  }
  if (t.kind === 'udp') {
    const serverPort = direction === 'outbound' ? t.dstPort : t.srcPort;
    return `udp ${serverPort} ${t.payload.toString('hex')}`;
  }
  if (t.kind === 'icmp' && t.quoted && t.quoted.transport.kind === 'udp') {
    return `icmp ${t.type} ${t.code} ${t.quoted.transport.dstPort} ${t.quoted.transport.payload.toString('hex')}`;
  }
  return undefined;
}

function decodeAll(packets: readonly Buffer[]): Decoded[] {
  const out: Decoded[] = [];
  for (const packet of packets) {
    try {
      out.push({ packet, d: decodeIpPacket(packet) });
    } catch {
      // Not an IP packet we can read; not one of ours.
    }
  }
  return out;
}

function specs(family: 4 | 6, ports: KernelNatCapture['ports'], payloads: { tcp: string; udp: string; closed: string }): PairSpec[] {
  const { client } = labAddresses(family);
  const tcp = (d: DecodedIpPacket) => (d.transport.kind === 'tcp' ? d.transport : undefined);
  const udp = (d: DecodedIpPacket) => (d.transport.kind === 'udp' ? d.transport : undefined);
  const unreachable = family === 4 ? { type: 3, code: 3 } : { type: 1, code: 4 };
  return [
    { kind: 'tcp-syn', direction: 'outbound', select: (d) => d.src === client && tcp(d)?.dstPort === ports.tcp && tcp(d)?.flags === TCP_FLAGS.SYN },
    { kind: 'tcp-syn-ack', direction: 'inbound', select: (d) => tcp(d)?.srcPort === ports.tcp && tcp(d)?.flags === (TCP_FLAGS.SYN | TCP_FLAGS.ACK) },
    { kind: 'tcp-data', direction: 'outbound', select: (d) => d.src === client && tcp(d)?.dstPort === ports.tcp && tcp(d)?.payload.toString() === payloads.tcp },
    { kind: 'tcp-data-reply', direction: 'inbound', select: (d) => tcp(d)?.srcPort === ports.tcp && tcp(d)?.payload.toString() === payloads.tcp },
    { kind: 'udp', direction: 'outbound', select: (d) => d.src === client && udp(d)?.dstPort === ports.udp && udp(d)?.payload.toString() === payloads.udp },
    { kind: 'udp-reply', direction: 'inbound', select: (d) => udp(d)?.srcPort === ports.udp && udp(d)?.payload.toString() === payloads.udp },
    {
      kind: 'icmp-error',
      direction: 'inbound',
      select: (d) => {
        const t = d.transport;
        if (t.kind !== 'icmp' || t.type !== unreachable.type || t.code !== unreachable.code) return false;
        const q = t.quoted?.transport;
        return q?.kind === 'udp' && q.dstPort === ports.closedUdp && q.payload.toString().startsWith(payloads.closed);
      },
    },
  ];
}

/** Pairs every spec's first `before` packet with the first packet of the same NAT-invariant key on the other side. */
function matchPairs(specList: readonly PairSpec[], priv0: readonly Buffer[], pub0: readonly Buffer[]): { pairs: Partial<Record<KernelNatPairKind, KernelNatPair>>; missing: KernelNatPairKind[] } {
  const priv = decodeAll(priv0);
  const pub = decodeAll(pub0);
  const pairs: Partial<Record<KernelNatPairKind, KernelNatPair>> = {};
  const missing: KernelNatPairKind[] = [];
  for (const spec of specList) {
    const [beforeSide, afterSide] = spec.direction === 'outbound' ? [priv, pub] : [pub, priv];
    const before = beforeSide.find((p) => spec.select(p.d));
    const key = before && natInvariantKey(before.d, spec.direction);
    const after = key === undefined ? undefined : afterSide.find((p) => p.d.family === before!.d.family && natInvariantKey(p.d, spec.direction) === key);
    if (before && after) pairs[spec.kind] = { kind: spec.kind, direction: spec.direction, before: before.packet, after: after.packet };
    else missing.push(spec.kind);
  }
  return { pairs, missing };
}

/**
 * Runs the exchanges through the lab gateway's kernel NAT and returns the
 * packet pairs. Rejects unless every kind of pair was captured.
 */
export async function captureKernelNat(lab: Lab, opts: KernelNatCaptureOptions = {}): Promise<KernelNatCapture> {
  const family = opts.family ?? 4;
  if (family === 4 && !lab.options.masquerade) throw new Error('captureKernelNat (IPv4) needs a lab with masquerade');
  if (family === 6 && !lab.options.ipv6Nat) throw new Error('captureKernelNat (IPv6) needs a lab with ipv6Nat');
  const ports = { tcp: opts.tcpPort ?? 5001, udp: opts.udpPort ?? 5002, closedUdp: opts.closedUdpPort ?? 5003 };
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const tag = randomBytes(4).toString('hex');
  const payloads = { tcp: `algd-kernel-nat-tcp-${tag}`, udp: `algd-kernel-nat-udp-${tag}`, closed: `algd-kernel-nat-closed-${tag}` };
  const { server } = labAddresses(family);

  if (await lab.isListening('server', 'udp', ports.closedUdp)) throw new Error(`udp/${ports.closedUdp} is not closed in the server`);
  const servers: EchoServer[] = [];
  const captures: Capture[] = [];
  try {
    servers.push(await startTcpEchoServer(lab, 'server', ports.tcp, timeoutMs));
    servers.push(await startUdpEchoServer(lab, 'server', ports.udp, timeoutMs));
    const filter = `tcp port ${ports.tcp} or udp port ${ports.udp} or udp port ${ports.closedUdp} or icmp or (icmp6 and ip6[40] < 128)`;
    const priv0 = await lab.capture('gateway', GATEWAY_PRIVATE_IFACE, filter);
    captures.push(priv0);
    const pub0 = await lab.capture('gateway', GATEWAY_PUBLIC_IFACE, filter);
    captures.push(pub0);

    const tcp = await echoRequest(lab, 'client', 'tcp', server, ports.tcp, payloads.tcp, timeoutMs);
    if (!tcp.ok) throw new Error(`TCP echo through the gateway failed: ${JSON.stringify(tcp)}`);
    const udp = await echoRequest(lab, 'client', 'udp', server, ports.udp, payloads.udp, timeoutMs);
    if (!udp.ok) throw new Error(`UDP echo through the gateway failed: ${JSON.stringify(udp)}`);
    const closed = await echoRequest(lab, 'client', 'udp', server, ports.closedUdp, payloads.closed, timeoutMs);
    if (closed.error !== 'refused') throw new Error(`UDP to the closed port was not refused: ${JSON.stringify(closed)}`);

    // Both captures have everything once every pair matches; then stop them.
    const specList = specs(family, ports, payloads);
    const deadline = Date.now() + timeoutMs;
    while (matchPairs(specList, priv0.packets(), pub0.packets()).missing.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const pcaps = { priv0: await priv0.stop(), pub0: await pub0.stop() };
    const captured = { priv0: priv0.packets(), pub0: pub0.packets() };
    const matched = matchPairs(specList, captured.priv0, captured.pub0);
    if (matched.missing.length > 0) {
      throw new Error(`kernel NAT capture is missing ${matched.missing.join(', ')} (${captured.priv0.length} packets on priv0, ${captured.pub0.length} on pub0)`);
    }
    return { family, pairs: matched.pairs as Record<KernelNatPairKind, KernelNatPair>, ports, captured, pcaps };
  } finally {
    await Promise.all(captures.map((c) => c.stop({ settleMs: 0 }).catch(() => undefined)));
    await Promise.all(servers.map((s) => s.stop()));
  }
}
