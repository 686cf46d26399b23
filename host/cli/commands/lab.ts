import { formatLabReport, runLab } from '../../lab/run-lab';
import { ExitCode } from '../exit-codes';

/** `algd lab`: builds the lab, runs traffic through the gateway, prints a summary; exit 0 when nothing failed. */
export async function labCommand(opts: { json: boolean }): Promise<ExitCode> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    process.stderr.write('algd lab: needs root on Linux (it builds network namespaces)\n');
    return ExitCode.usage;
  }
  const report = await runLab({ progress: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${formatLabReport(report)}`);
  return report.ok ? ExitCode.ok : ExitCode.failure;
}
