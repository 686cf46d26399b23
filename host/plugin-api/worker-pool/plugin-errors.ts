/**
 * How a plugin task failed:
 *
 * - `threw`: a handler threw or rejected (a service call the host refused,
 *   when the plugin did not catch it, ends up here too);
 * - `bad-result`: a handler returned something that is not a handler result,
 *   or the worker's answer was not a well-formed task outcome;
 * - `timeout`: the task did not finish within the pool's `taskTimeoutMs`; a
 *   worker running it was stopped and replaced;
 * - `out-of-memory`: the worker hit its heap limit and was replaced;
 * - `worker-exited`: the worker ended during the task (`process.exit()`, an
 *   uncaught exception outside the handler's promise) and was replaced;
 * - `closed`: the pool was closed before the task finished. Not the plugin's
 *   fault: a circuit breaker should not count it.
 */
export type PluginTaskFailure = 'threw' | 'bad-result' | 'timeout' | 'out-of-memory' | 'worker-exited' | 'closed';

export const PLUGIN_TASK_FAILURES: readonly PluginTaskFailure[] = ['threw', 'bad-result', 'timeout', 'out-of-memory', 'worker-exited', 'closed'];

/** A plugin task failed; `kind` says how, the message says what happened in words. */
export class PluginTaskError extends Error {
  override readonly name = 'PluginTaskError';
  constructor(
    readonly kind: PluginTaskFailure,
    /** The plugin's name. */
    readonly plugin: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A plugin cannot be loaded: `reason` says why (module not found, not a plugin definition, invalid, incompatible API, options invalid...). */
export class PluginLoadError extends Error {
  override readonly name = 'PluginLoadError';
  constructor(
    /** The plugin module as configured. */
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`cannot load plugin ${entry}: ${reason}`);
  }
}
