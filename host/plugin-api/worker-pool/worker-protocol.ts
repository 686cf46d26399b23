import type { Framing, Port, TransportProtocol } from '@algd/sdk';
import type { TaskEnvelope, TaskOutcome } from '@algd/sdk/runtime';

/**
 * The messages between a {@link PluginPool} and its workers
 * (`plugin-worker.ts`). Everything here crosses a thread boundary, so it is
 * plain structured-cloneable data.
 */

/** `workerData` of a plugin worker. */
export interface PluginWorkerData {
  /** The plugin module: an absolute path, or a package name resolvable from the host. */
  readonly entry: string;
  /** The plugin's raw options from the configuration, before its parser saw them. */
  readonly options: unknown;
  /** The name of the pool's `BroadcastChannel` for service calls (see `service-rpc.ts`). */
  readonly servicesChannel: string;
}

/** What a loaded plugin declares, as plain data (`describe` task). */
export interface PluginDescription {
  readonly name: string;
  readonly version: string;
  readonly apiVersion: string;
  readonly description: string | undefined;
  /** Ports validated by `definePlugin` in the worker. */
  readonly controlChannels: readonly { readonly protocol: TransportProtocol; readonly ports: readonly Port[]; readonly framing: Framing | undefined }[];
  /** Which handlers the plugin defines (the others default to forwarding unchanged / ignoring). */
  readonly handlers: { readonly client: boolean; readonly server: boolean; readonly events: boolean };
}

/** A task posted to a plugin worker. */
export type WorkerTask =
  | { readonly kind: 'describe' }
  /** `id` is random and unique among the pool's tasks in flight; the task's service calls name it (see `service-rpc.ts`). */
  | { readonly kind: 'session'; readonly envelope: TaskEnvelope; readonly id: number };

/** An error as it crosses the thread boundary. */
export interface WorkerErrorInfo {
  /** The error's class name (`Error`, `TypeError`, `HandlerResultError`, `PluginLoadError`...). */
  readonly name: string;
  readonly message: string;
}

/**
 * A worker's answer. A failing plugin never makes the worker's task throw:
 * the failure comes back as `{ ok: false }`, so a rejected piscina task
 * always means that the worker itself ended (or was stopped).
 */
export type DescribeResult = { readonly ok: true; readonly description: PluginDescription } | { readonly ok: false; readonly error: WorkerErrorInfo };
export type SessionResult = { readonly ok: true; readonly outcome: TaskOutcome } | { readonly ok: false; readonly error: WorkerErrorInfo };

/** The `name` a worker gives a plugin that failed to load, in results of session tasks. */
export const LOAD_ERROR_NAME = 'PluginLoadError';

/** Describes any thrown value for a message. */
export function errorInfo(err: unknown): WorkerErrorInfo {
  try {
    if (err instanceof Error) return { name: String(err.name), message: String(err.message) };
    return { name: 'a non-Error value', message: typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err)) };
  } catch {
    return { name: 'a non-Error value', message: Object.prototype.toString.call(err) };
  }
}
