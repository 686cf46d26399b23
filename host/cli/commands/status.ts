import { adminRequest, ServiceUnreachableError } from '../../admin/admin-client';
import type { AlgdConfig } from '../../config/config-schema';
import type { StatusDocument } from '../../service/algd-service';
import { ExitCode } from '../exit-codes';

/** `algd status`: asks the running service over the admin socket. */
export async function statusCommand(config: AlgdConfig, opts: { json: boolean }): Promise<ExitCode> {
  let response;
  try {
    response = await adminRequest(config.adminSocket, { command: 'status' });
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
  const status = response.result as StatusDocument;
  process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  return ExitCode.ok;
}

function formatStatus(s: StatusDocument): string {
  const lines = [
    `algd ${s.version} (pid ${s.pid}), driver ${s.driver}, up ${s.uptimeSeconds} s`,
    `adapters: ${s.adapters.map((a) => `${a.name} (${a.type}${a.addresses.length ? ` ${a.addresses.join(' ')}` : ''})`).join(', ')}`,
    `plugins:  ${s.plugins.map((p) => `${p.name} ${p.enabled ? 'enabled' : 'disabled'}`).join(', ')}`,
    `flows ${s.engine.flows}, redirects ${s.engine.redirects.length}, mappings ${s.engine.mappings.length}`,
    `driver ${s.driver}: received ${s.driverStats.received}, accepted ${s.driverStats.accepted} (modified ${s.driverStats.modified}), dropped ${s.driverStats.dropped}, errors ${s.driverStats.errors}`,
    `packets ${s.engine.counters.packets} (translated ${s.engine.counters.translated}, passed ${s.engine.counters.passed}), drops ${JSON.stringify(s.engine.counters.drops)}`,
  ];
  return `${lines.join('\n')}\n`;
}
