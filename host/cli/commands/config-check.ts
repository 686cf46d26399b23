import type { AlgdConfig } from '../../config/config-schema';
import { ExitCode } from '../exit-codes';

/** `algd config check FILE`: the file was loaded and validated before this runs; report it. */
export function configCheckCommand(file: string, config: AlgdConfig, opts: { json: boolean }): ExitCode {
  process.stdout.write(opts.json ? `${JSON.stringify({ file, valid: true, config }, null, 2)}\n` : `${file}: valid\n`);
  return ExitCode.ok;
}
