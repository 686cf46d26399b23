import type { LogLevel } from '@algd/sdk';
import { MAX_IDLE_TIMEOUT_MS, MIN_IDLE_TIMEOUT_MS, validIdleTimeout, type HostServices, type TaskEnvelope, type TaskOutcome } from '@algd/sdk/runtime';
import { randomInt, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { TransferListItem } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { PLUGIN_TASK_FAILURES, PluginLoadError, PluginTaskError, type PluginTaskFailure } from './plugin-errors';
import { ServiceRouter } from './service-rpc';
import { LOAD_ERROR_NAME, type DescribeResult, type PluginDescription, type PluginWorkerData, type SessionResult, type WorkerTask } from './worker-protocol';

export type { PluginDescription } from './worker-protocol';
export { PluginLoadError, PluginTaskError, type PluginTaskFailure } from './plugin-errors';

export interface PluginPoolOptions {
  /** The plugin module: an absolute path, or a package name resolvable from the host. */
  readonly entry: string;
  /** The plugin's raw options from the configuration; the plugin's own parser checks them in every worker. */
  readonly options?: unknown;
  /** Workers kept running even when idle. Default 1. */
  readonly minThreads?: number;
  /** Most workers at once. Default min(4, available CPUs). */
  readonly maxThreads?: number;
  /** A worker above `minThreads` idle this long ends. Default 60 000 ms. */
  readonly idleTimeoutMs?: number;
  /** Old-generation heap limit of each worker. Default 64 MB. */
  readonly maxOldGenerationSizeMb?: number;
  /** Young-generation heap limit of each worker. Default: Node's. */
  readonly maxYoungGenerationSizeMb?: number;
  /** Time budget of one task from `run()` to its outcome, queueing included. Default 2000 ms. */
  readonly taskTimeoutMs?: number;
  /** Time the first worker has to load the plugin and describe it in `open()`. Default 10 000 ms. */
  readonly loadTimeoutMs?: number;
  /**
   * The compiled worker module. Default: `plugin-worker.js` next to this
   * module when it runs compiled, otherwise (this module run from source, as
   * under ts-jest) the one `npm run build` puts in the repository's
   * `dist/host/plugin-api/worker-pool/`.
   */
  readonly workerFile?: string;
  /** Where the pool reports failures and worker errors. */
  readonly log?: (level: LogLevel, message: string, fields?: Readonly<Record<string, string | number | boolean>>) => void;
}

/** What `algd status` shows of a pool. */
export interface PluginPoolStats {
  /** Tasks handed to `run()`. */
  readonly tasks: number;
  /** Failed tasks by kind. */
  readonly failures: Readonly<Record<PluginTaskFailure, number>>;
  /**
   * Workers that ended abnormally and were replaced: stopped by a task
   * timeout while running a task, out of memory, exited or crashed. Workers
   * ended by the idle timeout or by `close()` are not counted.
   */
  readonly workerRestarts: number;
  /** Workers alive now. */
  readonly threads: number;
  /** Tasks waiting for a free worker. */
  readonly queueSize: number;
}

const DEFAULT_TASK_TIMEOUT_MS = 2_000;
const DEFAULT_LOAD_TIMEOUT_MS = 10_000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_OLD_GENERATION_MB = 64;
const LOG_LEVELS: readonly string[] = ['error', 'warn', 'info', 'debug'];

/**
 * A session task from `run()` to its outcome, in the pool's table of tasks
 * in flight. It is also the abort signal piscina gets for the task: piscina
 * 5.3.2 accepts any object with `aborted`, `reason` and
 * `addEventListener('abort', listener)` / `removeEventListener` (it calls
 * the listener's removal itself when the task settles), so a task costs no
 * AbortController and no timer of its own; the pool's one sweep timer
 * aborts the overdue ones.
 */
class PoolTask {
  aborted = false;
  /** Why the pool aborted it (piscina puts it in its AbortError's `cause`). */
  reason: string | undefined = undefined;
  /** Set when it ran out of time: `running` if a worker was stopped for it, `queued` if it never started. */
  timedOut: 'running' | 'queued' | undefined = undefined;
  /** Its `run()` promise, while it waits in the pool's own queue (not yet handed to piscina). */
  turn: { resolve(outcome: TaskOutcome): void; reject(err: unknown): void } | undefined = undefined;
  /** piscina's abort listener, while piscina holds the task. */
  private listener: (() => void) | undefined = undefined;

  constructor(
    /** Random, unique among the pool's tasks in flight: the task's service calls name it. */
    readonly id: number,
    readonly services: HostServices,
    /** `performance.now()` when its time budget ends. */
    readonly deadline: number,
    readonly job: WorkerTask,
    readonly transferList: TransferListItem[] | undefined,
  ) {}

  addEventListener(_type: 'abort', listener: () => void): void {
    this.listener = listener;
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.listener === listener) this.listener = undefined;
  }

  /**
   * Aborts it in piscina, which stops the worker running it (synchronously)
   * or takes it off its queue. False when piscina no longer holds it (it
   * settled, or it was never handed to piscina).
   */
  abort(reason: string): boolean {
    const listener = this.listener;
    if (listener === undefined) return false;
    this.listener = undefined;
    this.aborted = true;
    this.reason = reason;
    listener();
    return true;
  }
}

