/**
 * Runs the administration commands the driver needs (iptables, nft,
 * conntrack) without a shell, bounded in time. Shared by the rule managers
 * so every one of them can be handed a fake runner in tests.
 */

import { CommandError as RunError, runCommand } from '../../../os/run-command';

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

/** The real runner: host/os's runCommand, killed after `timeoutMs`; a command ended by a signal counts as not run. */
export function processRunner(timeoutMs: number, wrap: (message: string, argv: readonly string[], code?: string) => Error = (m, a, c) => new CommandError(m, a, c)): CommandRunner {
  return async (argv, input) => {
    let result;
    try {
      result = await runCommand(argv, { timeoutMs, ...(input === undefined ? {} : { input }) });
    } catch (err) {
      if (!(err instanceof RunError)) throw err;
      throw wrap(`\`${argv.join(' ')}\` could not run: ${err.message}`, argv, err.errno);
    }
    if (result.code === null) throw wrap(`\`${argv.join(' ')}\` could not run: ended by ${result.signal ?? 'a signal'}`, argv);
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  };
}
