/**
 * The end-to-end test lab: a client, a NAT gateway and a server, each in
 * its own network namespace (see topology.ts for the network, addresses.ts
 * for the addresses). A lab runs commands and long-lived processes in its
 * hosts, captures packets, and tears everything down again, even after a
 * failed create or a crashed test run.
 *
 * ```ts
 * const lab = await Lab.create();
 * try {
 *   const server = lab.spawn('server', ['python3', '-u', '-c', script]);
 *   await server.waitForPort('tcp', 8080);
 *   const r = await lab.execOk('client', ['python3', '-c', client]);
 * } finally {
 *   await lab.destroy();
 * }
 * ```
 *
 * Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), iproute2, nftables, ethtool,
 * tcpdump and procps; see require-lab.ts for skipping without them.
 * Set ALGD_LAB_KEEP=1 to keep the work directory (pcap files) after
 * teardown, for debugging.
 */

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Capture, tcpdumpArgv, type CaptureOptions } from './capture';
import { labNamespaceOwner, newLabNames, type LabHost, type LabNamespaces } from './lab-names';
import { LabProcess } from './lab-process';
import { LabReaper } from './lab-reaper';
import { deleteNetns, isProcessAlive, listNetns } from './netns';
import { assertOk, runCommand, runOk, type CommandResult } from '../os/run-command';
import { buildTopology, resolveLabOptions, type LabOptions, type ResolvedLabOptions } from './topology';

export type { LabHost, LabNamespaces } from './lab-names';
export type { LabOptions, ResolvedLabOptions } from './topology';

export interface ExecOptions {
  /** Kill the command and reject after this long; default 30 s. */
  readonly timeoutMs?: number;
  /** Written to stdin, which is then closed. */
  readonly input?: string | Buffer;
  /** Environment; default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface SpawnOptions {
  /** Environment; default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Working directory; default: this process's. */
  readonly cwd?: string;
}

const PORT_POLL_MS = 50;

export class Lab {
  /** `algd-<pid>-<rand4>[-<name>]`, the prefix of every namespace of this lab. */
  readonly id: string;
  /** The namespace of each host (client2 only with `secondClient`). */
  readonly namespaces: LabNamespaces;
  readonly options: ResolvedLabOptions;
  /** A private directory for this lab's files (captures); removed on teardown unless ALGD_LAB_KEEP=1. */
  readonly workDir: string;

  private readonly processes = new Set<LabProcess>();
  private readonly commands = new Set<ChildProcess>();
  private readonly reaper: LabReaper;
  private teardown: Promise<void> | undefined;
  private captureCount = 0;

  private constructor(options: ResolvedLabOptions) {
    this.options = options;
    const names = newLabNames(process.pid, options.name, options.secondClient);
    this.id = names.id;
    this.namespaces = names.namespaces;
    this.workDir = mkdtempSync(join(tmpdir(), `${this.id}-`));
    const keep = process.env['ALGD_LAB_KEEP'] === '1';
    // Armed before the first namespace exists: whatever happens next, it goes.
    this.reaper = LabReaper.start(Object.values(this.namespaces), keep ? undefined : this.workDir);
  }

  /**
   * Builds a lab (after sweeping stale labs of dead processes). If building
   * fails, whatever was made is removed before the error is rethrown.
   */
  static async create(opts: LabOptions = {}): Promise<Lab> {
    const options = resolveLabOptions(opts);
    await Lab.sweepStale();
    const lab = new Lab(options);
    try {
      await buildTopology(lab.namespaces, options);
    } catch (err) {
      const cleanup = await lab.destroy().then(
        () => undefined,
        (cleanupErr: unknown) => cleanupErr,
      );
      if (cleanup !== undefined) throw new AggregateError([err, cleanup], `creating the lab failed: ${String(err)}; cleaning up failed too: ${String(cleanup)}`);
      throw err;
    }
    return lab;
  }

