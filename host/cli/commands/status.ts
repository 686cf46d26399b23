import type { AlgdConfig } from '../../config/config-schema';
import { isHostDropCounter } from '../../metrics/metrics-snapshot';
import type { StatusDocument } from '../../service/algd-service';
import type { ExitCode } from '../exit-codes';
import { callService } from '../service-call';
import { countsText, textTable } from './text-table';

/** `algd status`: asks the running service over the admin socket. */
export function statusCommand(config: AlgdConfig, opts: { json: boolean }): Promise<ExitCode> {
  return callService<StatusDocument>(config, { command: 'status' }, (status) => (opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status)));
}

/** The plugin a mapping's owner (a session id such as `ftp-3`) belongs to. */
export function mappingPlugin(owner: string, s: Pick<StatusDocument, 'sessions'>): string {
  return s.sessions.find((x) => x.id === owner)?.plugin ?? owner.replace(/-\d+$/, '');
}

/** The text `algd status` prints: a header, the plugin table, then the engine and driver figures. */
export function formatStatus(s: StatusDocument): string {
  const lines = [
    `algd ${s.version} (pid ${s.pid}), driver ${s.driver}, up ${s.uptimeSeconds} s`,
    `adapters: ${s.adapters.map((a) => `${a.name} (${a.type}${a.addresses.length ? ` ${a.addresses.join(' ')}` : ''})`).join(', ')}`,
    '',
    ...formatPlugins(s),
    '',
    `sessions ${s.sessions.length} open; ended: ${countsText(s.sessionsEnded)}`,
    `mappings ${s.engine.mappings.length} (opened ${s.engine.counters.mappingsCreated}, ended ${s.engine.counters.mappingsEnded}), flows ${s.engine.flows}, redirects ${s.engine.redirects.length}`,
    `mapping ports held ${s.mappingPortsHeld} of ${s.mappingPorts.to - s.mappingPorts.from + 1} (${s.mappingPorts.from}-${s.mappingPorts.to})`,
    `packets ${s.engine.counters.packets} (translated ${s.engine.counters.translated}, passed ${s.engine.counters.passed}); engine drops: ${countsText(s.engine.counters.drops)}`,
    `driver ${s.driver}: received ${s.driverStats.received}, accepted ${s.driverStats.accepted} (modified ${s.driverStats.modified}), dropped ${s.driverStats.dropped}, errors ${s.driverStats.errors}`,
    ...(s.offload === null
      ? []
      : [`kernel fast path: ${s.offload.flows} flow${s.offload.flows === 1 ? '' : 's'} now (offloaded ${s.offload.offloaded}, reclaimed ${s.offload.reclaimed}, refused ${s.offload.refused}), ${s.offload.packets} packets, ${s.offload.bytes} bytes`]),
    ...s.refusedPlugins.map((r) => `refused plugin ${r.dir}: ${r.reason}`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The plugin table, like a router's "show alg status": per plugin its
 * state, captured ports and their listener ports, sessions, mappings, bytes
 * rewritten, drops (refused connections, framing violations), failed tasks,
 * worker restarts and circuit breaker; then the plugins' own counters and
 * errors.
 */
function formatPlugins(s: StatusDocument): string[] {
  const mappings = new Map<string, number>();
  for (const m of s.engine.mappings) {
    const p = mappingPlugin(m.owner, s);
    mappings.set(p, (mappings.get(p) ?? 0) + 1);
  }
  const rows = s.plugins.map((p) => [
    p.name,
    p.state,
    p.captures.map((c) => `${c.protocol}/${c.port}`).join(' ') || '-',
    p.captures.map((c) => String(c.listener)).join(' ') || '-',
    String(p.sessions),
    String(mappings.get(p.name) ?? 0),
    String(p.bytesRewritten),
    String(Object.entries(p.counters).reduce((n, [k, v]) => (isHostDropCounter(k) ? n + v : n), 0)),
    String(Object.values(p.failures).reduce((a, b) => a + b, 0)),
    String(p.workerRestarts),
    `${p.breaker.state}${p.breaker.trips ? ` (${p.breaker.trips} trips)` : ''}`,
  ]);
  const table = textTable(['PLUGIN', 'STATE', 'PORTS', 'LISTENER', 'SESSIONS', 'MAPPINGS', 'REWRITTEN', 'DROPS', 'FAILURES', 'RESTARTS', 'BREAKER'], rows);
  const counters = s.plugins.filter((p) => Object.keys(p.counters).length > 0).map((p) => `  ${p.name} counters: ${countsText(p.counters)}`);
  const errors = s.plugins.filter((p) => p.error).map((p) => `  ${p.name}: ${p.error}`);
  return [...table, ...counters, ...errors];
}
