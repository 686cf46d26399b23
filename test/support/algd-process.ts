import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The built CLI; tests run what ships, so `npm run build` must have run. */
export const ALGD_BIN = join(__dirname, '..', '..', 'dist', 'host', 'cli', 'algd.js');

function requireBuild(): void {
  if (!existsSync(ALGD_BIN)) throw new Error(`${ALGD_BIN} is missing: run \`npm run build\` first`);
}

/** Runs `algd ARGS` to completion. */
export function runAlgd(args: readonly string[], timeoutMs = 15_000): { code: number | null; stdout: string; stderr: string } {
  requireBuild();
  const r = spawnSync(process.execPath, [ALGD_BIN, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A running `algd start` process. */
export class AlgdProcess {
  readonly child: ChildProcess;
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(args: readonly string[], opts: { prefix?: readonly string[] } = {}) {
    requireBuild();
    const argv = [...(opts.prefix ?? []), process.execPath, ALGD_BIN, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolves once stderr matches `pattern`; rejects on exit or timeout. */
  async waitForLog(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stderr)) {
      if (this.child.exitCode !== null) throw new Error(`algd exited (${this.child.exitCode}) before logging ${pattern}:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`algd did not log ${pattern} within ${timeoutMs} ms:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Sends `signal` and resolves with the exit code (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  exitCode(): Promise<number | null> {
    return this.exited;
  }
}
