/**
 * algd's capture rules: its own chains, one per hook (`ALGD_PREROUTING`
 * jumped to from raw `PREROUTING`, `ALGD_OUTPUT` from raw `OUTPUT`,
 * `ALGD_POSTROUTING` from mangle `POSTROUTING`, and `ALGD_FORWARD` from
 * filter `FORWARD` for the pinholes of firewalled adapters), managed with
 * iptables/ip6tables.
 *
 * Why iptables and these tables: on the kernels algd targets the nftables
 * `queue` statement is unavailable while the iptables (nf_tables backend)
 * `NFQUEUE` target works. Raw runs before conntrack, so algd sees a packet
 * before any NAT decision is attached to it; raw has no POSTROUTING, and
 * mangle's runs after routing and before NAT.
 *
 * Why own chains: everything algd installs hangs off one jump per hook,
 * so installing is "flush our chain, refill it, make sure the jump is
 * there once" and removing is "delete the jumps, flush, delete the
 * chains", without ever touching a rule of somebody else. A chain left by
 * a crashed run is flushed and reused; the jump is never duplicated.
 *
 * Rules are argv fragments (`['-p', 'udp', '--dport', '5060', ...nfqueueTarget(0)]`),
 * run without a shell (host/os/run-command.ts).
 */

import { processRunner, type CommandOutcome, type CommandRunner } from './command-runner';

export type IpFamily = 4 | 6;
export type AlgdHook = 'PREROUTING' | 'OUTPUT' | 'POSTROUTING' | 'FORWARD';
export type IptablesTable = 'raw' | 'mangle' | 'filter';

