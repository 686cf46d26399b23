import type { AlgdConfig } from '../../config/config-schema';
import type { StatusDocument } from '../../service/algd-service';
import type { ExitCode } from '../exit-codes';
import { callService } from '../service-call';

/** `algd status`: asks the running service over the admin socket. */
export function statusCommand(config: AlgdConfig, opts: { json: boolean }): Promise<ExitCode> {
  return callService<StatusDocument>(config, { command: 'status' }, (status) => (opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status)));
}

function formatStatus(s: StatusDocument): string {
  const lines = [
    `algd ${s.version} (pid ${s.pid}), driver ${s.driver}, up ${s.uptimeSeconds} s`,
    `adapters: ${s.adapters.map((a) => `${a.name} (${a.type}${a.addresses.length ? ` ${a.addresses.join(' ')}` : ''})`).join(', ')}`,
    '',
    formatPlugins(s),
    '',
    `sessions ${s.sessions.length}`,
    ...s.sessions.slice(0, 50).map((x) => `  ${x.id.padEnd(12)} ${x.protocol} ${x.client} -> ${x.server} via ${x.boundary}, ${x.dataChannels.length} data channel(s)${x.passthrough ? ', passthrough' : ''}`),
    ...(s.sessions.length > 50 ? [`  ... ${s.sessions.length - 50} more (algd status --json lists all)`] : []),
    ...s.refusedPlugins.map((r) => `refused plugin ${r.dir}: ${r.reason}`),
    `flows ${s.engine.flows}, redirects ${s.engine.redirects.length}, mappings ${s.engine.mappings.length}`,
    `driver ${s.driver}: received ${s.driverStats.received}, accepted ${s.driverStats.accepted} (modified ${s.driverStats.modified}), dropped ${s.driverStats.dropped}, errors ${s.driverStats.errors}`,
    `packets ${s.engine.counters.packets} (translated ${s.engine.counters.translated}, passed ${s.engine.counters.passed}), drops ${JSON.stringify(s.engine.counters.drops)}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The plugin table, like a router's "show alg status". */
function formatPlugins(s: StatusDocument): string {
  const rows = s.plugins.map((p) => [
    p.name,
    p.state,
    p.captures.map((c) => `${c.protocol}/${c.port}->${c.listener}`).join(' ') || '-',
    String(p.sessions),
    String(p.tasks),
    String(Object.values(p.failures).reduce((a, b) => a + b, 0)),
    String(p.workerRestarts),
    `${p.breaker.state}${p.breaker.trips ? ` (${p.breaker.trips} trips)` : ''}`,
  ]);
  const head = ['PLUGIN', 'STATE', 'CAPTURE', 'SESSIONS', 'TASKS', 'FAILURES', 'RESTARTS', 'BREAKER'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const errors = s.plugins.filter((p) => p.error).map((p) => `  ${p.name}: ${p.error}`);
  return [line(head), ...rows.map(line), ...errors].join('\n');
}
