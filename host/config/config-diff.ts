import { isDeepStrictEqual } from 'node:util';
import type { AlgdConfig, PluginSettings } from './config-schema';

/**
 * What differs between the running configuration and a newly read one, and
 * what of it a live reload may apply. Pure: the service applies the result.
 *
 * Live: each plugin's settings and the log level. Everything else (driver,
 * adapters, port ranges, admin socket, ...) is built into running parts
 * (iptables rules, pools of ports, the socket itself): those keys are only
 * reported, as needing a restart.
 */

/** How one plugin's settings changed. */
export type PluginChange =
  /** Switched on or off. */
  | 'enable'
  | 'disable'
  /** Capture ports. */
  | 'ports'
  /** What the worker pool is built with: options, task timeout, memory, threads. A new pool replaces the old one. */
  | 'pool'
  /** Read per task or per session: failure policy, data-channel cap, circuit breaker. */
  | 'policy';

export interface ConfigDiff {
  /** Top-level keys (or `logging.x`) whose new value takes effect only after a restart. */
  readonly needsRestart: readonly string[];
  /** Plugins whose settings changed, with how. */
  readonly plugins: readonly { readonly name: string; readonly settings: PluginSettings; readonly changes: readonly PluginChange[] }[];
  /** The new log level, when it changed. */
  readonly logLevel: AlgdConfig['logging']['level'] | undefined;
}

/** Settings a worker pool is opened with. */
const POOL_KEYS = ['options', 'taskTimeoutMs', 'maxMemoryMb', 'maxThreads'] as const satisfies readonly (keyof PluginSettings)[];
const POLICY_KEYS = ['onFailure', 'maxDataChannelsPerSession', 'breaker'] as const satisfies readonly (keyof PluginSettings)[];

/** Keys of the file a reload applies; every other top-level key needs a restart when it changes. */
const LIVE_KEYS: ReadonlySet<string> = new Set(['plugins', 'logging']);

export function diffConfig(running: AlgdConfig, next: AlgdConfig, defaults: PluginSettings): ConfigDiff {
  const needsRestart: string[] = [];
  const keys = new Set([...Object.keys(running), ...Object.keys(next)]) as Set<keyof AlgdConfig>;
  for (const key of keys) {
    if (!LIVE_KEYS.has(key) && !isDeepStrictEqual(running[key], next[key])) needsRestart.push(key);
  }
  // Of logging, only the level is live: the other parts are transports opened at start.
  for (const key of ['console', 'file', 'eventLog'] as const) {
    if (!isDeepStrictEqual(running.logging[key], next.logging[key])) needsRestart.push(`logging.${key}`);
  }
  const plugins: ConfigDiff['plugins'][number][] = [];
  for (const name of new Set([...Object.keys(running.plugins), ...Object.keys(next.plugins)])) {
    const before = running.plugins[name] ?? defaults;
    const after = next.plugins[name] ?? defaults;
    const changes = pluginChanges(before, after);
    if (changes.length > 0) plugins.push({ name, settings: after, changes });
  }
  return { needsRestart, plugins, logLevel: running.logging.level === next.logging.level ? undefined : next.logging.level };
}

/** How a plugin's settings changed; empty when they did not. */
export function pluginChanges(before: PluginSettings, after: PluginSettings): PluginChange[] {
  const changes: PluginChange[] = [];
  if (before.enabled !== after.enabled) changes.push(after.enabled ? 'enable' : 'disable');
  if (!isDeepStrictEqual(before.ports, after.ports)) changes.push('ports');
  if (POOL_KEYS.some((k) => !isDeepStrictEqual(before[k], after[k]))) changes.push('pool');
  if (POLICY_KEYS.some((k) => !isDeepStrictEqual(before[k], after[k]))) changes.push('policy');
  return changes;
}
