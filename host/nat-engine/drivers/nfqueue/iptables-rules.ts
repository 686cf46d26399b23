/**
 * algd's capture rules: its own chains in the raw table, one per hook
 * (`ALGD_PREROUTING` jumped to from `PREROUTING`, `ALGD_OUTPUT` from
 * `OUTPUT`), managed with iptables/ip6tables.
 *
 * Why iptables and the raw table: on the kernels algd targets the nftables
 * `queue` statement is unavailable while the iptables (nf_tables backend)
 * `NFQUEUE` target works, and raw runs before conntrack, so algd sees a
 * packet before any NAT decision is attached to it.
 *
 * Why own chains: everything algd installs hangs off one jump per hook,
 * so installing is "flush our chain, refill it, make sure the jump is
 * there once" and removing is "delete the jumps, flush, delete the
 * chains", without ever touching a rule of somebody else. A chain left by
 * a crashed run is flushed and reused; the jump is never duplicated.
 *
 * Rules are argv fragments (`['-p', 'udp', '--dport', '5060', ...nfqueueTarget(0)]`),
 * run with execFile, never through a shell.
 */

import { execFile } from 'node:child_process';

export type IpFamily = 4 | 6;
export type AlgdHook = 'PREROUTING' | 'OUTPUT';

export const ALGD_CHAIN_PREFIX = 'ALGD_';
export const ALGD_CHAINS: Readonly<Record<AlgdHook, string>> = { PREROUTING: 'ALGD_PREROUTING', OUTPUT: 'ALGD_OUTPUT' };
const HOOKS: readonly AlgdHook[] = ['PREROUTING', 'OUTPUT'];
const TABLE = 'raw';

export interface AlgdRule {
  /** The hook whose algd chain gets the rule. */
  readonly hook: AlgdHook;
  /** Matches and target, e.g. `['-i', 'eth1', '-p', 'tcp', '--dport', '21', '-j', 'NFQUEUE', ...]`. */
  readonly argv: readonly string[];
  /** Which families get it; default both (the installer's `families`). */
  readonly families?: readonly IpFamily[];
}