/**
 * One plugin's worker threads (a piscina pool). Every worker loads the
 * plugin once; each task carries its session's state in and out
 * ({@link TaskEnvelope} → {@link TaskOutcome}), so any worker can run any
 * task and a worker that dies loses nothing.
 *
 * A task that throws, returns a bad result, runs past `taskTimeoutMs`,
 * exhausts the worker's heap or ends its worker rejects with a
 * {@link PluginTaskError} saying which; the host process is never affected
 * and the pool starts a new worker where one ended.
 */
export class PluginPool {
  private readonly failures: Record<PluginTaskFailure, number> = Object.fromEntries(PLUGIN_TASK_FAILURES.map((k) => [k, 0])) as Record<PluginTaskFailure, number>;
  private tasks = 0;
  private restarts = 0;
  private destroyedWorkers = 0;
  private closing: Promise<void> | undefined;
  /**
   * Session tasks from `run()` to their outcome, by id. Every task gets the
   * same budget, so insertion order is deadline order: the first entry is
   * always the next to expire.
   */
  private readonly inFlight = new Map<number, PoolTask>();
  /** Tasks waiting for the pool to hand them to piscina, oldest first. */
  private readonly waiting: PoolTask[] = [];
  /** Session tasks handed to piscina and not settled. */
  private handedOver = 0;
  /** The one timer of the pool: armed at the earliest deadline while tasks are in flight. */
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly router: ServiceRouter;

  private constructor(
    private readonly piscina: Piscina<WorkerTask, DescribeResult | SessionResult>,
    private readonly entry: string,
    private readonly taskTimeoutMs: number,
    private readonly maxThreads: number,
    servicesChannel: string,
    private readonly log: NonNullable<PluginPoolOptions['log']>,
    private name: string,
    private desc: PluginDescription | undefined,
  ) {
    // Without an 'error' listener piscina's error events (a worker failing
    // outside a task) would be thrown in the host.
    piscina.on('error', (err: unknown) => this.onPoolError(err));
    piscina.on('workerDestroy', () => this.destroyedWorkers++);
    // A new worker is ready: piscina gives it what it holds, then the pool's own queue may move.
    piscina.on('workerCreate', () => {
      if (this.waiting.length > 0) queueMicrotask(() => this.pump());
    });
    // Only a task that has been handed to a worker can call; its services stop with it.
    this.router = new ServiceRouter(
      servicesChannel,
      (id) => {
        const task = this.inFlight.get(id);
        return task === undefined || task.turn !== undefined ? undefined : task.services;
      },
      (id, method) => this.log('debug', `plugin ${this.name}: refused a service call (${String(method)}) from a task no longer running`, { plugin: this.name, task: id }),
    );
  }

