/**
 * The nfqueue driver's kernel fast path (FlowOffload): the nftables table
 * `inet algd_offload`, where the kernel rewrites an offloaded flow's
 * packets itself, statelessly, exactly where and as the engine would:
 *
 * - chain `prerouting` (filter, priority -310: before iptables' raw
 *   capture at -300 and before conntrack at -200, so conntrack records the
 *   rewritten destination as it does the engine's) looks the packet's
 *   5-tuple up in the verdict maps `pre4`/`pre6`;
 * - chain `postrouting` (filter, priority -160: before mangle's capture at
 *   -150) in `post4`/`post6`.
 *
 * A hit jumps to the flow direction's own chain, which counts the packet
 * (named counter), rewrites one end (`ip daddr set`, `tcp dport set`; the
 * kernel updates the IP and TCP checksums, partial ones included) and sets
 * both of algd's mark bits: ALGD_DONE_MARK makes the capture rules let the
 * packet pass unqueued at both hooks, ALGD_MARK is what the nat guard
 * wants on every translated packet of an algd connection leaving a public
 * adapter. TCP packets with SYN, FIN or RST never take the fast path
 * (`return` before the lookup): they still reach the engine, which follows
 * the connection's state and takes the flow back when it closes.
 *
 * Every change is one `nft -f` transaction: a flow's chains, counters and
 * map elements appear and go together. Like the nat guard's table, this one
 * outlives a crash and is replaced by the next run's open.
 */

import { ipFromBytes } from '@algd/sdk';

import type { FiveTuple } from '../../flow/five-tuple';
import type { FlowOffload, OffloadCounter, OffloadRule } from '../flow-offload';
import { ALGD_DONE_MARK, ALGD_MARK } from './algd-mark';
import type { CommandRunner } from './command-runner';
import type { IpFamily } from './iptables-rules';
import { NftCommands } from './nft-commands';

export const OFFLOAD_TABLE = 'algd_offload';
const TABLE = `inet ${OFFLOAD_TABLE}`;
const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp' };

export class OffloadTableError extends Error {
  override readonly name = 'OffloadTableError';
}

/** The map a rule's element goes into. */
function mapName(rule: OffloadRule): string {
  return `${rule.hook === 'prerouting' ? 'pre' : 'post'}${rule.match.family}`;
}

/** `tcp . 192.0.2.1 . 203.0.113.1 . 20 . 61000`: the maps' key for a tuple. */
function elementKey(t: FiveTuple): string {
  const proto = PROTOCOL_NAMES[t.protocol];
  if (proto === undefined) throw new OffloadTableError(`protocol ${t.protocol} cannot be offloaded`);
  return `${proto} . ${ipFromBytes(t.srcAddr)} . ${ipFromBytes(t.dstAddr)} . ${t.srcPort} . ${t.dstPort}`;
}

/** The statement rewriting one end: `ip daddr set 198.51.100.2 tcp dport set 40000`. */
function rewriteStatement(rule: OffloadRule): string {
  const { side, addr, port } = rule.rewrite;
  const ip = rule.match.family === 4 ? 'ip' : 'ip6';
  const proto = PROTOCOL_NAMES[rule.match.protocol]!;
  const [a, p] = side === 'src' ? ['saddr', 'sport'] : ['daddr', 'dport'];
  return `${ip} ${a} set ${ipFromBytes(addr)} ${proto} ${p} set ${port}`;
}

/** The chain and counter name of direction `k` of flow `id`. */
function directionName(id: number, k: number): string {
  return `f${id}_${k}`;
}

/** The ruleset `open` loads: the base chains and empty maps (after deleting a table left by a crashed run). */
export function offloadRuleset(families: readonly IpFamily[]): string {
  const lookup = (hook: 'pre' | 'post'): string[] =>
    families.map((f) => (f === 4
      ? `meta nfproto ipv4 meta l4proto . ip saddr . ip daddr . th sport . th dport vmap @${hook}4`
      : `meta nfproto ipv6 meta l4proto . ip6 saddr . ip6 daddr . th sport . th dport vmap @${hook}6`));
  const map = (name: string, family: IpFamily): string[] => [
    `  map ${name} {`,
    `    type inet_proto . ${family === 4 ? 'ipv4_addr . ipv4_addr' : 'ipv6_addr . ipv6_addr'} . inet_service . inet_service : verdict`,
    '  }',
  ];
  const chain = (name: string, hook: string, priority: number, rules: string[]): string[] => [
    `  chain ${name} {`,
    `    type filter hook ${hook} priority ${priority}; policy accept;`,
    // A connection's opening and closing packets stay with the engine.
    '    tcp flags & (fin | syn | rst) != 0 return',
    ...rules.map((r) => `    ${r}`),
    '  }',
  ];
  return [
    `table ${TABLE}`,
    `delete table ${TABLE}`,
    `table ${TABLE} {`,
    ...families.flatMap((f) => [...map(`pre${f}`, f), ...map(`post${f}`, f)]),
    ...chain('prerouting', 'prerouting', -310, lookup('pre')),
    ...chain('postrouting', 'postrouting', -160, lookup('post')),
    '}',
    '',
  ].join('\n');
}