export interface CommandOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv without a shell; resolves with any exit code, rejects only when it cannot run or times out. */
export type CommandRunner = (argv: readonly string[]) => Promise<CommandOutcome>;

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
    this.run = opts.run ?? execFileRunner(opts.timeoutMs ?? 10_000);
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
            if (mine.length === 0) await this.removeChain(family, ALGD_CHAINS[hook]);
            else await this.fillChain(family, hook, mine);
          }
        }
      } catch (err) {
        await this.removeEverything().catch(() => undefined);
        throw err;
      }
    });
  }

  /** Removes every algd chain (any `ALGD_*` chain in raw) and the jumps to it. Idempotent. */
  removeAll(): Promise<void> {
    return this.exclusive(() => this.removeEverything());
  }

  /** The `-S` lines of the raw table that mention algd's chains, per family (for status and tests). */
  async listAlgdRules(family: IpFamily): Promise<string[]> {
    const out = await this.ipt(family, ['-S']);
    return out.stdout.split('\n').filter((l) => l.includes(ALGD_CHAIN_PREFIX));
  }

  private async fillChain(family: IpFamily, hook: AlgdHook, rules: readonly AlgdRule[]): Promise<void> {
    const chain = ALGD_CHAINS[hook];
    // A chain from a crashed run is flushed and reused; its jump stays in place.
    if ((await this.ipt(family, ['-S', chain], { allowFailure: true })).code === 0) await this.ipt(family, ['-F', chain]);
    else await this.ipt(family, ['-N', chain]);
    for (const rule of rules) await this.ipt(family, ['-A', chain, ...rule.argv]);
    await this.ensureSingleJump(family, hook, chain);
  }

  /** Exactly one bare `-j CHAIN` in `hook`, inserted first when missing. */
  private async ensureSingleJump(family: IpFamily, hook: AlgdHook, chain: string): Promise<void> {
    const listed = await this.ipt(family, ['-S', hook]);
    const jump = `-A ${hook} -j ${chain}`;
    const count = listed.stdout.split('\n').filter((l) => l.trim() === jump).length;
    if (count === 0) await this.ipt(family, ['-I', hook, '1', '-j', chain]);
    for (let extra = count; extra > 1; extra--) await this.ipt(family, ['-D', hook, '-j', chain]);
  }

  private async removeEverything(): Promise<void> {
    for (const family of this.families) {
      const listed = await this.ipt(family, ['-S'], { allowMissingBinary: true });
      if (listed === undefined) continue; // no ip6tables: nothing of ours can exist there
      const chains = new Set<string>(Object.values(ALGD_CHAINS));
      for (const line of listed.stdout.split('\n')) {
        const m = /^-N (\S+)$/.exec(line.trim());
        if (m && m[1]!.startsWith(ALGD_CHAIN_PREFIX)) chains.add(m[1]!);
      }
      for (const chain of chains) await this.removeChain(family, chain);
      const left = (await this.listAlgdRules(family)).filter((l) => l.trim() !== '');
      if (left.length > 0) {
        throw new IptablesError(`algd rules remain in the ${family === 4 ? 'IPv4' : 'IPv6'} raw table after removal: ${left.join(' | ')}`, [this.binaries[family], '-t', TABLE, '-S']);
      }
    }
  }

  /** Deletes the jumps to `chain` from the hooks, then the chain. Absent chains are fine. */
  private async removeChain(family: IpFamily, chain: string): Promise<void> {
    for (const hook of HOOKS) {
      for (let i = 0; i < MAX_JUMP_DELETIONS; i++) {
        if ((await this.ipt(family, ['-C', hook, '-j', chain], { allowFailure: true })).code !== 0) break;
        await this.ipt(family, ['-D', hook, '-j', chain]);
      }
    }
    if ((await this.ipt(family, ['-S', chain], { allowFailure: true })).code !== 0) return;
    await this.ipt(family, ['-F', chain]);
    await this.ipt(family, ['-X', chain]);
  }

  private ipt(family: IpFamily, args: readonly string[], opts: { allowFailure?: boolean }): Promise<CommandOutcome>;
  private ipt(family: IpFamily, args: readonly string[], opts: { allowMissingBinary: true }): Promise<CommandOutcome | undefined>;
  private ipt(family: IpFamily, args: readonly string[]): Promise<CommandOutcome>;
  private async ipt(family: IpFamily, args: readonly string[], opts: { allowFailure?: boolean; allowMissingBinary?: boolean } = {}): Promise<CommandOutcome | undefined> {
    const argv = [...this.prefix, this.binaries[family], '-w', '5', '-t', TABLE, ...args];
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
  if (!HOOKS.includes(rule.hook)) throw new TypeError(`rule hook must be PREROUTING or OUTPUT, got ${String(rule.hook)}`);
  if (rule.argv.length === 0 || rule.argv.some((a) => typeof a !== 'string' || a === '')) throw new TypeError(`rule argv must be non-empty strings: ${JSON.stringify(rule.argv)}`);
  const bad = rule.argv.find((a) => FORBIDDEN_OPTIONS.has(a));
  if (bad !== undefined) throw new TypeError(`rule argv may hold only matches and a target, not ${bad}: ${JSON.stringify(rule.argv)}`);
  if (!rule.argv.some((a) => a === '-j' || a === '--jump' || a === '-g' || a === '--goto')) throw new TypeError(`rule has no target (-j): ${JSON.stringify(rule.argv)}`);
}

function execFileRunner(timeoutMs: number): CommandRunner {
  return (argv) =>
    new Promise((resolve, reject) => {
      execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          const why = err.killed ? `timed out after ${timeoutMs} ms` : err.message;
          reject(Object.assign(new IptablesError(`\`${argv.join(' ')}\` could not run: ${why}`, argv), { code: err.code }));
          return;
        }
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      });
    });
}