  /**
   * Starts the pool and loads the plugin in its first worker. Rejects with
   * {@link PluginLoadError} when the plugin cannot be used (module not
   * found, not a plugin definition, definition invalid, incompatible
   * apiVersion, options invalid, or its worker failed while loading it);
   * the pool is destroyed then.
   */
  static async open(opts: PluginPoolOptions): Promise<PluginPool> {
    const workerFile = opts.workerFile ?? defaultWorkerFile();
    const maxThreads = opts.maxThreads ?? Math.min(4, availableParallelism());
    const minThreads = opts.minThreads ?? Math.min(1, maxThreads);
    if (!Number.isInteger(maxThreads) || maxThreads < 1) throw new RangeError(`maxThreads must be a positive integer, not ${maxThreads}`);
    if (!Number.isInteger(minThreads) || minThreads < 0 || minThreads > maxThreads) throw new RangeError(`minThreads must be an integer from 0 to maxThreads (${maxThreads}), not ${minThreads}`);
    const taskTimeoutMs = opts.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
    if (!(taskTimeoutMs > 0)) throw new RangeError(`taskTimeoutMs must be positive, not ${taskTimeoutMs}`);
    if (!existsSync(workerFile)) throw new PluginLoadError(opts.entry, `the plugin worker module ${workerFile} does not exist (is the host built?)`);

    // Unguessable, so no other pool's worker can join this pool's service calls.
    const servicesChannel = `algd-plugin-services:${randomUUID()}`;
    const workerData: PluginWorkerData = { entry: opts.entry, options: opts.options, servicesChannel };
    const piscina = new Piscina<WorkerTask, DescribeResult | SessionResult>({
      filename: workerFile,
      minThreads,
      maxThreads,
      // Not piscina's default 'sync': a worker then blocks in Atomics.wait()
      // between tasks, its event loop never turns, and what a task leaves to
      // the loop is never freed (with the former per-task MessagePort, a
      // worker ran out of a 32 MB heap every ~20 000 tasks). 'disabled' and
      // 'async' both let the loop turn (flat heap over 100 000 tasks);
      // 'disabled' (tasks arrive as plain port messages) measured a little
      // cheaper than 'async' (Atomics.waitAsync): 62-64 vs 66-67 µs median
      // per task from run() to outcome, 75-77 vs 78-80 µs of host CPU.
      atomics: 'disabled',
      idleTimeout: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      resourceLimits: {
        maxOldGenerationSizeMb: opts.maxOldGenerationSizeMb ?? DEFAULT_MAX_OLD_GENERATION_MB,
        ...(opts.maxYoungGenerationSizeMb === undefined ? {} : { maxYoungGenerationSizeMb: opts.maxYoungGenerationSizeMb }),
      },
      workerData,
      recordTiming: false,
    });
    // The constructor attaches the 'error' listener before any worker event can be delivered.
    const pool = new PluginPool(piscina, opts.entry, taskTimeoutMs, maxThreads, servicesChannel, opts.log ?? (() => {}), opts.entry, undefined);
    try {
      const description = await pool.describe(opts.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS);
      pool.name = description.name;
      pool.desc = description;
      return pool;
    } catch (err) {
      await pool.close();
      throw err;
    }
  }

  /** What the plugin declares. */
  get description(): PluginDescription {
    return this.desc!;
  }

  get stats(): PluginPoolStats {
    return {
      tasks: this.tasks,
      failures: { ...this.failures },
      workerRestarts: this.restarts,
      threads: this.piscina.threads.length,
      queueSize: this.waiting.length + this.piscina.queueSize,
    };
  }

