import type { AlgdConfig } from '../../config/config-schema';
import type { ReloadReport } from '../../service/reload-report';
import { ExitCode } from '../exit-codes';
import { callService } from '../service-call';

/** A reload loads plugin pools; give it longer than a status query. */
const RELOAD_TIMEOUT_MS = 60_000;

/**
 * `algd reload`: the running service reads its configuration file again
 * and applies what can change live (the same as SIGHUP on Linux).
 * Exit 0: applied (keys needing a restart are listed, not errors);
 * 2: the file is invalid and nothing changed; 1: some plugin changes failed
 * (those plugins keep their running settings); 3: the service is not running.
 */
export function reloadCommand(config: AlgdConfig, opts: { json: boolean }): Promise<ExitCode> {
  const print = (report: ReloadReport): string => (opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return callService<ReloadReport>(config, { command: 'reload' }, print, { timeoutMs: RELOAD_TIMEOUT_MS, outcome: (report) => outcomeOf(report, opts.json) });
}

/** Exit 2 for a rejected file, 1 when a plugin change failed; the reasons on stderr (text mode). */
function outcomeOf(report: ReloadReport, json: boolean): ExitCode {
  if (report.rejected) {
    if (!json) process.stderr.write(`algd: invalid configuration ${report.source}, nothing changed:\n${report.errors.map((e) => `  - ${e}`).join('\n')}\n`);
    return ExitCode.usage;
  }
  if (report.errors.length > 0) {
    if (!json) process.stderr.write(report.errors.map((e) => `algd: ${e} (kept its running settings)\n`).join(''));
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
