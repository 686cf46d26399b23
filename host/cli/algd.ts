#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import type { AlgdConfig } from '../config/config-schema';
import { ConfigError, loadConfig } from '../config/load-config';
import { packageVersion } from '../service/package-info';
import { configCheckCommand } from './commands/config-check';
import { labCommand } from './commands/lab';
import { mappingsCommand } from './commands/mappings';
import { pluginsCommand } from './commands/plugins';
import { pluginsListCommand } from './commands/plugins';
import { reloadCommand } from './commands/reload';
import { startCommand } from './commands/start';
import { sessionsCommand } from './commands/sessions';
import { statusCommand } from './commands/status';
import { ExitCode } from './exit-codes';
import { EXIT_CODES_HELP } from './exit-codes';

const DEFAULT_CONFIG = process.platform === 'win32' ? 'C:\\ProgramData\\algd\\algd.json' : '/etc/algd/algd.json';

/** Runs the `algd` command line; resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<ExitCode> {
  let code: ExitCode = ExitCode.ok;
  const withConfig = (file: string, run: (cfg: AlgdConfig) => Promise<ExitCode> | ExitCode) => async () => {
    let cfg: AlgdConfig;
    try {
      cfg = loadConfig(file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`algd: ${err.message}\n`);
      code = ExitCode.usage;
      return;
    }
    code = await run(cfg);
  };

  const program = new Command('algd')
    .description('application-level gateway host')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.addHelpText('after', EXIT_CODES_HELP);

  program
    .command('start')
    .description('run the gateway in the foreground until SIGTERM or SIGINT')
    .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
    .action((opts: { config: string }) => withConfig(opts.config, (cfg) => startCommand(cfg, opts.config))());

  program
    .command('status')
    .description('show the running service (exit 3 when it is not running)')
    .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
    .option('--json', 'print the status document as JSON', false)
    .action((opts: { config: string; json: boolean }) => withConfig(opts.config, (cfg) => statusCommand(cfg, opts))());

  const plugins = program.command('plugins').description('switch plugins of the running service');
  plugins
    .command('list')
    .description('every plugin with its version, state, source and captured ports, and refused plugin packages')
    .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
    .option('--json', 'print the plugins as JSON', false)
    .action((opts: { config: string; json: boolean }) => withConfig(opts.config, (cfg) => pluginsListCommand(cfg, opts))());
  for (const action of ['enable', 'disable'] as const) {
    plugins
      .command(`${action} <name>`)
      .description(action === 'enable' ? 'capture again with a plugin (also resets its tripped circuit breaker)' : 'stop capturing with a plugin and close its sessions')
      .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
      .option('--json', 'print the plugin status as JSON', false)
      .action((name: string, opts: { config: string; json: boolean }) => withConfig(opts.config, (cfg) => pluginsCommand(cfg, action, name, opts))());
  }

  program
    .command('reload')
    .description('reload the running service\'s configuration file (like SIGHUP): exit 2 with the errors when it is invalid, nothing changed')
    .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
    .option('--json', 'print the reload report as JSON', false)
    .action((opts: { config: string; json: boolean }) => withConfig(opts.config, (cfg) => reloadCommand(cfg, opts))());

  for (const [name, what, run] of [
    ['sessions', 'control sessions of the running service, with their data channels', sessionsCommand],
    ['mappings', 'NAT mappings (data channels) of the running service and the session owning each', mappingsCommand],
  ] as const) {
    program
      .command(name)
      .description(what)
      .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
      .option('-p, --plugin <name>', 'only those of one plugin')
      .option('--json', `print the ${name} as JSON`, false)
      .action((opts: { config: string; json: boolean; plugin?: string }) => withConfig(opts.config, (cfg) => run(cfg, opts))());
  }

  const config = program.command('config').description('configuration tools');
  config
    .command('check <file>')
    .description('validate a configuration file (exit 2 with the offending keys when invalid)')
    .option('--json', 'print the validated configuration with defaults as JSON', false)
    .action((file: string, opts: { json: boolean }) => withConfig(file, (cfg) => configCheckCommand(file, cfg, opts))());

  program
    .command('lab')
    .description('build client, gateway and server namespaces and run traffic through the gateway (root, Linux)')
    .option('--json', 'print the report as JSON', false)
    .action(async (opts: { json: boolean }) => {
      code = await labCommand(opts);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    throw err;
  }
  return code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`algd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = ExitCode.failure;
    },
  );
}