  /**
   * Deletes the namespaces of labs whose owning process is gone (crashed
   * runs), after killing the processes left inside them. Touches only names
   * of exactly the lab's pattern (`algd-<pid>-<rand4>[-label]-cli|gw|srv|cl2`)
   * whose pid does not exist. Resolves with the names it deleted.
   */
  static async sweepStale(): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await listNetns()) {
      const owner = labNamespaceOwner(name);
      if (owner === undefined || isProcessAlive(owner)) continue;
      await deleteNetns(name);
      removed.push(name);
    }
    return removed;
  }

  /** The namespace name of `host`; throws for client2 in a lab built without `secondClient`. */
  netns(host: LabHost): string {
    const ns = this.namespaces[host];
    if (ns === undefined) throw new Error(`lab ${this.id} has no ${host} (LabOptions.secondClient)`);
    return ns;
  }

  /** True once destroy() has been called. */
  get destroyed(): boolean {
    return this.teardown !== undefined;
  }

  /** `argv` wrapped to run inside `host` (`ip netns exec NS ...`). */
  argvIn(host: LabHost, argv: readonly string[]): string[] {
    if (argv.length === 0) throw new Error('empty argv');
    return ['ip', 'netns', 'exec', this.netns(host), ...argv];
  }

  /**
   * Runs `argv` in `host` to completion (no shell) and resolves with its
   * output and exit code, whatever the code. Rejects when it cannot start
   * or runs longer than `timeoutMs` (default 30 s; it is killed first).
   */
  exec(host: LabHost, argv: readonly string[], opts: ExecOptions = {}): Promise<CommandResult> {
    this.assertAlive();
    return runCommand(this.argvIn(host, argv), {
      ...opts,
      onSpawn: (child) => {
        this.commands.add(child);
        child.once('close', () => this.commands.delete(child));
      },
    });
  }

  /** Like {@link exec}, but rejects with stderr in the message unless the exit code is 0. */
  async execOk(host: LabHost, argv: readonly string[], opts: ExecOptions = {}): Promise<CommandResult> {
    return assertOk(this.argvIn(host, argv), await this.exec(host, argv, opts));
  }

  /** Starts a long-running `argv` in `host`; teardown kills it (SIGTERM, then SIGKILL). */
  spawn(host: LabHost, argv: readonly string[], opts: SpawnOptions = {}): LabProcess {
    this.assertAlive();
    const proc = new LabProcess(host, this.argvIn(host, argv), (proto, port, timeoutMs) => this.waitForPort(host, proto, port, timeoutMs), opts);
    this.processes.add(proc);
    void proc.exited.then(() => this.processes.delete(proc));
    return proc;
  }

  /** True when something in `host` listens on `proto`/`port` (any address). */
  async isListening(host: LabHost, proto: 'tcp' | 'udp', port: number): Promise<boolean> {
    const flags = proto === 'tcp' ? '-Hltn' : '-Hlun';
    const r = await runOk(this.argvIn(host, ['ss', flags, 'sport', '=', `:${port}`]), { timeoutMs: 10_000 });
    return r.stdout.trim() !== '';
  }

  /** Resolves once something in `host` listens on `proto`/`port`; polls `ss`, rejects after `timeoutMs`. */
  async waitForPort(host: LabHost, proto: 'tcp' | 'udp', port: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.isListening(host, proto, port))) {
      if (Date.now() > deadline) throw new Error(`nothing listens on ${proto}/${port} in ${host} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, PORT_POLL_MS));
    }
  }

  /**
   * Starts capturing on `iface` of `host` (pcap-filter expression `filter`,
   * '' for everything) and resolves once tcpdump is capturing. `stop()` on
   * the result flushes the file and returns its path.
   */
  async capture(host: LabHost, iface: string, filter: string, opts: CaptureOptions = {}): Promise<Capture> {
    const file = join(this.workDir, `${host}-${iface}-${++this.captureCount}.pcap`);
    const capture = new Capture(this.spawn(host, tcpdumpArgv(iface, file, filter, opts.snapLen)), file);
    try {
      return await capture.started(opts.startTimeoutMs);
    } catch (err) {
      await capture.tcpdump.kill();
      throw err;
    }
  }

  /**
   * Kills every process of the lab (tracked ones first, then anything else
   * inside its namespaces, daemons included), deletes the namespaces (which
   * removes the veths) and the work directory, and checks that no namespace
   * of this lab is left. Idempotent: later calls return the same promise.
   */
  destroy(): Promise<void> {
    this.teardown ??= this.tearDown();
    return this.teardown;
  }

  private async tearDown(): Promise<void> {
    const errors: unknown[] = [];
    await Promise.all([...this.processes].map((p) => p.kill().catch((e: unknown) => errors.push(e))));
    for (const child of this.commands) child.kill('SIGKILL');
    const ours = new Set(Object.values(this.namespaces));
    try {
      for (const ns of (await listNetns()).filter((n) => ours.has(n))) {
        await deleteNetns(ns).catch((e: unknown) => errors.push(e));
      }
      const left = (await listNetns()).filter((n) => ours.has(n));
      if (left.length > 0) errors.push(new Error(`namespaces still present: ${left.join(', ')}`));
    } catch (err) {
      errors.push(err);
    }
    if (process.env['ALGD_LAB_KEEP'] !== '1') rmSync(this.workDir, { recursive: true, force: true });
    if (errors.length > 0) {
      // The watchdog stays armed and retries when this process exits.
      throw new AggregateError(errors, `tearing down lab ${this.id} failed: ${errors.map(String).join('; ')}`);
    }
    this.reaper.release();
  }

  private assertAlive(): void {
    if (this.teardown) throw new Error(`lab ${this.id} has been destroyed`);
  }
}
