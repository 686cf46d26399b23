/**
 * algd in the lab's gateway for the reliability tests, which kill, stop
 * and restart it: one `algd start` per call, its pid (the node process
 * itself: `ip netns exec` execs it), its status, and what the kernel holds
 * for it (iptables rules, the queue's counters, its file descriptors).
 */

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Lab } from '../../host/lab/lab';
import type { LabProcess } from '../../host/lab/lab-process';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from '../../host/lab/topology';
import { ALGD_BIN } from '../support/algd-process';
import { describeLabNeeding } from '../lab/require-lab';

export interface AlgdStatus {
  plugins: { name: string; state: string; counters: Record<string, number>; failures: Record<string, number>; sessions: number }[];
  sessions: { id: string }[];
  sessionsEnded: Record<string, number>;
  engine: { mappings: { id: number; owner: string; mapping: string; active: boolean }[]; flows?: number; counters: { drops: Record<string, number> } };
}

/** The FTP plugin on, SIP and RTSP off, the nfqueue driver with `nfqueue` options, `extra` settings over these. */
export function ftpConfig(lab: Lab, name: string, nfqueue: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
  const file = join(lab.workDir, `algd-${name}.json`);
  writeFileSync(file, JSON.stringify({
    driver: 'nfqueue',
    nfqueue,
    adapters: [{ name: GATEWAY_PRIVATE_IFACE, type: 'private' }, { name: GATEWAY_PUBLIC_IFACE, type: 'boundary' }],
    adminSocket: join(lab.workDir, `algd-${name}.sock`),
    plugins: { ftp: { enabled: true }, sip: { enabled: false }, rtsp: { enabled: false } },
    ...extra,
  }));
  return file;
}

/** Starts `algd start --config file` in the gateway and waits until it runs. */
export async function startAlgd(lab: Lab, configFile: string): Promise<LabProcess> {
  const algd = lab.spawn('gateway', [process.execPath, ALGD_BIN, 'start', '--config', configFile]);
  await algd.waitForOutput(/running/, 20_000);
  return algd;
}

export async function algdStatus(lab: Lab, configFile: string): Promise<AlgdStatus> {
  const r = await lab.execOk('gateway', [process.execPath, ALGD_BIN, 'status', '--json', '--config', configFile], { timeoutMs: 15_000 });
  return JSON.parse(r.stdout) as AlgdStatus;
}

/** Polls status until no session and no active mapping is left, at most `timeoutMs`. */
export async function untilQuiet(lab: Lab, configFile: string, timeoutMs: number): Promise<AlgdStatus> {
  const deadline = Date.now() + timeoutMs;
  let s = await algdStatus(lab, configFile);
  while ((s.sessions.length > 0 || s.engine.mappings.some((m) => m.active)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    s = await algdStatus(lab, configFile);
  }
  return s;
}

export function pidOf(algd: LabProcess): number {
  const pid = algd.child.pid;
  if (pid === undefined) throw new Error('algd has no pid');
  return pid;
}

/** Resident memory of a process in KiB (VmRSS in /proc/<pid>/status). */
export function rssKib(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** algd's iptables rules in the gateway (IPv4 and IPv6), sorted: its chains and the jumps to them. */
export async function algdRules(lab: Lab): Promise<string[]> {
  const out: string[] = [];
  for (const save of ['iptables-save', 'ip6tables-save']) {
    const r = await lab.execOk('gateway', [save], { timeoutMs: 15_000 });
    out.push(...r.stdout.split('\n').filter((l) => /ALGD/i.test(l) && !l.startsWith('#')).map((l) => `${save}: ${l.replace(/\[\d+:\d+\]/, '')}`));
  }
  return out.sort();
}

/** One queue's line of /proc/net/netfilter/nfnetlink_queue in the gateway. */
export interface QueueCounters {
  /** Packets waiting for a verdict. */
  readonly waiting: number;
  /** Dropped because the queue was full (fail-closed). */
  readonly queueDropped: number;
  /** Dropped because the reader's socket was full (fail-closed). */
  readonly userDropped: number;
}

export async function queueCounters(lab: Lab, queueNum: number): Promise<QueueCounters | undefined> {
  const r = await lab.execOk('gateway', ['cat', '/proc/net/netfilter/nfnetlink_queue']);
  for (const line of r.stdout.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f[0] === queueNum) return { waiting: f[2]!, queueDropped: f[5]!, userDropped: f[6]! };
  }
  return undefined;
}

/**
 * describeLab, when `tools` are installed; otherwise skipped with the
 * reason, or under ALGD_REQUIRE_ALL=1 a failing test.
 */
export function describeLabWith(tools: readonly string[], title: string, fn: () => void): void {
  describeLabNeeding(tools, title, fn);
}
