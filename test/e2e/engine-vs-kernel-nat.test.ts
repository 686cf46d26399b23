/**
 * The NAT engine against the kernel's own NAT: packets the lab gateway's
 * masquerade translated are replayed through algd's engine with the same
 * bindings (host/lab/engine-replay.ts); every result must equal, byte for
 * byte with checksums, what the kernel sent out.
 */

import { replayThroughEngine } from '../../host/lab/engine-replay';
import { captureKernelNat, KERNEL_NAT_PAIR_KINDS } from '../../host/lab/kernel-nat-capture';
import { describeLab, useLab } from '../lab/require-lab';

jest.setTimeout(60_000);

describeLab('NAT engine output equals the kernel NAT byte for byte', () => {
  const lab = useLab({ ipv6Nat: true });

  it.each([4, 6] as const)('IPv%s: TCP handshake and data, UDP both ways, ICMP error with its quoted header', async (family) => {
    const replay = replayThroughEngine(await captureKernelNat(lab(), { family }));
    expect(replay.packets.map((p) => [p.kind, p.outcome, p.engineHex])).toEqual([
      ['closed-port-datagram', 'translated', expect.any(String)],
      ...KERNEL_NAT_PAIR_KINDS.map((kind) => [kind, 'translated', replay.packets.find((p) => p.kind === kind)!.kernelHex]),
    ]);
    expect(replay.identical).toBe(true);
    expect(replay.flows).toBe(3);
  });
});
