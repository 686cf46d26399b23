import { adminRequest, ServiceUnreachableError } from '../../admin/admin-client';
import type { AlgdConfig } from '../../config/config-schema';
import type { PluginStatus } from '../../plugin-api/plugin-instance';
import { ExitCode } from '../exit-codes';

/**
 * `algd plugins enable|disable NAME`: switches a plugin of the running
 * service. `enable` also re-enables a plugin its circuit breaker tripped.
 * The change lasts until the service restarts (configuration decides then).
 */
export async function pluginsCommand(config: AlgdConfig, action: 'enable' | 'disable', name: string, opts: { json: boolean }): Promise<ExitCode> {
  let response;
  try {
    response = await adminRequest(config.adminSocket, { command: `plugins-${action}`, args: { name } });
  } catch (err) {
    if (err instanceof ServiceUnreachableError) {
      process.stderr.write(`algd: ${err.message}\n`);
      return ExitCode.notRunning;
    }
    throw err;
  }
  if (!response.ok) {
    process.stderr.write(`algd: ${response.error}\n`);
    return ExitCode.failure;
  }
  const p = response.result as PluginStatus;
  process.stdout.write(opts.json ? `${JSON.stringify(p, null, 2)}\n` : `${p.name}: ${p.state}${p.captures.length ? `, capturing ${p.captures.map((c) => `${c.protocol}/${c.port}`).join(' ')}` : ''}\n`);
  return ExitCode.ok;
}
