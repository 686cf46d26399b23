import type { AlgdConfig } from '../../config/config-schema';
import type { PluginStatus } from '../../plugin-api/plugin-instance';
import type { ExitCode } from '../exit-codes';
import { callService } from '../service-call';

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
