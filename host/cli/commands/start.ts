import type { AlgdConfig } from '../../config/config-schema';
import { closeLogger, createLogger } from '../../logging/logger';
import type { AlgdService } from '../../service/algd-service';
import { composeService } from '../../service/composition-root';
import { fileConfigSource } from '../../service/config-source';
import { platformPluginFlags } from '../../service/platform-plugin-flags';
import { ExitCode } from '../exit-codes';

/**
 * `algd start`: runs the service in the foreground until SIGTERM or SIGINT,
 * then removes everything it installed and exits 0. SIGHUP (not on
 * Windows; there `algd reload`) reloads the configuration file live.
 */
export async function startCommand(config: AlgdConfig, file?: string): Promise<ExitCode> {
  const logger = createLogger(config.logging);
  // Listening before anything is installed: a signal during start, or just after "running", still stops cleanly.
  // The handlers stay: a second signal while stopping must not kill the process before its rules are removed.
  let stopping = false;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (s: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn(`${s} received again: still stopping, removing what algd installed`);
        return;
      }
      stopping = true;
      resolve(s);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  let service: AlgdService;
  try {
    ({ service } = await composeService({
      config,
      logger,
      pluginFlags: platformPluginFlags(logger),
      ...(file !== undefined ? { configSource: fileConfigSource(file) } : {}),
    }));
    await service.start();
  } catch (err) {
    logger.error(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
    await closeLogger(logger);
    return ExitCode.failure;
  }
  if (process.platform !== 'win32') {
    process.on('SIGHUP', () => {
      if (stopping) return;
      logger.info('SIGHUP received, reloading the configuration');
      // The service logs what the reload did.
      service.reload().catch((err: unknown) => logger.error(`reload failed: ${err instanceof Error ? err.message : String(err)}`));
    });
  }
  const signal = await stopSignal;
  logger.info(`${signal} received, stopping`);
  let code: ExitCode = ExitCode.ok;
  try {
    await service.stop();
  } catch (err) {
    logger.error(`error while stopping: ${err instanceof Error ? err.message : String(err)}`);
    code = ExitCode.failure;
  }
  await closeLogger(logger);
  return code;
}
