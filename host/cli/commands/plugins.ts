import type { AlgdConfig } from '../../config/config-schema';
import type { PluginStatus } from '../../plugin-api/plugin-instance';
import type { StatusDocument } from '../../service/algd-service';
import type { ExitCode } from '../exit-codes';
import { callService } from '../service-call';
import { textTable } from './text-table';

/**
 * `algd plugins enable|disable NAME`: switches a plugin of the running
 * service. `enable` also re-enables a plugin its circuit breaker tripped.
 * The change lasts until the service restarts (configuration decides then).
 */
export function pluginsCommand(config: AlgdConfig, action: 'enable' | 'disable', name: string, opts: { json: boolean }): Promise<ExitCode> {
  return callService<PluginStatus>(config, { command: `plugins-${action}`, args: { name } }, (p) =>
    opts.json ? `${JSON.stringify(p, null, 2)}\n` : `${p.name}: ${p.state}${p.captures.length ? `, capturing ${p.captures.map((c) => `${c.protocol}/${c.port}`).join(' ')}` : ''}\n`,
  );
}

/** `algd plugins list`: every plugin the service knows, loaded or not, and the plugin packages it refused. */
export function pluginsListCommand(config: AlgdConfig, opts: { json: boolean }): Promise<ExitCode> {
  return callService<StatusDocument>(config, { command: 'status' }, (s) =>
    opts.json ? `${JSON.stringify({ plugins: s.plugins, refused: s.refusedPlugins }, null, 2)}\n` : formatPluginList(s),
  );
}

export function formatPluginList(s: Pick<StatusDocument, 'plugins' | 'refusedPlugins'>): string {
  const rows = s.plugins.map((p) => [p.name, p.version ?? '-', p.state, p.builtin ? 'built-in' : (p.package ?? '-'), p.captures.map((c) => `${c.protocol}/${c.port}`).join(' ') || '-', p.error ?? '']);
  const refused = s.refusedPlugins.map((r) => `refused ${r.dir}: ${r.reason}`);
  return `${[...textTable(['PLUGIN', 'VERSION', 'STATE', 'SOURCE', 'PORTS', 'ERROR'], rows), ...refused].join('\n')}\n`;
}
