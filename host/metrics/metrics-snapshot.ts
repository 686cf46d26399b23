import type { StatusDocument } from '../service/algd-service';

/** One plugin's figures. */
export interface PluginMetrics {
  readonly plugin: string;
  /** 1 while capturing, 0 when disabled, tripped or failed. */
  readonly enabled: boolean;
  readonly sessions: number;
  readonly bytesRewritten: number;
  readonly workerRestarts: number;
  /** Tasks waiting for a free worker. */
  readonly queueDepth: number;
  readonly taskFailures: Readonly<Record<string, number>>;
  /** The plugin's own counters (`ctx.count`), e.g. FTP's `low-port-refused`. */
  readonly counters: Readonly<Record<string, number>>;
}

/** One drop counter: who dropped (`engine`, `driver`, `plugin`) and why. */
export interface DropMetric {
  readonly source: 'engine' | 'driver' | 'plugin';
  /** The plugin, for source `plugin`. */
  readonly plugin?: string;
  readonly reason: string;
  readonly count: number;
}

/** Everything the metrics endpoint shows, as plain data (tests build it by hand). */
export interface MetricsSnapshot {
  readonly plugins: readonly PluginMetrics[];
  readonly sessionsEnded: Readonly<Record<string, number>>;
  readonly mappings: number;
  readonly mappingsCreated: number;
  readonly mappingsEnded: number;
  readonly flows: number;
  readonly packets: { readonly translated: number; readonly passed: number };
  /** Connections to captured ports: sent to a listener, or let through uncaptured (the kernel redirect not installed). */
  readonly redirects: { readonly captured: number; readonly uncaptured: number };
  readonly drops: readonly DropMetric[];
  /** The driver's kernel fast path; absent without one. */
  readonly offload?: { readonly flows: number; readonly offloaded: number; readonly refused: number; readonly packets: number; readonly bytes: number };
}

/**
 * Plugin counters the host itself adds and that mean a message or a
 * connection was dropped: the listener's refusals and framing violations
 * (`framing-*`). A plugin's own counters are not guessed at: they are
 * exported as they are, under `algd_plugin_events_total`.
 */
const HOST_DROP_COUNTERS: ReadonlySet<string> = new Set(['no-original-destination', 'session-limit', 'upstream-failed', 'relay-backlog-drop', 'not-published']);

export function isHostDropCounter(name: string): boolean {
  return HOST_DROP_COUNTERS.has(name) || name.startsWith('framing-');
}

/** The metrics of a status document. */
export function metricsSnapshotFrom(status: StatusDocument): MetricsSnapshot {
  const drops: DropMetric[] = [];
  for (const [reason, count] of Object.entries(status.engine.counters.drops)) drops.push({ source: 'engine', reason, count: count ?? 0 });
  drops.push({ source: 'driver', reason: 'dropped', count: status.driverStats.dropped }, { source: 'driver', reason: 'error', count: status.driverStats.errors });
  for (const p of status.plugins) {
    for (const [reason, count] of Object.entries(p.counters)) if (isHostDropCounter(reason)) drops.push({ source: 'plugin', plugin: p.name, reason, count });
  }
  return {
    plugins: status.plugins.map((p) => ({
      plugin: p.name,
      enabled: p.state === 'enabled',
      sessions: p.sessions,
      bytesRewritten: p.bytesRewritten,
      workerRestarts: p.workerRestarts,
      queueDepth: p.queueDepth,
      taskFailures: p.failures,
      counters: Object.fromEntries(Object.entries(p.counters).filter(([k]) => !isHostDropCounter(k))),
    })),
    sessionsEnded: status.sessionsEnded,
    mappings: status.engine.mappings.length,
    mappingsCreated: status.engine.counters.mappingsCreated,
    mappingsEnded: status.engine.counters.mappingsEnded,
    flows: status.engine.flows,
    packets: { translated: status.engine.counters.translated, passed: status.engine.counters.passed },
    redirects: { captured: status.engine.counters.redirected, uncaptured: status.engine.counters.redirectsMissed },
    drops,
    ...(status.offload === null ? {} : { offload: { flows: status.offload.flows, offloaded: status.offload.offloaded, refused: status.offload.refused, packets: status.offload.packets, bytes: status.offload.bytes } }),
  };
}
