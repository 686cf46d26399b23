import { HOST_SERVICE_NAMES, type HostServiceName, type HostServices } from '@algd/sdk/runtime';
import { BroadcastChannel } from 'node:worker_threads';

/**
 * The service calls of session tasks ({@link HostServices}) between a
 * pool's workers and the host, over one `BroadcastChannel` per pool (its
 * name is unique to the pool instance and unguessable, so only the pool's
 * own workers and the pool itself are on it).
 *
 * Nothing is created per task: a task that makes no service call costs no
 * channel, port, listener or message. Each session task carries a task id,
 * random and unique among its pool's tasks in flight, so a plugin cannot
 * guess another session's. A worker calls with
 * {@link ServiceClient.forTask}: `{ task, call, method, args }`, `call`
 * unique in that worker; the host ({@link ServiceRouter}) runs it with the
 * `services` of that task while the task is in flight and answers
 * `{ task, call, ok: true, value }` or `{ task, call, ok: false, error }`
 * (the message of what the service threw). Every member of the channel
 * sees every message: workers ignore calls and the replies that are not
 * theirs, the host ignores replies.
 *
 * A call naming a task that is not in flight (it ended, timed out, or never
 * existed) reaches no services: it is answered with an error. So a late
 * call from a task that already ended can never reach the services of
 * another task. An answer that becomes ready after its task ended is
 * dropped.
 */

export interface ServiceCall {
  /** The session task's id (`WorkerTask.id`). */
  readonly task: number;
  /** The call's id, unique in the calling worker. */
  readonly call: number;
  readonly method: HostServiceName;
  readonly args: readonly unknown[];
}

export type ServiceReply =
  | { readonly task: number; readonly call: number; readonly ok: true; readonly value: unknown }
  | { readonly task: number; readonly call: number; readonly ok: false; readonly error: string };

/** Worker side: {@link HostServices} of one task. */
export interface RpcServices extends HostServices {
  /** The task ended: its calls still waiting reject, later calls reject at once. */
  close(): void;
}

interface PendingCall {
  readonly task: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * Worker side: the pool's channel as one worker sees it. The channel is
 * opened at the first service call the worker makes (a worker whose tasks
 * make none never opens it) and stays open, unref'ed, for the worker's life.
 */
export class ServiceClient {
  private channel: BroadcastChannel | undefined;
  private readonly pending = new Map<number, PendingCall>();
  private nextCall = 1;

  constructor(private readonly channelName: string) {}

  /** The services of task `task`, until {@link RpcServices.close}. */
  forTask(task: number): RpcServices {
    return new TaskServices(this, task);
  }

  /** @internal */
  call(task: number, method: HostServiceName, args: unknown[]): Promise<any> {
    const channel = this.open();
    const call = this.nextCall++;
    return new Promise((resolve, reject) => {
      this.pending.set(call, { task, resolve, reject });
      try {
        channel.postMessage({ task, call, method, args } satisfies ServiceCall);
      } catch (err) {
        // Arguments that cannot be cloned (a function, a socket...).
        this.pending.delete(call);
        reject(new Error(`host service ${method}: arguments cannot be sent to the host: ${(err as Error).message}`));
      }
    });
  }

  /** Closes the worker's end of the channel; calls still waiting reject. */
  close(): void {
    const channel = this.channel;
    this.channel = undefined;
    channel?.close();
    for (const p of this.pending.values()) p.reject(new Error('the service channel closed'));
    this.pending.clear();
  }

  /** @internal Rejects the calls of `task` still waiting. */
  endTask(task: number): void {
    if (this.pending.size === 0) return;
    for (const [call, p] of this.pending) {
      if (p.task !== task) continue;
      this.pending.delete(call);
      p.reject(new Error('the task ended'));
    }
  }

  private open(): BroadcastChannel {
    if (this.channel !== undefined) return this.channel;
    const channel = new BroadcastChannel(this.channelName);
    channel.onmessage = (event) => this.onMessage((event as MessageEvent).data);
    // The worker's life is piscina's business, not this channel's.
    channel.unref();
    this.channel = channel;
    return channel;
  }