export const ALGD_CHAIN_PREFIX = 'ALGD_';
export const ALGD_CHAINS: Readonly<Record<AlgdHook, string>> = { PREROUTING: 'ALGD_PREROUTING', OUTPUT: 'ALGD_OUTPUT', POSTROUTING: 'ALGD_POSTROUTING', FORWARD: 'ALGD_FORWARD' };
/** The table each hook's chain lives in. */
export const ALGD_TABLES: Readonly<Record<AlgdHook, IptablesTable>> = { PREROUTING: 'raw', OUTPUT: 'raw', POSTROUTING: 'mangle', FORWARD: 'filter' };
const HOOKS: readonly AlgdHook[] = ['PREROUTING', 'OUTPUT', 'POSTROUTING', 'FORWARD'];
const TABLES: readonly IptablesTable[] = ['raw', 'mangle', 'filter'];
/** The built-in chains of each table, where a jump to an algd chain (even a stale, unknown one) may hang. */
const BUILTIN_CHAINS: Readonly<Record<IptablesTable, readonly string[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export interface AlgdRule {
  /** The hook whose algd chain gets the rule. */
  readonly hook: AlgdHook;
  /** Matches and target, e.g. `['-i', 'eth1', '-p', 'tcp', '--dport', '21', '-j', 'NFQUEUE', ...]`. */
  readonly argv: readonly string[];
  /** Which families get it; default both (the installer's `families`). */
  readonly families?: readonly IpFamily[];
}

export type { CommandOutcome, CommandRunner } from './command-runner';

export interface IptablesRulesOptions {
  /** Run every command inside this network namespace (`ip netns exec NAME ...`). */
  readonly netns?: string;
  /** Families to manage; default both. */
  readonly families?: readonly IpFamily[];
  /** Per-command time limit; default 10 s. */
  readonly timeoutMs?: number;
  /** The programs, per family; default iptables / ip6tables. */
  readonly binaries?: Readonly<Record<IpFamily, string>>;
  /** Replaces command execution (tests). */
  readonly run?: CommandRunner;
}

/** An iptables command failed; the message names it and quotes its stderr. */
export class IptablesError extends Error {
  override readonly name = 'IptablesError';
  constructor(
    message: string,
    readonly argv: readonly string[],
  ) {
    super(message);
  }
}

/**
 * The `NFQUEUE` target for queue `queueNum`. `bypass` (default true): when
 * no program is bound to the queue, packets are accepted instead of dropped,
 * so traffic flows if algd is not running.
 */
export function nfqueueTarget(queueNum: number, opts: { readonly bypass?: boolean } = {}): string[] {
  if (!Number.isInteger(queueNum) || queueNum < 0 || queueNum > 0xffff) throw new RangeError(`queue number must be 0..65535, got ${queueNum}`);
  return ['-j', 'NFQUEUE', '--queue-num', String(queueNum), ...(opts.bypass ?? true ? ['--queue-bypass'] : [])];
}

/** Options that would pick a table or a chain command: a rule supplies only matches and a target. */
const FORBIDDEN_OPTIONS = new Set([
  '-t', '--table', '-A', '--append', '-I', '--insert', '-D', '--delete', '-R', '--replace', '-C', '--check',
  '-F', '--flush', '-X', '--delete-chain', '-N', '--new-chain', '-P', '--policy', '-E', '--rename-chain',
  '-Z', '--zero', '-L', '--list', '-S', '--list-rules',
]);
const MAX_JUMP_DELETIONS = 64;

export class IptablesRules {
  private readonly families: readonly IpFamily[];
  private readonly run: CommandRunner;
  private readonly binaries: Readonly<Record<IpFamily, string>>;
  private readonly prefix: readonly string[];
  /** install/removeAll run one at a time. */
  private serial: Promise<unknown> = Promise.resolve();

  constructor(opts: IptablesRulesOptions = {}) {
    this.families = opts.families ?? [4, 6];
    this.binaries = opts.binaries ?? { 4: 'iptables', 6: 'ip6tables' };
    this.run = opts.run ?? processRunner(opts.timeoutMs ?? 10_000, (message, argv, code) => Object.assign(new IptablesError(message, argv), { code }));
    this.prefix = opts.netns === undefined ? [] : ['ip', 'netns', 'exec', opts.netns];
  }

  /**
   * Makes algd's chains contain exactly `rules` (per hook and family, in
   * order), each chain jumped to once from the top of its hook. Hooks without
   * rules get no chain (a stale one is removed). On failure, everything algd
   * owns is removed before the error is rethrown.
   */
  install(rules: readonly AlgdRule[]): Promise<void> {
    for (const r of rules) validateRule(r);
    return this.exclusive(async () => {
      try {
        for (const family of this.families) {
          for (const hook of HOOKS) {
            const mine = rules.filter((r) => r.hook === hook && (r.families ?? this.families).includes(family));
            if (mine.length === 0) await this.removeChain(family, ALGD_TABLES[hook], ALGD_CHAINS[hook]);
            else await this.fillChain(family, hook, mine);
          }
        }
      } catch (err) {
        await this.removeEverything().catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Changes the installed rules to `rules` while algd runs (a reload that
   * re-ports a plugin). A chain that exists is refilled in one
   * `iptables-restore --noflush` transaction, so no packet ever meets it
   * half-filled (a redirected connection's packets must not slip past the
   * queue for even a moment); a chain that is not needed any more is
   * removed; a new one is created as `install` does.
   */
  replace(rules: readonly AlgdRule[]): Promise<void> {
    for (const r of rules) {
      validateRule(r);
      // The restore format splits on white space: nothing of ours needs quoting, and nothing may.
      const unsafe = r.argv.find((a) => /[\s"'#]/.test(a));
      if (unsafe !== undefined) throw new TypeError(`rule argument ${JSON.stringify(unsafe)} cannot be written in the iptables-restore format`);
    }
    return this.exclusive(async () => {
      for (const family of this.families) {
        for (const hook of HOOKS) {
          const table = ALGD_TABLES[hook];
          const chain = ALGD_CHAINS[hook];
          const mine = rules.filter((r) => r.hook === hook && (r.families ?? this.families).includes(family));
          if (mine.length === 0) {
            await this.removeChain(family, table, chain);
          } else if ((await this.ipt(family, table, ['-S', chain], { allowFailure: true })).code === 0) {
            const restore = [`*${table}`, `:${chain} - [0:0]`, ...mine.map((r) => ['-A', chain, ...r.argv].join(' ')), 'COMMIT', ''].join('\n');
            const argv = [...this.prefix, `${this.binaries[family]}-restore`, '-w', '5', '--noflush'];
            const out = await this.run(argv, restore);
            if (out.code !== 0) throw new IptablesError(`\`${argv.join(' ')}\` exited with ${out.code}: ${out.stderr.trim()}`, argv);
            await this.ensureSingleJump(family, table, hook, chain);
          } else {
            await this.fillChain(family, hook, mine);
          }
        }
      }
    });
  }

  /** Removes every algd chain (any `ALGD_*` chain in raw, mangle and filter) and the jumps to it. Idempotent. */
  removeAll(): Promise<void> {
    return this.exclusive(() => this.removeEverything());
  }

  /** The `-S` lines of `table` (default raw) that mention algd's chains, per family (for status and tests). */
  async listAlgdRules(family: IpFamily, table: IptablesTable = 'raw'): Promise<string[]> {
    const out = await this.ipt(family, table, ['-S']);
    return out.stdout.split('\n').filter((l) => l.includes(ALGD_CHAIN_PREFIX));
  }

  private async fillChain(family: IpFamily, hook: AlgdHook, rules: readonly AlgdRule[]): Promise<void> {
    const chain = ALGD_CHAINS[hook];
    const table = ALGD_TABLES[hook];
    // A chain from a crashed run is flushed and reused; its jump stays in place.
    if ((await this.ipt(family, table, ['-S', chain], { allowFailure: true })).code === 0) await this.ipt(family, table, ['-F', chain]);
    else await this.ipt(family, table, ['-N', chain]);
    for (const rule of rules) await this.ipt(family, table, ['-A', chain, ...rule.argv]);
    await this.ensureSingleJump(family, table, hook, chain);
  }

  /** Exactly one bare `-j CHAIN` in `hook`, inserted first when missing. */
  private async ensureSingleJump(family: IpFamily, table: IptablesTable, hook: AlgdHook, chain: string): Promise<void> {
    const listed = await this.ipt(family, table, ['-S', hook]);
    const jump = `-A ${hook} -j ${chain}`;
    const count = listed.stdout.split('\n').filter((l) => l.trim() === jump).length;
    if (count === 0) await this.ipt(family, table, ['-I', hook, '1', '-j', chain]);
    for (let extra = count; extra > 1; extra--) await this.ipt(family, table, ['-D', hook, '-j', chain]);
  }

  private async removeEverything(): Promise<void> {
    for (const family of this.families) {
      for (const table of TABLES) {
        const listed = await this.ipt(family, table, ['-S'], { allowMissingBinary: true });
        if (listed === undefined) break; // no ip6tables: nothing of ours can exist there
        const chains = new Set<string>(HOOKS.filter((h) => ALGD_TABLES[h] === table).map((h) => ALGD_CHAINS[h]));
        for (const line of listed.stdout.split('\n')) {
          const m = /^-N (\S+)$/.exec(line.trim());
          if (m && m[1]!.startsWith(ALGD_CHAIN_PREFIX)) chains.add(m[1]!);
        }
        for (const chain of chains) await this.removeChain(family, table, chain);
        const left = (await this.listAlgdRules(family, table)).filter((l) => l.trim() !== '');
        if (left.length > 0) {
          throw new IptablesError(`algd rules remain in the ${family === 4 ? 'IPv4' : 'IPv6'} ${table} table after removal: ${left.join(' | ')}`, [this.binaries[family], '-t', table, '-S']);
        }
      }
    }
  }

  /** Deletes the jumps to `chain` from the table's built-in chains, then the chain. Absent chains are fine. */
  private async removeChain(family: IpFamily, table: IptablesTable, chain: string): Promise<void> {
    for (const builtin of BUILTIN_CHAINS[table]) {
      for (let i = 0; i < MAX_JUMP_DELETIONS; i++) {
        if ((await this.ipt(family, table, ['-C', builtin, '-j', chain], { allowFailure: true })).code !== 0) break;
        await this.ipt(family, table, ['-D', builtin, '-j', chain]);
      }
    }
    if ((await this.ipt(family, table, ['-S', chain], { allowFailure: true })).code !== 0) return;
    await this.ipt(family, table, ['-F', chain]);
    await this.ipt(family, table, ['-X', chain]);
  }

  private ipt(family: IpFamily, table: IptablesTable, args: readonly string[], opts: { allowFailure?: boolean }): Promise<CommandOutcome>;
  private ipt(family: IpFamily, table: IptablesTable, args: readonly string[], opts: { allowMissingBinary: true }): Promise<CommandOutcome | undefined>;
  private ipt(family: IpFamily, table: IptablesTable, args: readonly string[]): Promise<CommandOutcome>;
  private async ipt(family: IpFamily, table: IptablesTable, args: readonly string[], opts: { allowFailure?: boolean; allowMissingBinary?: boolean } = {}): Promise<CommandOutcome | undefined> {
    const argv = [...this.prefix, this.binaries[family], '-w', '5', '-t', table, ...args];
    let out: CommandOutcome;
    try {
      out = await this.run(argv);
    } catch (err) {
      if (opts.allowMissingBinary && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    // `ip netns exec` reports a program it cannot find as exit 255 with this message.
    if (opts.allowMissingBinary && out.code !== 0 && /No such file or directory/.test(out.stderr)) return undefined;
    if (out.code !== 0 && !opts.allowFailure) {
      throw new IptablesError(`\`${argv.join(' ')}\` exited with ${out.code}: ${out.stderr.trim()}`, argv);
    }
    return out;
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.serial.then(task, task);
    this.serial = result.catch(() => undefined);
    return result;
  }
}

function validateRule(rule: AlgdRule): void {
  if (!HOOKS.includes(rule.hook)) throw new TypeError(`rule hook must be one of ${HOOKS.join(', ')}, got ${String(rule.hook)}`);
  if (rule.argv.length === 0 || rule.argv.some((a) => typeof a !== 'string' || a === '')) throw new TypeError(`rule argv must be non-empty strings: ${JSON.stringify(rule.argv)}`);
  const bad = rule.argv.find((a) => FORBIDDEN_OPTIONS.has(a));
  if (bad !== undefined) throw new TypeError(`rule argv may hold only matches and a target, not ${bad}: ${JSON.stringify(rule.argv)}`);
  if (!rule.argv.some((a) => a === '-j' || a === '--jump' || a === '-g' || a === '--goto')) throw new TypeError(`rule has no target (-j): ${JSON.stringify(rule.argv)}`);
}
