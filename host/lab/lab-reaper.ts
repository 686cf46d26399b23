/**
 * The last-resort cleanup of a lab: a small detached watchdog process.
 *
 * In-process exit handlers cannot be the last resort here: Jest gives each
 * test file a sandboxed copy of `process` whose 'exit' and signal events
 * never fire, and nothing at all runs when the test process is SIGKILLed.
 * So each lab starts a watchdog (`node -e`, its own session, so a terminal's
 * Ctrl-C does not reach it) that holds a pipe from the test process. When
 * the lab is destroyed properly it writes `done` and the watchdog just
 * exits; when the pipe closes without `done` (the test process died, or it
 * exited without destroying the lab) the watchdog kills every process in
 * the lab's namespaces, deletes them and removes the lab's work directory.
 * `Lab.sweepStale()` is the second line of defence for anything left over.
 */

import { spawn, type ChildProcess } from 'node:child_process';

const REAPER_SCRIPT = `
'use strict';
const { spawnSync } = require('node:child_process');
const { rmSync } = require('node:fs');
const [workDir, ...namespaces] = process.argv.slice(1);
for (const sig of ['SIGINT', 'SIGHUP']) process.on(sig, () => undefined);
let input = '';
let reaped = false;
function reap() {
  if (reaped) return;
  reaped = true;
  if (input.includes('done')) process.exit(0);
  for (const ns of namespaces) {
    const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10000 });
    for (const pid of String(r.stdout || '').split(/\\s+/)) {
      if (/^[0-9]+$/.test(pid)) { try { process.kill(Number(pid), 'SIGKILL'); } catch {} }
    }
    spawnSync('ip', ['netns', 'del', ns], { timeout: 10000 });
  }
  if (workDir) { try { rmSync(workDir, { recursive: true, force: true }); } catch {} }
  process.exit(0);
}
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', reap);
process.stdin.on('error', reap);
`;

/** A running watchdog for one lab. */
export class LabReaper {
  private constructor(private readonly child: ChildProcess) {}

  /**
   * Starts a watchdog that, unless {@link release}d, deletes `namespaces`
   * (after killing their processes) and `workDir` (when given) once this
   * process is gone.
   */
  static start(namespaces: readonly string[], workDir: string | undefined): LabReaper {
    const child = spawn(process.execPath, ['-e', REAPER_SCRIPT, '--', workDir ?? '', ...namespaces], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => undefined);
    child.stdin!.on('error', () => undefined);
    // Neither the watchdog nor its pipe may keep the test process alive.
    child.unref();
    (child.stdin as unknown as { unref(): void }).unref();
    return new LabReaper(child);
  }

  /** The lab was cleaned up properly: tell the watchdog to exit without acting. */
  release(): void {
    if (this.child.stdin && !this.child.stdin.writableEnded) this.child.stdin.end('done\n');
  }

  /** Closes the pipe without `done`, as this process dying would; the watchdog cleans up. For tests. */
  abandon(): void {
    this.child.stdin?.destroy();
  }

  /** Resolves when the watchdog has exited. */
  exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }
}
