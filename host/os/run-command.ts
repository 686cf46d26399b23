/**
 * Runs one command to completion without a shell: argv goes to the kernel
 * as is, so nothing in it is ever interpolated. Used by the lab and by the
 * nfqueue driver's rule managers (iptables, nft, conntrack).
 */

import { spawn, type ChildProcess } from 'node:child_process';

/** What a finished command returned. `code` is null when a signal ended it. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RunCommandOptions {
  /** Kill the command (SIGKILL) and reject after this long. Default 30 s. */
  readonly timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. Default: empty stdin. */
  readonly input?: string | Buffer;
  /** Environment of the command; default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Working directory of the command; default: this process's. */
  readonly cwd?: string;
  /** Called with the child as soon as it exists (the lab tracks it for teardown). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/**
 * A command that could not run, timed out, or (from `runOk`) exited
 * non-zero. `errno` names why it could not start (`ENOENT`: no such program).
 */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly result?: CommandResult,
    readonly errno?: string,
  ) {
    super(message);
  }
}

/** Quotes argv for error messages only (it is never run by a shell). */
export function describeArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/**
 * Runs `argv[0]` with `argv.slice(1)` and resolves with its output and exit
 * status, whatever the status. Rejects with {@link CommandError} when it
 * cannot be started or exceeds `timeoutMs` (it is killed first).
 */
export function runCommand(argv: readonly string[], opts: RunCommandOptions = {}): Promise<CommandResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  if (argv.length === 0) return Promise.reject(new CommandError('empty argv', argv));
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env, cwd: opts.cwd });
    opts.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    // A command that exits without reading its stdin makes the write fail with EPIPE; that is not our error.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new CommandError(`cannot run ${describeArgv(argv)}: ${err.message}`, argv, undefined, err.code));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result: CommandResult = { stdout, stderr, code, signal };
      if (timedOut) {
        reject(new CommandError(`timed out after ${timeoutMs} ms: ${describeArgv(argv)}\n${stderr}`, argv, result));
      } else {
        resolve(result);
      }
    });
  });
}

/** Returns `result` when its exit code is 0; otherwise throws a {@link CommandError} quoting stderr. */
export function assertOk(argv: readonly string[], result: CommandResult): CommandResult {
  if (result.code !== 0) {
    const status = result.code === null ? `signal ${result.signal ?? 'none'}` : `exit code ${result.code}`;
    throw new CommandError(`${describeArgv(argv)} failed (${status}): ${result.stderr.trim() || result.stdout.trim()}`, argv, result);
  }
  return result;
}

/** Like {@link runCommand} but rejects, with stderr in the message, unless the exit code is 0. */
export async function runOk(argv: readonly string[], opts: RunCommandOptions = {}): Promise<CommandResult> {
  return assertOk(argv, await runCommand(argv, opts));
}
