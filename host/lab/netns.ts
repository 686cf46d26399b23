/**
 * Named network namespaces (`ip netns`): list, empty of processes, delete.
 *
 * These act only on the namespace names they are given; callers decide
 * what is theirs (see lab-names.ts).
 */

import { readFileSync } from 'node:fs';

import { parseNetnsList } from './lab-names';
import { runCommand, runOk } from '../os/run-command';

const POLL_MS = 25;

/** Names of all named network namespaces. */
export async function listNetns(): Promise<string[]> {
  return parseNetnsList((await runOk(['ip', 'netns', 'list'], { timeoutMs: 10_000 })).stdout);
}

/** True when a process with this pid exists (EPERM counts: it exists, it just is not ours to signal). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids of the processes inside namespace `ns` (empty when it has none or does not exist). */
export async function netnsPids(ns: string): Promise<number[]> {
  const r = await runCommand(['ip', 'netns', 'pids', ns], { timeoutMs: 10_000 });
  if (r.code !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^[0-9]+$/.test(s))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Alive and not a zombie (a zombie has left its namespace; only its parent's wait() is missing). */
export function isProcessRunning(pid: number): boolean {
  if (!isProcessAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isProcessRunning);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    alive = alive.filter(isProcessRunning);
  }
  return alive;
}

/**
 * Ends every process inside `ns` (daemons a test started included): SIGTERM,
 * then SIGKILL for whatever is left after `graceMs`. Rejects if any survives.
 */
export async function killNetnsProcesses(ns: string, graceMs = 1_000): Promise<void> {
  const pids = await netnsPids(ns);
  if (pids.length === 0) return;
  for (const pid of pids) signal(pid, 'SIGTERM');
  const stubborn = await waitGone(pids, graceMs);
  for (const pid of stubborn) signal(pid, 'SIGKILL');
  const survivors = await waitGone(stubborn, 5_000);
  if (survivors.length > 0) throw new Error(`processes ${survivors.join(', ')} in ${ns} survived SIGKILL`);
}

/**
 * Empties and deletes namespace `ns`; its veth ends (and their peers) go
 * with it. Succeeds when `ns` is already gone (someone else deleted it).
 */
export async function deleteNetns(ns: string): Promise<void> {
  await killNetnsProcesses(ns);
  try {
    await runOk(['ip', 'netns', 'del', ns], { timeoutMs: 10_000 });
  } catch (err) {
    if ((await listNetns()).includes(ns)) throw err;
  }
}
