/**
 * Jest helpers for end-to-end tests that need the lab.
 *
 * `describeLab` runs its block only where the lab can run (Linux, root,
 * working `ip netns`, the tools the lab drives); elsewhere the block is
 * skipped with the reason printed. Under ALGD_REQUIRE_ALL=1 (CI and the
 * README's test command) a missing capability is a failing test instead.
 *
 * `useLab` creates a lab before a block's tests and destroys it after them,
 * whether they passed or not.
 */

import { spawnSync } from 'node:child_process';

import { Lab, type LabOptions } from '../../host/lab/lab';
import { findTool } from '../support/require-tool';

/** Programs the lab runs (in the root namespace or inside the lab's namespaces). */
export const LAB_TOOLS = ['ip', 'nft', 'ethtool', 'tcpdump', 'tshark', 'ss', 'sysctl', 'unshare', 'python3'] as const;

const CREATE_TIMEOUT_MS = 60_000;
const DESTROY_TIMEOUT_MS = 60_000;

let cachedReason: string | null | undefined;

/** Why the lab cannot run here, or undefined when it can. Probed once per test file. */
export function labUnavailableReason(): string | undefined {
  if (cachedReason === undefined) cachedReason = probe() ?? null;
  return cachedReason ?? undefined;
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, veth, nftables); run as root or with sudo';
  const missing = LAB_TOOLS.filter((t) => findTool(t) === undefined);
  if (missing.length > 0) return `missing programs: ${missing.join(', ')} (scripts/setup installs them)`;
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  if (list.status !== 0) return `\`ip netns list\` fails: ${(list.stderr || String(list.error)).trim()}`;
  // Creating a network namespace is what the lab needs CAP_SYS_ADMIN for; a throwaway one tells.
  const unshare = spawnSync('unshare', ['--net', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (unshare.status !== 0) return `cannot create a network namespace: ${(unshare.stderr || String(unshare.error)).trim()}`;
  return undefined;
}

/**
 * `describe(title, fn)` where the lab can run; otherwise `describe.skip`
 * with the reason, or, under ALGD_REQUIRE_ALL=1, a block whose one test
 * fails with the reason.
 */
export function describeLab(title: string, fn: () => void): void {
  describeLabNeeding([], title, fn);
}

/**
 * describeLab for tests that also need peers: `needs` lists programs (such
 * as vsftpd or sipp) that must be on PATH, or tells what is missing itself.
 * Anything missing is a reason like the lab's own.
 */
export function describeLabNeeding(needs: readonly string[] | (() => readonly string[]), title: string, fn: () => void): void {
  const missing = typeof needs === 'function' ? needs() : needs.filter((p) => findTool(p) === undefined);
  const reason = labUnavailableReason() ?? (missing.length > 0 ? `programs are missing: ${missing.join(', ')} (scripts/setup installs them)` : undefined);
  if (reason === undefined) {
    describe(title, fn);
  } else if (process.env['ALGD_REQUIRE_ALL'] === '1') {
    describe(title, () => {
      it('has what the end-to-end lab needs', () => {
        throw new Error(`ALGD_REQUIRE_ALL=1 and the lab cannot run: ${reason}`);
      });
    });
  } else {
    process.stderr.write(`[lab] skipping "${title}": ${reason}\n`);
    describe.skip(`${title} (skipped: ${reason})`, fn);
  }
}

/**
 * Creates a lab in `beforeAll` and destroys it in `afterAll` (also when
 * tests failed). Call inside a describe block; the getter returns the lab
 * and throws if it was not created.
 */
export function useLab(opts: LabOptions = {}): () => Lab {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await Lab.create(opts);
  }, CREATE_TIMEOUT_MS);
  afterAll(async () => {
    await lab?.destroy();
  }, DESTROY_TIMEOUT_MS);
  return () => {
    if (!lab) throw new Error('the lab was not created (see the beforeAll error)');
    return lab;
  };
}
