/**
 * The `nft` command as algd's nftables tables use it: a script is one
 * transaction (`nft -f -`: all of it applies or none), run in a network
 * namespace when asked; `serial` runs changes one at a time in the order
 * asked, so a removal never overtakes its add.
 */

import { processRunner, type CommandRunner } from './command-runner';

export interface NftCommandOptions {
  /** Run inside this network namespace (`ip netns exec`); default: the current one. */
  readonly netns?: string;
  readonly run?: CommandRunner;
}

export class NftCommands {
  private readonly run: CommandRunner;
  private readonly prefix: readonly string[];
  private queue: Promise<unknown> = Promise.resolve();

  /** `fail` makes the error of a command that exited non-zero (each table has its own error class). */
  constructor(
    opts: NftCommandOptions,
    private readonly fail: (message: string) => Error,
  ) {
    this.run = opts.run ?? processRunner(10_000);
    this.prefix = opts.netns === undefined ? [] : ['ip', 'netns', 'exec', opts.netns];
  }

  /** Applies `commands` as one transaction. */
  async script(commands: string): Promise<void> {
    await this.command(['-f', '-'], commands);
  }

  /** Runs `nft ARGS` and resolves with its output. */
  async command(args: readonly string[], input?: string): Promise<string> {
    const argv = [...this.prefix, 'nft', ...args];
    const out = await this.run(argv, input);
    if (out.code !== 0) throw this.fail(`\`${argv.join(' ')}\` exited with ${out.code}: ${out.stderr.trim()}`);
    return out.stdout;
  }

  /** Runs `task` after every task handed in before it has settled. */
  serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task, task);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
