/**
 * The worker module of a {@link PluginPool} (piscina loads the compiled
 * `plugin-worker.js`, never this source). It loads one plugin when the
 * worker starts and runs the pool's tasks through the SDK's `runTask`.
 *
 * Nothing here throws at load time or out of a task: a worker that throws
 * while piscina loads it is not replaced, and a task's exception would be
 * indistinguishable from the worker dying. A plugin that cannot be loaded
 * answers every task with `{ ok: false, error }` naming the reason; a
 * handler that throws answers its task the same way.
 *
 * @module
 */

import { apiVersionSatisfies, definePlugin, PluginDefinitionError, SDK_API_VERSIONS, type PluginDefinition } from '@algd/sdk';
import { runTask, type TaskEnvelope, type TaskOutcome } from '@algd/sdk/runtime';
import { isAbsolute } from 'node:path';
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { ServiceClient } from './service-rpc';
import { errorInfo, LOAD_ERROR_NAME, type DescribeResult, type PluginDescription, type PluginWorkerData, type SessionResult, type WorkerTask } from './worker-protocol';

type Loaded = { readonly ok: true; readonly plugin: PluginDefinition<unknown, unknown>; readonly options: unknown } | { readonly ok: false; readonly reason: string };

const loaded: Loaded = load(workerData as PluginWorkerData);
const serviceClient = new ServiceClient(String((workerData as PluginWorkerData | undefined)?.servicesChannel));

// When piscina cannot post a task's answer (session state or log fields
// that are not plain data), it rethrows the DataCloneError as an uncaught
// exception, which ends the worker. That error, a DOMException, reaches the
// host as an empty object; rethrown as a plain Error it keeps its name and
// message, so the host can say what went wrong.
process.prependListener('uncaughtException', (err: unknown) => {
  throw portableError(err);
});

/** The task handler piscina calls (the module's default export). */
export default async function handleTask(task: WorkerTask): Promise<DescribeResult | SessionResult> {
  if (task.kind === 'describe') {
    return loaded.ok ? { ok: true, description: describePlugin(loaded.plugin) } : { ok: false, error: { name: LOAD_ERROR_NAME, message: loaded.reason } };
  }
  const services = serviceClient.forTask(task.id);
  try {
    if (!loaded.ok) return { ok: false, error: { name: LOAD_ERROR_NAME, message: loaded.reason } };
    const outcome = await runTask(loaded.plugin, loaded.options, task.envelope, services);
    return moveOutcome(outcome, task.envelope);
  } catch (err) {
    return { ok: false, error: errorInfo(err) };
  } finally {
    services.close();
  }
}

/** Loads and checks the plugin; the reason it cannot be used otherwise. */
function load(data: PluginWorkerData): Loaded {
  const entry = data?.entry;
  if (typeof entry !== 'string' || entry === '') return { ok: false, reason: 'no plugin module given' };
  if (entry.startsWith('.') && !isAbsolute(entry)) return { ok: false, reason: 'the plugin module must be an absolute path or a package name, not a relative path' };
  try {
    require.resolve(entry);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { ok: false, reason: code === 'MODULE_NOT_FOUND' ? 'module not found' : `module cannot be resolved: ${firstLine(errorInfo(err).message)}` };
  }
  let mod: unknown;
  try {
    mod = require(entry);
  } catch (err) {
    const e = errorInfo(err);
    return { ok: false, reason: `the module threw while loading: ${e.name}: ${e.message}` };
  }
  const candidate = (mod as { default?: unknown } | null)?.default ?? mod;
  if (!looksLikeDefinition(candidate)) {
    return { ok: false, reason: `not a plugin definition (the module must export definePlugin({...}) as its default export or as module.exports; it exports ${shape(candidate)})` };
  }
  let plugin: PluginDefinition<unknown, unknown>;
  try {
    // Checked again here: a hand-built object, or one from another copy of the SDK, gets the same checks.
    plugin = definePlugin(candidate as PluginDefinition<unknown, unknown>);
  } catch (err) {
    if (err instanceof PluginDefinitionError) return { ok: false, reason: `definition invalid: ${err.message}` };
    return { ok: false, reason: `definition invalid: ${errorInfo(err).message}` };
  }
  if (!apiVersionSatisfies(plugin.apiVersion)) {
    return { ok: false, reason: `incompatible apiVersion ${JSON.stringify(plugin.apiVersion)}: this host implements plugin API ${SDK_API_VERSIONS.join(', ')}` };
  }
  let options: unknown;
  try {
    options = plugin.options === undefined ? undefined : plugin.options.parse(data.options);
  } catch (err) {
    return { ok: false, reason: `options invalid: ${errorInfo(err).message}` };
  }
  return { ok: true, plugin, options };
}

function portableError(err: unknown): Error {
  const info = errorInfo(err);
  const plain = new Error(info.message);
  plain.name = info.name;
  if (err instanceof Error && typeof err.stack === 'string') plain.stack = err.stack;
  return plain;
}

function firstLine(text: string): string {
  const i = text.indexOf('\n');
  return i < 0 ? text : text.slice(0, i);
}

/** An object that at least tries to be a definition: anything else is "not a plugin", not "an invalid plugin". */
function looksLikeDefinition(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  return ['name', 'apiVersion', 'controlChannels'].some((k) => k in x);
}

function shape(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'function') return 'a function';
  if (typeof x !== 'object') return `a ${typeof x}`;
  const keys = Object.keys(x);
  return keys.length === 0 ? 'an empty object' : `an object with ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}`;
}

function describePlugin(p: PluginDefinition<unknown, unknown>): PluginDescription {
  return {
    name: p.name,
    version: p.version,
    apiVersion: p.apiVersion,
    description: p.description,
    controlChannels: p.controlChannels.map((c) => ({ protocol: c.protocol, ports: [...c.ports], framing: c.framing === undefined ? undefined : { ...c.framing } })),
    handlers: { client: p.onClientMessage !== undefined, server: p.onServerMessage !== undefined, events: p.onDataChannelEvent !== undefined },
  };
}

/**
 * The outcome with its output bytes moved, not copied, to the host. Bytes
 * on the buffer the task's message arrived in belong to this task and move
 * as they are; any other bytes (a reply the plugin built, a constant it
 * keeps) are copied once to a buffer of their exact size, which then moves,
 * so the plugin's own buffers are never detached.
 */
function moveOutcome(outcome: TaskOutcome, envelope: TaskEnvelope): SessionResult {
  const received = envelope.task.kind === 'message' ? envelope.task.message.buffer : undefined;
  const transfer: ArrayBuffer[] = [];
  const own = (bytes: Uint8Array | null): Uint8Array | null => {
    if (bytes === null || !(bytes instanceof Uint8Array)) return bytes;
    if (bytes.buffer === received && received instanceof ArrayBuffer) {
      if (!transfer.includes(received)) transfer.push(received);
      return bytes;
    }
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    transfer.push(copy.buffer);
    return copy;
  };
  const result: SessionResult = { ok: true, outcome: { ...outcome, forward: own(outcome.forward), respond: own(outcome.respond) } };
  if (transfer.length === 0) return result;
  // piscina moves a value whose transferable part is this list.
  return move({ [transferableSymbol]: transfer, [valueSymbol]: result } as never) as unknown as SessionResult;
}
