/**
 * The NAT engine against the kernel's own NAT: packets the lab gateway's
 * masquerade translated are fed, as they entered the gateway, through
 * algd's engine set up with the same bindings the kernel chose; the
 * engine's output must equal, byte for byte (checksums included), what the
 * kernel sent out, after the one change a router makes (TTL / hop limit).
 */

import { endpoint, ipAddress, port } from '@algd/sdk';
import { labAddresses } from '../lab/addresses';
import { decodeIpPacket, type DecodedIpPacket } from '../lab/ip-packet';
import { captureKernelNat, KERNEL_NAT_PAIR_KINDS, type KernelNatCapture } from '../lab/kernel-nat-capture';
import { describeLab, useLab } from '../lab/require-lab';
import { NatEngine } from '../../host/nat-engine/nat-engine';
import type { PacketOrigin } from '../../host/nat-engine/packet-meta';
import { forwardHop } from '../support/forward-hop';

jest.setTimeout(60_000);

function ports(d: DecodedIpPacket): { src: number; dst: number } {
  const t = d.transport;
  if (t.kind === 'tcp' || t.kind === 'udp') return { src: t.srcPort, dst: t.dstPort };
  if (t.kind === 'icmp' && t.quoted) return ports(t.quoted);
  throw new Error(`no ports in ${t.kind}`);
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

/** The client's datagram to the closed port, as it entered the gateway: it creates the flow the ICMP error refers to. */
function closedPortDatagram(cap: KernelNatCapture): Buffer {
  const found = cap.captured.priv0.find((p) => {
    const d = decodeIpPacket(p);
    return d.transport.kind === 'udp' && d.transport.dstPort === cap.ports.closedUdp;
  });
  if (!found) throw new Error('the datagram to the closed port was not captured');
  return found;
}

describeLab('NAT engine output equals the kernel NAT byte for byte', () => {
  const lab = useLab({ ipv6Nat: true });

  it.each([4, 6] as const)('IPv%s: TCP handshake and data, UDP both ways, ICMP error with its quoted header', async (family) => {
    const cap = await captureKernelNat(lab(), { family });
    const engine = engineWithKernelBindings(cap);
    const origin = (dir: 'outbound' | 'inbound'): PacketOrigin => (dir === 'outbound' ? 'private' : 'public');

    expect(engine.process(Buffer.from(closedPortDatagram(cap)), { origin: 'private', stage: 'single' })).toBe('translated');
    for (const kind of KERNEL_NAT_PAIR_KINDS) {
      const pair = cap.pairs[kind];
      const packet = Buffer.from(pair.before);
      const outcome = engine.process(packet, { origin: origin(pair.direction), stage: 'single' });
      forwardHop(packet);
      expect([kind, outcome, packet.toString('hex')]).toEqual([kind, 'translated', pair.after.toString('hex')]);
    }
    expect(engine.flowCount).toBe(3);
    expect(engine.counters.snapshot()).toMatchObject({ translated: KERNEL_NAT_PAIR_KINDS.length + 1, drops: {} });
  });
});
