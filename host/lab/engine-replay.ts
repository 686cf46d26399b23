/**
 * Replays what the gateway's kernel NAT translated through algd's own NAT
 * engine: the packets as they entered the gateway go through an engine
 * given the bindings the kernel chose, and each result must equal, byte for
 * byte and checksums included, what the kernel sent out, after the one
 * change a router makes on forwarding (TTL / hop limit).
 */

import { endpoint, ipAddress, port } from '@algd/sdk';
import { NatEngine } from '../nat-engine/nat-engine';
import type { PacketOrigin } from '../nat-engine/packet-meta';
import { labAddresses } from './addresses';
import { forwardHop } from './forward-hop';
import { decodeIpPacket, type DecodedIpPacket } from './ip-packet';
import { KERNEL_NAT_PAIR_KINDS, type KernelNatCapture, type KernelNatPairKind } from './kernel-nat-capture';

/** One packet of the replay. */
export interface ReplayedPacket {
  readonly kind: KernelNatPairKind | 'closed-port-datagram';
  readonly outcome: string;
  /** The engine's output equals the kernel's, byte for byte. */
  readonly identical: boolean;
  readonly engineHex: string;
  readonly kernelHex: string | undefined;
}

export interface EngineReplay {
  readonly family: 4 | 6;
  readonly packets: readonly ReplayedPacket[];
  readonly flows: number;
  /** Every pair came out identical. */
  readonly identical: boolean;
}

/** Replays a kernel NAT capture through a fresh engine. */
export function replayThroughEngine(cap: KernelNatCapture): EngineReplay {
  const engine = engineWithKernelBindings(cap);
  const packets: ReplayedPacket[] = [];
  // The client's datagram to the closed port creates the flow the ICMP error refers to.
  const datagram = Buffer.from(closedPortDatagram(cap));
  const outcome = engine.process(datagram, { origin: 'private', stage: 'single' });
  packets.push({ kind: 'closed-port-datagram', outcome, identical: outcome === 'translated', engineHex: datagram.toString('hex'), kernelHex: undefined });
  for (const kind of KERNEL_NAT_PAIR_KINDS) {
    const pair = cap.pairs[kind];
    const packet = Buffer.from(pair.before);
    const origin: PacketOrigin = pair.direction === 'outbound' ? 'private' : 'public';
    const result = engine.process(packet, { origin, stage: 'single' });
    forwardHop(packet);
    packets.push({ kind, outcome: result, identical: result === 'translated' && packet.equals(pair.after), engineHex: packet.toString('hex'), kernelHex: pair.after.toString('hex') });
  }
  return { family: cap.family, packets, flows: engine.flowCount, identical: packets.every((p) => p.identical) };
}

function ports(d: DecodedIpPacket): { src: number; dst: number } {
  const t = d.transport;
  if (t.kind === 'tcp' || t.kind === 'udp') return { src: t.srcPort, dst: t.dstPort };
  if (t.kind === 'icmp' && t.quoted) return ports(t.quoted);
  throw new Error(`no ports in a ${t.kind} packet`);
}

/** The engine with one outbound mapping per binding the kernel made (client port -> public port). */
function engineWithKernelBindings(cap: KernelNatCapture): NatEngine {
  const a = labAddresses(cap.family);
  const engine = new NatEngine();
  const bind = (protocol: 'tcp' | 'udp', before: Buffer, after: Buffer, quotedSide = false): void => {
    const b = ports(decodeIpPacket(before));
    const af = ports(decodeIpPacket(after));
    // For the ICMP error (inbound) the quoted packet is the client's datagram.
    const [clientPort, publicPort, serverPort] = quotedSide ? [af.src, b.src, b.dst] : [b.src, af.src, b.dst];
    engine.createMapping({
      protocol,
      private: endpoint(a.client, clientPort),
      public: endpoint(a.gatewayPublic, publicPort),
      remote: { address: ipAddress(a.server), port: port(serverPort) },
      direction: 'outbound',
      persistent: true,
      owner: 'kernel-reference',
    });
  };
  bind('tcp', cap.pairs['tcp-syn'].before, cap.pairs['tcp-syn'].after);
  bind('udp', cap.pairs.udp.before, cap.pairs.udp.after);
  bind('udp', cap.pairs['icmp-error'].before, cap.pairs['icmp-error'].after, true);
  return engine;
}

function closedPortDatagram(cap: KernelNatCapture): Buffer {
  const found = cap.captured.priv0.find((p) => {
    const d = decodeIpPacket(p);
    return d.transport.kind === 'udp' && d.transport.dstPort === cap.ports.closedUdp;
  });
  if (!found) throw new Error('the datagram to the closed port was not captured');
  return found;
}
