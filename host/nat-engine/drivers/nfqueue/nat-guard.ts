/**
 * Keeps the kernel's NAT off algd's connections, marks them as algd's, and
 * keeps their untranslated packets off the public side: the nftables table
 * `inet algd`.
 *
 * Nat chains at prerouting, input and postrouting: for a packet carrying
 * the mark bit (set by the driver's verdict on the first packet of a
 * connection the engine translated) they save the bit into the connection's
 * mark, and give the connection an identity NAT binding (`dnat`/`snat` to
 * the connection's own original address, no port change).
 *
 * Why a binding and not `ACCEPT` in iptables' nat chains: the kernel runs
 * every nat chain of a hook (iptables' and nftables' alike, in priority
 * order) until one of them sets up a binding (nf_nat_inet_fn); an ACCEPT
 * ends only its own chain, so the administrator's masquerade in another
 * table would still rewrite the source the engine chose for an outbound
 * mapping (the e2e test shows it: without the binding the server sees
 * masquerade's port). A binding ends the search: the chains after ours
 * (priority -150 / 50, before dstnat -100 / srcnat 100) never run for
 * algd's connections, and the identity binding changes nothing in the
 * packet. Conntrack thus records the connection as the engine's inside
 * view, consistent with the engine's rewrites (before conntrack at raw,
 * after it at mangle postrouting).
 *
 * Why nftables here when the queue rules are iptables: no iptables target
 * can bind a connection to an address taken from the connection itself
 * (`SNAT` needs a literal, `NETMAP` reads the packet, whose source the engine
 * has already rewritten); nftables' nat statement takes `ct original ...`.
 *
 * A filter chain at postrouting (after the queue's verdicts and NAT) drops
 * a packet of an algd connection that leaves a public adapter without the
 * mark bit, i.e. that algd did not translate: the engine forgot the
 * connection (expired, removed), the queue was bypassed (algd killed with
 * fail-open, queue overflow), or algd is shutting down. The identity
 * binding would otherwise let the private address out. Every translated
 * packet leaving a public adapter is one the engine rewrote after routing,
 * so it carries the bit.
 *
 * With the kernel redirect (kernel-redirects.ts) the prerouting chain also
 * sends a SYN carrying ALGD_REDIRECT_MARK to the listener of its port, from
 * the maps `redirect4`/`redirect6` (protocol . port : listener address .
 * port); conntrack translates the rest of the connection both ways.
 *
 * The nat hooks see only a connection's first packet, exactly the packet the
 * driver marked. Install and removal are one atomic `nft -f` each; the table
 * outlives a crash like algd's iptables chains and is replaced by the next
 * run.
 */

import { ALGD_MARK, ALGD_REDIRECT_MARK } from './algd-mark';
import type { CommandRunner } from './command-runner';
import type { IpFamily } from './iptables-rules';
import { NftCommands } from './nft-commands';

export const NAT_GUARD_TABLE = 'algd';

export class NatGuardError extends Error {
  override readonly name = 'NatGuardError';
}

export interface NatGuardOptions {
  readonly families: readonly IpFamily[];
  /** Public adapters: what leaves them from an algd connection must be translated. */
  readonly publicAdapters: readonly string[];
  /** With the kernel redirect's maps and rules (kernel-redirects.ts). Default false. */
  readonly kernelRedirect?: boolean;
  /** Run inside this network namespace (`ip netns exec`); default: the current one. */
  readonly netns?: string;
  readonly run?: CommandRunner;
}

