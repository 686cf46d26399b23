/**
 * Runs the administration commands the driver needs (iptables, nft,
 * conntrack) without a shell, bounded in time. Shared by the rule managers
 * so every one of them can be handed a fake runner in tests.
 */

import { execFile } from 'node:child_process';

export interface CommandOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv without a shell (`input`, when given, on stdin); resolves with any exit code, rejects only when it cannot run or times out. */
export type CommandRunner = (argv: readonly string[], input?: string) => Promise<CommandOutcome>;

/** A command could not run at all (missing program, time limit); `code` is the errno name when there was one. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The real runner: execFile, killed after `timeoutMs`. */
export function execFileRunner(timeoutMs: number, wrap: (message: string, argv: readonly string[], code?: string) => Error = (m, a, c) => new CommandError(m, a, c)): CommandRunner {
  return (argv, input) =>
    new Promise((resolve, reject) => {
      const child = execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          const why = err.killed ? `timed out after ${timeoutMs} ms` : err.message;
          reject(wrap(`\`${argv.join(' ')}\` could not run: ${why}`, argv, typeof err.code === 'string' ? err.code : undefined));
          return;
        }
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      });
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input ?? '');
    });
}