  /**
   * Runs one task in a worker. The message bytes are copied once into a
   * buffer that moves to the worker, so the caller's bytes stay usable;
   * the outcome's bytes move back without a copy. The plugin's service
   * calls reach `services` while the task is in flight (over the pool's
   * service channel, see `service-rpc.ts`); a service that throws makes the
   * plugin's call reject with its message.
   *
   * Rejects with a {@link PluginTaskError} whose `kind` says how the task
   * failed. The time budget runs from this call, so a task that waited for
   * a busy pool may time out without having run (its message says so; no
   * worker is stopped then).
   */
  run(envelope: TaskEnvelope, services: HostServices): Promise<TaskOutcome> {
    if (this.closing !== undefined) return Promise.reject(this.fail('closed', `plugin ${this.name}: the pool is closed`));
    try {
      return this.submit(envelope, services);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A random task id, unique among the tasks in flight: the workers of a
   * pool share one service channel, so a plugin that could guess another
   * session's task id could call services on that session's behalf.
   */
  private newTaskId(): number {
    for (;;) {
      const id = randomInt(1, 2 ** 47);
      if (!this.inFlight.has(id)) return id;
    }
  }

  private submit(envelope: TaskEnvelope, services: HostServices): Promise<TaskOutcome> {
    this.tasks++;
    let job: WorkerTask;
    let transferList: TransferListItem[] | undefined;
    const id = this.newTaskId();
    if (envelope.task.kind === 'message') {
      // A copy of exactly the message: cloning the view would copy its whole backing buffer (a socket read is 64 KB).
      const message = new Uint8Array(envelope.task.message.byteLength);
      message.set(envelope.task.message);
      job = { kind: 'session', envelope: { ...envelope, task: { ...envelope.task, message } }, id };
      transferList = [message.buffer];
    } else {
      job = { kind: 'session', envelope, id };
    }
    const now = performance.now();
    const task = new PoolTask(id, services, now + this.taskTimeoutMs, job, transferList);
    this.inFlight.set(id, task);
    this.armSweep(task.deadline, now);
    if (this.waiting.length === 0 && this.canHandOver()) return this.handOver(task);
    return new Promise<TaskOutcome>((resolve, reject) => {
      task.turn = { resolve, reject };
      this.waiting.push(task);
    });
  }

  /** Destroys the pool: its workers stop, pending and queued tasks reject (kind `closed`). Idempotent. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closing = this.piscina.destroy().finally(() => this.router.close());
      for (const task of this.waiting.splice(0)) {
        this.inFlight.delete(task.id);
        const turn = task.turn!;
        task.turn = undefined;
        turn.reject(this.fail('closed', `plugin ${this.name}: the pool was closed before the task finished`));
      }
      if (this.sweepTimer !== undefined) clearTimeout(this.sweepTimer);
      this.sweepTimer = undefined;
    }
    return this.closing;
  }

  /**
   * Whether piscina can take one more task now. piscina 5.3.2 keeps tasks
   * that have an abort signal in a queue where a task that cannot be
   * dispatched goes back behind the tasks arriving meanwhile: under
   * sustained load a task could wait there until its budget ran out while
   * younger tasks ran. So the pool keeps its own first-in first-out queue
   * and hands piscina a task only while piscina has nothing queued (or
   * only what workers it is starting will take).
   */
  private canHandOver(): boolean {
    return this.handedOver < this.maxThreads && this.piscina.queueSize === 0;
  }

  /** Hands waiting tasks to piscina, oldest first, while it can take them. */
  private pump(): void {
    while (this.waiting.length > 0 && this.canHandOver()) {
      const task = this.waiting.shift()!;
      const turn = task.turn!;
      task.turn = undefined;
      this.handOver(task).then(turn.resolve, turn.reject);
    }
  }

  /** Gives the task to piscina (synchronously, before the first await) and makes its outcome. */
  private async handOver(task: PoolTask): Promise<TaskOutcome> {
    this.handedOver++;
    try {
      let result: DescribeResult | SessionResult;
      try {
        result = await this.piscina.run(task.job, { signal: task, transferList: task.transferList });
      } catch (err) {
        throw this.rejected(err, task.timedOut);
      }
      return this.outcomeOf(result);
    } finally {
      this.handedOver--;
      this.inFlight.delete(task.id);
      if (this.waiting.length > 0) this.pump();
    }
  }

  private armSweep(deadline: number, now: number): void {
    if (this.sweepTimer !== undefined || this.closing !== undefined) return;
    // Unref'ed: a task in flight keeps the process alive through its worker, not through this timer.
    this.sweepTimer = setTimeout(this.sweep, Math.max(1, Math.ceil(deadline - now))).unref();
  }

  /** Times out the overdue tasks (the oldest first), then re-arms for the next deadline. */
  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    const now = performance.now();
    for (const task of this.inFlight.values()) {
      if (task.deadline > now) {
        this.armSweep(task.deadline, now);
        return;
      }
      this.timeOut(task);
    }
  };

  private timeOut(task: PoolTask): void {
    // From here on no service call reaches the task's services.
    this.inFlight.delete(task.id);
    const turn = task.turn;
    if (turn !== undefined) {
      // Still in the pool's own queue.
      task.turn = undefined;
      task.timedOut = 'queued';
      this.waiting.splice(this.waiting.indexOf(task), 1);
      turn.reject(this.fail('timeout', queuedTimeoutMessage(this.name, this.taskTimeoutMs)));
      return;
    }
    // piscina stops a running task's worker synchronously inside the abort.
    const before = this.destroyedWorkers;
    if (!task.abort(`the task did not finish within ${this.taskTimeoutMs} ms`)) return; // it settled: its outcome stands
    task.timedOut = this.destroyedWorkers > before ? 'running' : 'queued';
    if (task.timedOut === 'running') this.restarts++;
  }

  private async describe(timeoutMs: number): Promise<PluginDescription> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    let result: DescribeResult | SessionResult;
    try {
      result = await this.piscina.run({ kind: 'describe' }, { signal: abort.signal });
    } catch (err) {
      if (abort.signal.aborted) throw new PluginLoadError(this.entry, `the plugin did not load within ${timeoutMs} ms`);
      if (codeOf(err) === 'ERR_WORKER_OUT_OF_MEMORY') throw new PluginLoadError(this.entry, `its worker ran out of memory while loading it (${messageOf(err)})`);
      throw new PluginLoadError(this.entry, `its worker ended while loading it (${messageOf(err)})`);
    } finally {
      clearTimeout(timer);
    }
    if (!isObject(result) || typeof result.ok !== 'boolean') throw new PluginLoadError(this.entry, 'the worker gave no description of the plugin');
    if (!result.ok) throw new PluginLoadError(this.entry, result.error.message);
    if (!('description' in result) || !isObject(result.description)) throw new PluginLoadError(this.entry, 'the worker gave no description of the plugin');
    return result.description;
  }