/** The ruleset `install` loads (after deleting any table of the same name). */
export function natGuardRuleset(families: readonly IpFamily[], publicAdapters: readonly string[], opts: { readonly kernelRedirect?: boolean } = {}): string {
  const mark = `0x${ALGD_MARK.toString(16)}`;
  const redirectMark = `0x${ALGD_REDIRECT_MARK.toString(16)}`;
  const kernelRedirect = opts.kernelRedirect === true;
  const redirectMaps = kernelRedirect
    ? families.flatMap((f) => [`  map ${redirectMapName(f)} {`, `    type inet_proto . inet_service : ${f === 4 ? 'ipv4_addr' : 'ipv6_addr'} . inet_service`, '  }'])
    : [];
  const redirects = kernelRedirect
    ? families.map((f) => `meta mark & ${redirectMark} == ${redirectMark} meta nfproto ${f === 4 ? 'ipv4 dnat ip' : 'ipv6 dnat ip6'} to meta l4proto . th dport map @${redirectMapName(f)}`)
    : [];
  const marked = `meta mark & ${mark} == ${mark}`;
  const identity = (kind: 'dnat' | 'snat', side: 'saddr' | 'daddr'): string[] =>
    families.map((f) => (f === 4 ? `${marked} meta nfproto ipv4 ${kind} ip to ct original ip ${side}` : `${marked} meta nfproto ipv6 ${kind} ip6 to ct original ip6 ${side}`));
  const saveMark = `${marked} ct mark set ct mark | ${mark}`;
  const chain = (name: string, hook: string, priority: string, rules: string[]): string[] => [
    `  chain ${name} {`,
    `    type nat hook ${hook} priority ${priority}; policy accept;`,
    ...rules.map((r) => `    ${r}`),
    '  }',
  ];
  return [
    // Creating then deleting makes the load idempotent, atomically: a table left by a crashed run is replaced.
    `table inet ${NAT_GUARD_TABLE}`,
    `delete table inet ${NAT_GUARD_TABLE}`,
    `table inet ${NAT_GUARD_TABLE} {`,
    ...redirectMaps,
    // Numeric priorities (dstnat -100, srcnat 100, each minus 50): older nft knows no srcnat keyword at input.
    ...chain('nat_prerouting', 'prerouting', '-150', [saveMark, ...identity('dnat', 'daddr'), ...redirects]),
    // Redirected connections end at a local listener: their source NAT is decided at input.
    ...chain('nat_input', 'input', '50', identity('snat', 'saddr')),
    ...chain('nat_postrouting', 'postrouting', '50', [saveMark, ...identity('snat', 'saddr')]),
    ...(publicAdapters.length === 0
      ? []
      : [
          `  chain untranslated {`,
          `    type filter hook postrouting priority 200; policy accept;`,
          `    ct mark & ${mark} == ${mark} oifname { ${publicAdapters.map((a) => JSON.stringify(a)).join(', ')} } meta mark & ${mark} == 0 counter drop`,
          '  }',
        ]),
    '}',
    '',
  ].join('\n');
}

export class NatGuard {
  private readonly nft: NftCommands;

  constructor(private readonly opts: NatGuardOptions) {
    this.nft = new NftCommands(opts, (message) => new NatGuardError(message));
  }

  /**
   * Loads (or replaces) the table; with `kernelRedirect`, its maps and rules
   * too, unless the kernel refuses them: then the table is loaded without
   * them and the refusal returned (the driver redirects in userland).
   */
  async install(): Promise<{ readonly kernelRedirect: boolean; readonly refused?: string }> {
    const { families, publicAdapters } = this.opts;
    if (this.opts.kernelRedirect === true) {
      try {
        await this.nft.script(natGuardRuleset(families, publicAdapters, { kernelRedirect: true }));
        return { kernelRedirect: true };
      } catch (err) {
        if (!(err instanceof NatGuardError)) throw err;
        await this.nft.script(natGuardRuleset(families, publicAdapters));
        return { kernelRedirect: false, refused: err.message };
      }
    }
    await this.nft.script(natGuardRuleset(families, publicAdapters));
    return { kernelRedirect: false };
  }

  /** Deletes the table if present. Idempotent. */
  async remove(): Promise<void> {
    await this.nft.script(`table inet ${NAT_GUARD_TABLE}\ndelete table inet ${NAT_GUARD_TABLE}\n`);
  }
}

/** The map of the kernel redirect's listeners for IP version `family`. */
export function redirectMapName(family: IpFamily): string {
  return `redirect${family}`;
}