/** The transaction adding flow `id`'s rules. */
export function addFlowCommands(id: number, rules: readonly OffloadRule[]): string {
  const marks = `0x${(ALGD_MARK | ALGD_DONE_MARK).toString(16)}`;
  const lines: string[] = [`table ${TABLE} {`];
  rules.forEach((rule, k) => {
    const name = directionName(id, k);
    lines.push(`  counter ${name} {`, '  }');
    lines.push(`  chain ${name} {`, `    counter name "${name}" ${rewriteStatement(rule)} meta mark set meta mark | ${marks} accept`, '  }');
  });
  lines.push('}');
  rules.forEach((rule, k) => lines.push(`add element ${TABLE} ${mapName(rule)} { ${elementKey(rule.match)} : jump ${directionName(id, k)} }`));
  return `${lines.join('\n')}\n`;
}

/** The transaction removing flow `id`'s rules: elements first, so no lookup jumps to a chain being deleted. */
export function removeFlowCommands(id: number, rules: readonly OffloadRule[]): string {
  const lines: string[] = [];
  rules.forEach((rule) => lines.push(`delete element ${TABLE} ${mapName(rule)} { ${elementKey(rule.match)} }`));
  rules.forEach((_, k) => lines.push(`delete chain ${TABLE} ${directionName(id, k)}`, `delete counter ${TABLE} ${directionName(id, k)}`));
  return `${lines.join('\n')}\n`;
}

/** Sums `nft -j list counters` output per flow id (each direction has its own counter). */
export function parseCounters(json: string): Map<number, OffloadCounter> {
  const out = new Map<number, OffloadCounter>();
  const doc = JSON.parse(json) as { nftables?: { counter?: { name?: string; packets?: number; bytes?: number } }[] };
  for (const item of doc.nftables ?? []) {
    const c = item.counter;
    const m = c?.name === undefined ? null : /^f(\d+)_\d+$/.exec(c.name);
    if (m === null || c === undefined) continue;
    const id = Number(m[1]);
    const before = out.get(id) ?? { packets: 0, bytes: 0 };
    out.set(id, { packets: before.packets + (c.packets ?? 0), bytes: before.bytes + (c.bytes ?? 0) });
  }
  return out;
}

export interface OffloadTableOptions {
  readonly families: readonly IpFamily[];
  /** Run inside this network namespace (`ip netns exec`); default: the current one. */
  readonly netns?: string;
  readonly run?: CommandRunner;
}

/** The table, and the rules of every flow installed in it. */
export class OffloadTable implements FlowOffload {
  /** Changes run one at a time (`serial`), in the order asked: a removal never overtakes its add. */
  private readonly nft: NftCommands;
  private readonly installed = new Map<number, readonly OffloadRule[]>();

  constructor(private readonly opts: OffloadTableOptions) {
    this.nft = new NftCommands(opts, (message) => new OffloadTableError(message));
  }

  /** Loads (or replaces) the table, empty. */
  install(): Promise<void> {
    return this.nft.serial(async () => {
      this.installed.clear();
      await this.nft.script(offloadRuleset(this.opts.families));
    });
  }

  /** Deletes the table (every flow's rules with it) if present. Idempotent. */
  drop(): Promise<void> {
    return this.nft.serial(async () => {
      this.installed.clear();
      await this.nft.script(`table ${TABLE}\ndelete table ${TABLE}\n`);
    });
  }

  /** Flows installed now. */
  get size(): number {
    return this.installed.size;
  }

  add(id: number, rules: readonly OffloadRule[]): Promise<void> {
    return this.nft.serial(async () => {
      if (this.installed.has(id)) throw new OffloadTableError(`flow ${id} is already offloaded`);
      await this.nft.script(addFlowCommands(id, rules));
      this.installed.set(id, rules);
    });
  }

  remove(id: number): Promise<OffloadCounter | undefined> {
    return this.nft.serial(async () => {
      const rules = this.installed.get(id);
      if (rules === undefined) return undefined;
      // The last figures first: the counters go with the rules.
      const last = await this.readCounters().then((all) => all.get(id), () => undefined);
      this.installed.delete(id);
      await this.nft.script(removeFlowCommands(id, rules));
      return last;
    });
  }

  counters(): Promise<Map<number, OffloadCounter>> {
    return this.nft.serial(() => (this.installed.size === 0 ? Promise.resolve(new Map<number, OffloadCounter>()) : this.readCounters()));
  }

  private async readCounters(): Promise<Map<number, OffloadCounter>> {
    return parseCounters(await this.nft.command(['-j', 'list', 'counters', 'table', ...TABLE.split(' ')]));
  }
}