  /** The error for a piscina rejection: the worker ended, was stopped, or the pool closed. */
  private rejected(err: unknown, timedOut: 'running' | 'queued' | undefined): PluginTaskError {
    if (timedOut === 'running') return this.fail('timeout', `plugin ${this.name}: the task did not finish within ${this.taskTimeoutMs} ms; its worker was stopped`, err);
    if (timedOut === 'queued') return this.fail('timeout', queuedTimeoutMessage(this.name, this.taskTimeoutMs), err);
    if (this.closing !== undefined) return this.fail('closed', `plugin ${this.name}: the pool was closed before the task finished`, err);
    if (codeOf(err) === 'ERR_WORKER_OUT_OF_MEMORY') {
      this.restarts++;
      return this.fail('out-of-memory', `plugin ${this.name}: its worker ran out of memory during the task and was replaced (${messageOf(err)})`, err);
    }
    if (nameOf(err) === 'DataCloneError') {
      // The worker could not send its answer (state that is not plain data) and died of it.
      this.restarts++;
      return this.fail('bad-result', `plugin ${this.name}: the task's outcome cannot be sent to the host (session state and log fields must be structured-cloneable plain data): ${messageOf(err)}`, err);
    }
    this.restarts++;
    return this.fail('worker-exited', `plugin ${this.name}: its worker ended during the task and was replaced (${messageOf(err)})`, err);
  }

