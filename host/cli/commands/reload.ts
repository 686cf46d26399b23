import { adminRequest, ServiceUnreachableError } from '../../admin/admin-client';
import type { AlgdConfig } from '../../config/config-schema';
import type { ReloadReport } from '../../service/reload-report';
import { ExitCode } from '../exit-codes';

/** A reload loads plugin pools; give it longer than a status query. */
const RELOAD_TIMEOUT_MS = 60_000;

/**
 * `algd reload`: the running service reads its configuration file again
 * and applies what can change live (the same as SIGHUP on Linux).
 * Exit 0: applied (keys needing a restart are listed, not errors);
 * 2: the file is invalid and nothing changed; 1: some plugin changes failed
 * (those plugins keep their running settings); 3: the service is not running.
 */
export async function reloadCommand(config: AlgdConfig, opts: { json: boolean }): Promise<ExitCode> {
  let response;
  try {
    response = await adminRequest(config.adminSocket, { command: 'reload' }, RELOAD_TIMEOUT_MS);
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
  const report = response.result as ReloadReport;
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatReport(report));
  if (report.rejected) {
    if (!opts.json) process.stderr.write(`algd: invalid configuration ${report.source}, nothing changed:\n${report.errors.map((e) => `  - ${e}`).join('\n')}\n`);
    return ExitCode.usage;
  }
  if (report.errors.length > 0) {
    if (!opts.json) process.stderr.write(report.errors.map((e) => `algd: ${e} (kept its running settings)\n`).join(''));
    return ExitCode.failure;
  }
  return ExitCode.ok;
}

function formatReport(r: ReloadReport): string {
  if (r.rejected) return '';
  const lines = [
    `reloaded ${r.source}: ${r.changes.length === 0 ? 'no live change' : `${r.changes.length} change(s)`}`,
    ...r.changes.map((c) => `  applied       ${c}`),
    ...r.needsRestart.map((k) => `  needs restart ${k}`),
  ];
  return `${lines.join('\n')}\n`;
}
