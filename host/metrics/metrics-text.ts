import { Counter, Gauge, Registry } from 'prom-client';
import type { MetricsSnapshot } from './metrics-snapshot';

/**
 * The Prometheus text exposition of a snapshot. A fresh registry per
 * scrape: the snapshot holds totals, so counters are set to them rather
 * than incremented, and a plugin that went away leaves no stale series.
 */
export async function metricsText(s: MetricsSnapshot): Promise<string> {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers });
  const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers });

  const enabled = gauge('algd_plugin_enabled', 'Whether the plugin captures its control channels (1) or not (0: disabled, tripped or failed).', ['plugin']);
  const sessions = gauge('algd_sessions', 'Control sessions open now.', ['plugin']);
  const rewritten = counter('algd_bytes_rewritten_total', 'Bytes of the control messages a plugin changed, as forwarded.', ['plugin']);
  const restarts = counter('algd_worker_restarts_total', 'Plugin workers that ended abnormally and were replaced.', ['plugin']);
  const queue = gauge('algd_queue_depth', 'Plugin tasks waiting for a free worker.', ['plugin']);
  const failures = counter('algd_plugin_task_failures_total', 'Failed plugin tasks by kind.', ['plugin', 'kind']);
  const events = counter('algd_plugin_events_total', "The plugin's own counters.", ['plugin', 'counter']);
  for (const p of s.plugins) {
    const plugin = p.plugin;
    enabled.set({ plugin }, p.enabled ? 1 : 0);
    sessions.set({ plugin }, p.sessions);
    rewritten.inc({ plugin }, p.bytesRewritten);
    restarts.inc({ plugin }, p.workerRestarts);
    queue.set({ plugin }, p.queueDepth);
    for (const [kind, n] of Object.entries(p.taskFailures)) failures.inc({ plugin, kind }, n);
    for (const [name, n] of Object.entries(p.counters)) events.inc({ plugin, counter: name }, n);
  }
  const ended = counter('algd_sessions_ended_total', 'Control sessions ended, by reason.', ['reason']);
  for (const [reason, n] of Object.entries(s.sessionsEnded)) ended.inc({ reason }, n);
  gauge('algd_mappings', 'NAT mappings (data channels) now.').set(s.mappings);
  counter('algd_mappings_created_total', 'NAT mappings opened.').inc(s.mappingsCreated);
  counter('algd_mappings_ended_total', 'NAT mappings that stopped taking connections.').inc(s.mappingsEnded);
  gauge('algd_flows', 'Flows in the NAT engine now.').set(s.flows);
  const packets = counter('algd_packets_total', 'Packets the NAT engine translated or passed untouched.', ['outcome']);
  packets.inc({ outcome: 'translated' }, s.packets.translated);
  packets.inc({ outcome: 'passed' }, s.packets.passed);
  const redirects = counter('algd_redirected_connections_total', 'Connections to captured control ports: sent to their listener, or let through uncaptured while the kernel redirect was not installed.', ['outcome']);
  redirects.inc({ outcome: 'captured' }, s.redirects.captured);
  redirects.inc({ outcome: 'uncaptured' }, s.redirects.uncaptured);
  const drops = counter('algd_drops_total', 'Packets, messages and connections dropped, by who dropped them and why.', ['source', 'plugin', 'reason']);
  for (const d of s.drops) drops.inc({ source: d.source, plugin: d.plugin ?? '', reason: d.reason }, d.count);
  if (s.offload !== undefined) {
    gauge('algd_offload_flows', 'Connections the kernel fast path translates now.').set(s.offload.flows);
    const handed = counter('algd_offload_flows_total', 'Connections handed to the kernel fast path, by outcome.', ['outcome']);
    handed.inc({ outcome: 'offloaded' }, s.offload.offloaded);
    handed.inc({ outcome: 'refused' }, s.offload.refused);
    counter('algd_offload_packets_total', 'Packets the kernel fast path translated (as of its last reading).').inc(s.offload.packets);
    counter('algd_offload_bytes_total', 'Bytes (IP) the kernel fast path translated (as of its last reading).').inc(s.offload.bytes);
  }
  return registry.metrics();
}

/** The content type of {@link metricsText}. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