  /** The outcome of a worker's answer, or the failure it reports. */
  private outcomeOf(result: DescribeResult | SessionResult): TaskOutcome {
    if (!isObject(result) || typeof result.ok !== 'boolean') throw this.fail('bad-result', `plugin ${this.name}: the worker's answer is not a task result`);
    if (!result.ok) {
      const { name, message } = result.error;
      if (name === 'HandlerResultError') return this.throwing('bad-result', `plugin ${this.name}: bad handler result: ${message}`);
      if (name === LOAD_ERROR_NAME) return this.throwing('threw', `plugin ${this.name}: a new worker could not load the plugin: ${message}`);
      return this.throwing('threw', `plugin ${this.name}: the handler threw ${name}: ${message}`);
    }
    const outcome = (result as { outcome?: unknown }).outcome;
    const problem = outcomeProblem(outcome);
    if (problem !== undefined) return this.throwing('bad-result', `plugin ${this.name}: bad task outcome: ${problem}`);
    return outcome as TaskOutcome;
  }

  private throwing(kind: PluginTaskFailure, message: string): never {
    throw this.fail(kind, message);
  }

  private fail(kind: PluginTaskFailure, message: string, cause?: unknown): PluginTaskError {
    this.failures[kind]++;
    if (kind !== 'closed') this.log('warn', message, { plugin: this.name, failure: kind });
    return new PluginTaskError(kind, this.name, message, cause === undefined ? undefined : { cause });
  }

  private onPoolError(err: unknown): void {
    // A worker failed outside any task (piscina has removed it), or piscina reports something of its own.
    const message = messageOf(err);
    if (!message.startsWith('Unexpected message from Worker') && message !== 'Close operation timed out') this.restarts++;
    this.log('error', `plugin ${this.name}: worker error outside a task: ${message}`, { plugin: this.name });
  }
}

function queuedTimeoutMessage(plugin: string, taskTimeoutMs: number): string {
  return `plugin ${plugin}: the task did not start within ${taskTimeoutMs} ms (every worker was busy)`;
}

function defaultWorkerFile(): string {
  const beside = join(__dirname, 'plugin-worker.js');
  if (existsSync(beside)) return beside;
  // This module runs from source (ts-jest): the worker compiled by `npm run build`.
  return resolve(__dirname, '../../../dist/host/plugin-api/worker-pool/plugin-worker.js');
}

/** Why `x` is not a well-formed {@link TaskOutcome}; undefined when it is. */
function outcomeProblem(x: unknown): string | undefined {
  if (!isObject(x)) return 'not an object';
  if (!('state' in x)) return 'no state';
  if (x.forward !== null && !(x.forward instanceof Uint8Array)) return 'forward is neither bytes nor null';
  if (x.respond !== null && !(x.respond instanceof Uint8Array)) return 'respond is neither bytes nor null';
  if (typeof x.close !== 'boolean') return 'close is not a boolean';
  if (typeof x.release !== 'boolean') return 'release is not a boolean';
  if (x.idleTimeoutMs !== undefined && x.idleTimeoutMs !== null && !validIdleTimeout(x.idleTimeoutMs)) return `idleTimeoutMs ${JSON.stringify(x.idleTimeoutMs)} is not a whole number of ms from ${MIN_IDLE_TIMEOUT_MS} to ${MAX_IDLE_TIMEOUT_MS}`;
  if (!isObject(x.counters)) return 'counters is not an object';
  for (const [name, value] of Object.entries(x.counters)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return `counter ${JSON.stringify(name)} was increased by ${JSON.stringify(value)}, not a finite number`;
  }
  if (!Array.isArray(x.logs)) return 'logs is not a list';
  for (const l of x.logs as unknown[]) {
    if (!isObject(l) || !LOG_LEVELS.includes(l.level as string) || typeof l.message !== 'string' || (l.fields !== undefined && !isObject(l.fields))) return 'a log record is malformed';
  }
  return undefined;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

function codeOf(err: unknown): unknown {
  return isObject(err) ? err.code : undefined;
}

function nameOf(err: unknown): unknown {
  return isObject(err) ? err.name : undefined;
}

function messageOf(err: unknown): string {
  if (isObject(err) && typeof err.message === 'string') return err.message;
  try {
    return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    return Object.prototype.toString.call(err);
  }
}
