/**
 * Deletes the conntrack entries of algd's connections (connection mark bit
 * {@link ALGD_MARK}), on open (a killed run's) and on close.
 *
 * Why: such a connection carries an identity NAT binding (nat-guard.ts), so
 * without algd its packets would leave a public adapter untranslated, with
 * the private host's address, until the entry times out (days for TCP).
 * Deleted, its next packet is a new connection again and gets the
 * administrator's NAT, or algd's if it is running; the engine's state for
 * those connections is gone either way.
 */

import { ALGD_MARK_MATCH } from './algd-mark';
import { processRunner, type CommandRunner } from './command-runner';
import type { IpFamily } from './iptables-rules';

/** Deletes every marked entry of `families`; resolves with how many were deleted, undefined when the conntrack tool is missing. */
export async function deleteMarkedConnections(families: readonly IpFamily[], run: CommandRunner = processRunner(10_000)): Promise<number | undefined> {
  let deleted = 0;
  for (const family of families) {
    let out;
    try {
      out = await run(['conntrack', '-D', '-f', family === 4 ? 'ipv4' : 'ipv6', '--mark', ALGD_MARK_MATCH]);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
    // conntrack exits 1 when it deleted nothing.
    const m = /(\d+) flow entries have been deleted/.exec(out.stderr);
    if (m === null) throw new Error(`conntrack -D exited with ${out.code}: ${out.stderr.trim()}`);
    deleted += Number(m[1]);
  }
  return deleted;
}
