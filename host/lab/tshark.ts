/**
 * An independent checksum check: tshark (Wireshark's dissectors, not our
 * code and not the product's) verifies every IPv4 header, TCP, UDP, ICMP
 * and ICMPv6 checksum in a pcap file, quoted packets of ICMP errors
 * included.
 */

import { runOk } from '../os/run-command';

const BAD_CHECKSUM = ['ip', 'tcp', 'udp', 'icmp', 'icmpv6'].map((p) => `${p}.checksum.status == 0`).join(' or ');

/** Frame numbers (1-based) of the packets in `pcapPath` with any wrong checksum. */
export async function badChecksumFrames(pcapPath: string): Promise<number[]> {
  const { stdout } = await runOk([
    'tshark', '-n', '-r', pcapPath,
    '-o', 'ip.check_checksum:TRUE',
    '-o', 'tcp.check_checksum:TRUE',
    '-o', 'udp.check_checksum:TRUE',
    '-Y', BAD_CHECKSUM,
    '-T', 'fields', '-e', 'frame.number',
  ]);
  return stdout.split('\n').filter((l) => l.trim() !== '').map(Number);
}