  private onMessage(reply: unknown): void {
    if (!isObject(reply) || typeof reply.ok !== 'boolean' || typeof reply.call !== 'number') return;
    const p = this.pending.get(reply.call);
    // Another worker's call with the same call id: its task id differs (task ids are unique among the tasks in flight).
    if (p === undefined || p.task !== reply.task) return;
    this.pending.delete(reply.call);
    if (reply.ok) p.resolve(reply.value);
    else p.reject(new Error(typeof reply.error === 'string' ? reply.error : 'host service failed'));
  }
}

/** One task's services: one small object, its methods on the prototype. */
class TaskServices implements RpcServices {
  private closed = false;

  constructor(
    private readonly client: ServiceClient,
    private readonly task: number,
  ) {}

  createDataChannel(...args: Parameters<HostServices['createDataChannel']>): ReturnType<HostServices['createDataChannel']> {
    return this.call('createDataChannel', args);
  }
  removeDataChannel(...args: Parameters<HostServices['removeDataChannel']>): ReturnType<HostServices['removeDataChannel']> {
    return this.call('removeDataChannel', args);
  }
  renewDataChannel(...args: Parameters<HostServices['renewDataChannel']>): ReturnType<HostServices['renewDataChannel']> {
    return this.call('renewDataChannel', args);
  }
  reservePorts(...args: Parameters<HostServices['reservePorts']>): ReturnType<HostServices['reservePorts']> {
    return this.call('reservePorts', args);
  }
  releasePorts(...args: Parameters<HostServices['releasePorts']>): ReturnType<HostServices['releasePorts']> {
    return this.call('releasePorts', args);
  }
  bestSourceAddress(...args: Parameters<HostServices['bestSourceAddress']>): ReturnType<HostServices['bestSourceAddress']> {
    return this.call('bestSourceAddress', args);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.endTask(this.task);
  }

  private call(method: HostServiceName, args: unknown[]): Promise<any> {
    if (this.closed) return Promise.reject(new Error(`host service ${method} called after the task ended`));
    return this.client.call(this.task, method, args);
  }
}

/**
 * Host side: answers the calls on a pool's channel with the services of the
 * task each names. `servicesOf(task)` gives the services of a task in
 * flight, `undefined` for any other id; `onRefused` hears of each call
 * that named no task in flight. The channel is unref'ed: it never keeps the
 * process alive. {@link close} it with the pool.
 */
export class ServiceRouter {
  private readonly channel: BroadcastChannel;
  private closed = false;

  constructor(
    readonly channelName: string,
    private readonly servicesOf: (task: number) => HostServices | undefined,
    private readonly onRefused: (task: number, method: unknown) => void = () => {},
  ) {
    this.channel = new BroadcastChannel(channelName);
    this.channel.onmessage = (event) => this.onMessage((event as MessageEvent).data);
    this.channel.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel.close();
  }

  private onMessage(call: unknown): void {
    // Replies (the host's own, seen by nobody but workers) and anything malformed are not calls.
    if (!isObject(call) || typeof call.task !== 'number' || typeof call.call !== 'number' || 'ok' in call) return;
    void this.answer(call as unknown as ServiceCall);
  }

  private async answer(call: ServiceCall): Promise<void> {
    const { task, call: id } = call;
    const services = this.servicesOf(task);
    let reply: ServiceReply;
    try {
      const method = call.method;
      if (!(HOST_SERVICE_NAMES as readonly unknown[]).includes(method)) throw new Error(`no host service named ${JSON.stringify(method)}`);
      if (services === undefined) {
        this.onRefused(task, method);
        throw new Error(`host service ${method}: the task is not running (it ended or timed out)`);
      }
      if (!Array.isArray(call.args)) throw new Error(`host service ${method}: arguments must be a list`);
      const fn = services[method] as (...args: unknown[]) => Promise<unknown>;
      reply = { task, call: id, ok: true, value: await fn.apply(services, call.args) };
    } catch (err) {
      reply = { task, call: id, ok: false, error: err instanceof Error ? err.message : `host service failed: ${String(err)}` };
    }
    // The task ended while its service ran: nobody waits for the answer.
    if (services !== undefined && this.servicesOf(task) !== services) return;
    this.post(reply);
  }

  private post(reply: ServiceReply): void {
    if (this.closed) return;
    try {
      this.channel.postMessage(reply);
    } catch (err) {
      if (!reply.ok) return;
      // A value that cannot be cloned: the plugin's call rejects with why.
      try {
        this.channel.postMessage({ task: reply.task, call: reply.call, ok: false, error: `host service answer cannot be sent to the plugin: ${(err as Error).message}` } satisfies ServiceReply);
      } catch {
        // The channel is gone: the pool closed.
      }
    }
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}
