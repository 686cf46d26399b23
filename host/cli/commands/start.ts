import type { AlgdConfig } from '../../config/config-schema';
import { closeLogger, createLogger } from '../../logging/logger';
import { AlgdService } from '../../service/algd-service';
import { createDriver } from '../../service/create-driver';
import { ExitCode } from '../exit-codes';

/**
 * `algd start`: runs the service in the foreground until SIGTERM or SIGINT,
 * then removes everything it installed and exits 0.
 */
export async function startCommand(config: AlgdConfig): Promise<ExitCode> {
  const logger = createLogger({ level: config.logLevel });
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
    service = new AlgdService(config, createDriver(config, logger), logger);
    await service.start();
  } catch (err) {
    logger.error(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
    await closeLogger(logger);
    return ExitCode.failure;
  }
  if (process.platform !== 'win32') process.on('SIGHUP', () => logger.warn('SIGHUP: live reload is not supported yet; restart algd to apply changes'));
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
