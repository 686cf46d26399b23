/**
 * A long-running process inside one lab host (a server, a capture, the
 * product under test), tracked by the lab so teardown always ends it.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';

import type { LabHost } from './lab-names';
import { describeArgv } from '../os/run-command';

/** How a process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Which output a wait looks at. */
export type OutputStream = 'stdout' | 'stderr' | 'both';

/** Waits until `host` listens on `proto`/`port` (the lab's `waitForPort`). */
export type PortWaiter = (proto: 'tcp' | 'udp', port: number, timeoutMs: number) => Promise<void>;

/** Default grace between SIGTERM and SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 2_000;

export class LabProcess {
  /** The process; its pid is the command itself (`ip netns exec` execs it). */
  readonly child: ChildProcess;
  /** Everything written to stdout / stderr so far. */
  stdout = '';
  stderr = '';
  /** Resolves when the process has exited and its output is complete. */
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | undefined;
  private readonly events = new EventEmitter();

  /** Spawns `argv` (already wrapped for its namespace) in its own process group. */
  constructor(
    readonly host: LabHost,
    readonly argv: readonly string[],
    private readonly portWaiter: PortWaiter,
    opts: { readonly env?: NodeJS.ProcessEnv; readonly cwd?: string } = {},
  ) {
    this.events.setMaxListeners(0);
    // A process group of its own, so kill() also reaches the command's children.
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: opts.env, cwd: opts.cwd });
    this.child.stdin!.on('error', () => undefined);
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
      this.events.emit('output');
    });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      this.events.emit('output');
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.stderr += `\n[lab] cannot spawn: ${err.message}`;
        this.finish({ code: null, signal: null }, resolve);
      });
      this.child.once('close', (code, signal) => this.finish({ code, signal }, resolve));
    });
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** The command line, for messages. */
  get description(): string {
    return `[${this.host}] ${describeArgv(this.argv)}`;
  }

  /** Writes to the process's stdin. */
  write(data: string | Buffer): void {
    this.child.stdin!.write(data);
  }

  /**
   * Resolves with the first match of `pattern` in the chosen output (both by
   * default), as soon as it appears. Rejects if the process exits first or
   * nothing matches within `timeoutMs`; the message includes the output.
   */
  waitForOutput(pattern: RegExp, timeoutMs = 10_000, stream: OutputStream = 'both'): Promise<RegExpMatchArray> {
    const matcher = new RegExp(pattern.source, pattern.flags.replace('g', ''));
    const look = (): RegExpMatchArray | null =>
      (stream !== 'stderr' ? matcher.exec(this.stdout) : null) ?? (stream !== 'stdout' ? matcher.exec(this.stderr) : null);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = look();
        if (m) return done(() => resolve(m));
        if (!this.running) return done(() => reject(this.failure(`exited (${this.exitText()}) before printing ${pattern}`)));
      };
      const timer = setTimeout(() => done(() => reject(this.failure(`did not print ${pattern} within ${timeoutMs} ms`))), timeoutMs);
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.events.off('output', check);
        this.events.off('exit', check);
        settle();
      };
      this.events.on('output', check);
      this.events.on('exit', check);
      check();
    });
  }

  /** Resolves once this process's host listens on `proto`/`port`; rejects if the process exits first. */
  async waitForPort(proto: 'tcp' | 'udp', port: number, timeoutMs = 10_000): Promise<void> {
    const exitedEarly = this.exited.then(() => {
      throw this.failure(`exited (${this.exitText()}) before listening on ${proto}/${port}`);
    });
    exitedEarly.catch(() => undefined); // only the race below reports it
    await Promise.race([this.portWaiter(proto, port, timeoutMs), exitedEarly]);
  }

  /** Resolves with the exit status; rejects if the process is still running after `timeoutMs`. */
  async waitForExit(timeoutMs = 10_000): Promise<ProcessExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.failure(`still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Ends the process and its process group: `signal` (SIGTERM by default),
   * then SIGKILL after `graceMs`. Idempotent; resolves with the exit status.
   */
  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = DEFAULT_KILL_GRACE_MS): Promise<ProcessExit> {
    if (!this.running) return this.exited;
    this.signalGroup(signal);
    const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already (the leader may linger as a zombie until 'close').
    }
  }

  private finish(exit: ProcessExit, resolve: (e: ProcessExit) => void): void {
    if (this.exit) return;
    this.exit = exit;
    resolve(exit);
    this.events.emit('exit');
  }

  private exitText(): string {
    if (this.exit === undefined) return 'running';
    return this.exit.code !== null ? `code ${this.exit.code}` : `signal ${this.exit.signal ?? 'none'}`;
  }

  private failure(what: string): Error {
    return new Error(`${this.description} ${what}\n--- stdout ---\n${this.stdout.slice(-4000)}\n--- stderr ---\n${this.stderr.slice(-4000)}`);
  }
}
