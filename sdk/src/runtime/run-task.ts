import type { SessionContext } from '../context';
import type { LogFields, LogLevel, PluginLogger } from '../logger';
import type { PluginDefinition } from '../plugin';
import type { HandlerResult, MessageVerdict } from '../verdict';
import type { HostServices } from './host-services';
import { MAX_IDLE_TIMEOUT_MS, MIN_IDLE_TIMEOUT_MS, validIdleTimeout } from './session-limits';
import type { TaskEnvelope, TaskLogRecord, TaskOutcome } from './session-task';

/** Thrown when a handler returns something that is not a {@link HandlerResult}. */
export class HandlerResultError extends Error {
  override readonly name = 'HandlerResultError';
}

/**
 * Runs one task through a plugin: builds the session context, calls the
 * handler, and turns its answer into a {@link TaskOutcome}. The one
 * implementation of the contract, used by the host's workers and by the test
 * kit alike. A handler that throws rejects the returned promise; the caller
 * applies its failure policy.
 */
export async function runTask(plugin: PluginDefinition<any, any>, options: unknown, envelope: TaskEnvelope, services: HostServices): Promise<TaskOutcome> {
  const counters: Record<string, number> = {};
  const logs: TaskLogRecord[] = [];
  /** Set by setIdleTimeout: undefined while the task leaves it unchanged. */
  let idleTimeoutMs: number | null | undefined;
  const state = envelope.state === undefined ? (plugin.initialState?.(envelope.session, options) ?? {}) : envelope.state;
  const ctx: SessionContext<unknown, unknown> = {
    session: envelope.session,
    options,
    state,
    log: recordingLogger(logs),
    count(counter: string, by = 1) {
      counters[counter] = (counters[counter] ?? 0) + by;
    },
    createDataChannel: (r) => services.createDataChannel(r),
    // Options only when given: without them the call is the one of API 0.1.0.
    removeDataChannel: (id, options) => (options === undefined ? services.removeDataChannel(id) : services.removeDataChannel(id, options)),
    renewDataChannel: (id, lifetimeMs) => services.renewDataChannel(id, lifetimeMs),
    reservePorts: (r) => services.reservePorts(r),
    releasePorts: (id) => services.releasePorts(id),
    bestSourceAddress: (d) => services.bestSourceAddress(d),
    setIdleTimeout(ms?: number) {
      if (ms !== undefined && !validIdleTimeout(ms)) throw new RangeError(`setIdleTimeout: ${String(ms)} is not a whole number of milliseconds from ${MIN_IDLE_TIMEOUT_MS} to ${MAX_IDLE_TIMEOUT_MS}`);
      idleTimeoutMs = ms ?? null;
    },
  };
  const idle = (): { idleTimeoutMs?: number | null } => (idleTimeoutMs === undefined ? {} : { idleTimeoutMs });
  const task = envelope.task;
  if (task.kind === 'data-channel-event') {
    await plugin.onDataChannelEvent?.(task.event, ctx);
    return { state: ctx.state, forward: null, respond: null, close: false, release: false, counters, logs, ...idle() };
  }
  const message = Buffer.from(task.message.buffer, task.message.byteOffset, task.message.byteLength);
  const handler = task.direction === 'client-to-server' ? plugin.onClientMessage : plugin.onServerMessage;
  const result = handler === undefined ? undefined : await handler(message, ctx);
  const verdict = toVerdict(result);
  return {
    state: ctx.state,
    forward: verdict.forward === undefined ? message : verdict.forward === null ? null : toBytes(verdict.forward),
    respond: verdict.respond === undefined ? null : toBytes(verdict.respond),
    close: verdict.close === true,
    release: verdict.release === true,
    counters,
    logs,
    ...idle(),
  };
}

function toVerdict(result: HandlerResult): MessageVerdict {
  if (result === undefined) return {};
  if (typeof result === 'string' || result instanceof Uint8Array) return { forward: result };
  if (typeof result === 'object' && result !== null) {
    const v = result as MessageVerdict;
    const bytesOrString = (x: unknown) => typeof x === 'string' || x instanceof Uint8Array;
    if ((v.forward === undefined || v.forward === null || bytesOrString(v.forward)) && (v.respond === undefined || bytesOrString(v.respond)) && (v.close === undefined || typeof v.close === 'boolean') && (v.release === undefined || typeof v.release === 'boolean')) {
      return v;
    }
  }
  throw new HandlerResultError(`a handler returned ${describe(result)}; expected nothing, bytes, a string or { forward, respond, close, release }`);
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object of another shape' : `a ${typeof x}`;
}

function recordingLogger(logs: TaskLogRecord[]): PluginLogger {
  const at = (level: LogLevel) => (message: string, fields?: LogFields) => {
    logs.push(fields === undefined ? { level, message: String(message) } : { level, message: String(message), fields });
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
