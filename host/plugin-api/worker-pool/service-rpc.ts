import { HOST_SERVICE_NAMES, type HostServiceName, type HostServices } from '@algd/sdk/runtime';
import type { MessagePort } from 'node:worker_threads';

/**
 * A session task's service calls over a `MessagePort`: the worker calls
 * {@link HostServices} with {@link rpcServices}, the host answers them with
 * {@link serveHostServices}. One channel per task; each call is
 * `{ id, method, args }` and its answer `{ id, ok: true, value }` or
 * `{ id, ok: false, error }` (the message of what the host's service threw).
 */

export interface ServiceCall {
  readonly id: number;
  readonly method: HostServiceName;
  readonly args: readonly unknown[];
}

export type ServiceReply = { readonly id: number; readonly ok: true; readonly value: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

/** Worker side: {@link HostServices} whose calls go over `port`. */
export interface RpcServices extends HostServices {
  /** Closes the port; calls still waiting reject. */
  close(): void;
}

/**
 * Worker side. The port is listened to only once a call is made, so a task
 * that uses no service costs no listener. Calls pending when the port
 * closes (the task ended, the host went away) reject.
 */
export function rpcServices(port: MessagePort): RpcServices {
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  let nextId = 1;
  let listening = false;
  let closed = false;

  const failAll = (why: string) => {
    for (const p of pending.values()) p.reject(new Error(why));
    pending.clear();
  };
  const onReply = (reply: ServiceReply) => {
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.value);
    else p.reject(new Error(reply.error));
  };
  const call = (method: HostServiceName, args: unknown[]): Promise<any> => {
    if (closed) return Promise.reject(new Error(`host service ${method} called after the task ended`));
    if (!listening) {
      listening = true;
      port.on('message', onReply);
      port.once('close', () => {
        closed = true;
        failAll('the host closed the service channel');
      });
    }
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      try {
        port.postMessage({ id, method, args } satisfies ServiceCall);
      } catch (err) {
        // Arguments that cannot be cloned (a function, a socket...).
        pending.delete(id);
        reject(new Error(`host service ${method}: arguments cannot be sent to the host: ${(err as Error).message}`));
      }
    });
  };

  return {
    createDataChannel: (request) => call('createDataChannel', [request]),
    removeDataChannel: (channel) => call('removeDataChannel', [channel]),
    reservePorts: (request) => call('reservePorts', [request]),
    releasePorts: (reservation) => call('releasePorts', [reservation]),
    bestSourceAddress: (destination) => call('bestSourceAddress', [destination]),
    close() {
      if (closed) return;
      closed = true;
      failAll('the task ended');
      port.close();
    },
  };
}

/**
 * Host side: answers the calls arriving on `port` with `services`. A service
 * that throws (or rejects) answers with its message, so the plugin's promise
 * rejects with it. Answers to calls that finish after the port closed are
 * dropped. Close the port when the task ends.
 */
export function serveHostServices(port: MessagePort, services: HostServices): void {
  port.on('message', (call: ServiceCall) => {
    void answer(port, services, call);
  });
}

async function answer(port: MessagePort, services: HostServices, call: ServiceCall): Promise<void> {
  const id = typeof call?.id === 'number' ? call.id : -1;
  try {
    const method = call?.method;
    if (!(HOST_SERVICE_NAMES as readonly unknown[]).includes(method)) throw new Error(`no host service named ${JSON.stringify(method)}`);
    if (!Array.isArray(call.args)) throw new Error(`host service ${method}: arguments must be a list`);
    const fn = services[method] as (...args: unknown[]) => Promise<unknown>;
    const value = await fn.apply(services, call.args);
    port.postMessage({ id, ok: true, value } satisfies ServiceReply);
  } catch (err) {
    try {
      const error = err instanceof Error ? err.message : `host service failed: ${String(err)}`;
      port.postMessage({ id, ok: false, error } satisfies ServiceReply);
    } catch {
      // The port is gone: the task ended.
    }
  }
}
