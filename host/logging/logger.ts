import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import winston from 'winston';
import { EventLogTransport } from './event-log-transport';
import { jsonFormat, textFormat } from './log-format';
import { RotatingFileTransport } from './rotating-file-transport';
import type { LoggingSettings } from './logging-settings';

/** The host's logger: winston, so transports (file, Event Log) are added without touching callers. */
export type Logger = winston.Logger;

/** {@link LoggingSettings}; `console` may be left out (format `auto`). */
export type LoggerSettings = Omit<LoggingSettings, 'console'> & { readonly console?: LoggingSettings['console'] };

/** What the logger needs to know about where it runs (tests pass their own). */
export interface LoggerEnvironment {
  readonly platform: NodeJS.Platform;
  /** True when stderr is a terminal: `auto` then writes text, otherwise JSON lines. */
  readonly stderrIsTTY: boolean;
}

const MB = 1024 * 1024;

/**
 * Creates the host logger: stderr always (stdout is kept for command
 * output), a rotating file of JSON lines when `file` is set, the Windows
 * Event Log when `eventLog` is set and the host is Windows.
 */
export function createLogger(settings: LoggerSettings, env: LoggerEnvironment = { platform: process.platform, stderrIsTTY: process.stderr.isTTY === true }): Logger {
  const format = settings.console?.format ?? 'auto';
  const json = format === 'json' || (format === 'auto' && !env.stderrIsTTY);
  const transports: winston.transport[] = [
    new winston.transports.Console({ format: json ? jsonFormat() : textFormat(), stderrLevels: ['error', 'warn', 'info', 'debug'] }),
  ];
  if (settings.file) transports.push(fileTransport(settings.file));
  const eventLogElsewhere = settings.eventLog !== undefined && env.platform !== 'win32';
  if (settings.eventLog && !eventLogElsewhere) transports.push(new EventLogTransport({ source: settings.eventLog.source }));
  const logger = winston.createLogger({ level: settings.level, transports, exitOnError: false });
  // A transport that fails (disk full, file removed under us) must not take the service down: say so on stderr, go on.
  logger.on('error', (err: Error) => process.stderr.write(`algd: log transport error: ${err.message}\n`));
  if (eventLogElsewhere) logger.warn(`logging.eventLog is ignored: the Windows Event Log exists only on Windows (this is ${env.platform})`);
  return logger;
}

/** JSON lines to the configured file, rotated by size (see {@link RotatingFileTransport} for why not winston's File transport). */
function fileTransport(file: NonNullable<LoggingSettings['file']>): winston.transport {
  try {
    mkdirSync(dirname(file.path), { recursive: true, mode: 0o750 });
  } catch (err) {
    throw new Error(`logging.file.path: cannot create the folder of ${file.path}: ${(err as Error).message}`);
  }
  return new RotatingFileTransport({ path: file.path, maxBytes: Math.round(file.maxSizeMb * MB), maxFiles: file.maxFiles, format: jsonFormat() });
}

/** A logger whose every line carries the session id (a field in JSON, a `[ftp-3]` prefix in text). */
export function sessionLogger(logger: Logger, session: string, plugin: string): Logger {
  return logger.child({ session, plugin });
}

/**
 * Ends the logger and resolves once every transport has finished: the file
 * transport's stream has written its last line, the Event Log transport's
 * queue is empty. Without waiting, the last lines are lost on exit.
 * Resolves after `timeoutMs` at the latest, so a stuck transport cannot
 * keep the process from exiting.
 */
export async function closeLogger(logger: Logger, timeoutMs = 5000): Promise<void> {
  const finished = logger.transports.map(
    (t) =>
      new Promise<void>((resolve) => {
        if (t.writableFinished) resolve();
        else t.once('finish', () => resolve());
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  logger.end();
  await Promise.race([Promise.all(finished), timeout]);
  clearTimeout(timer);
}
