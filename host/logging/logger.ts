import winston from 'winston';

/** The host's logger: winston, so transports (file, Event Log) can be added without touching callers. */
export type Logger = winston.Logger;

export interface LoggerOptions {
  level: 'error' | 'warn' | 'info' | 'debug';
  /** Human-readable lines on a terminal, JSON lines otherwise (journald, files, pipes). */
  json?: boolean;
}

/** Creates the host logger writing to stderr (stdout is kept for command output). */
export function createLogger(opts: LoggerOptions): Logger {
  const json = opts.json ?? !process.stderr.isTTY;
  const format = json
    ? winston.format.combine(winston.format.timestamp(), winston.format.json())
    : winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.printf(({ timestamp, level, message, ...meta }) => {
          const extra = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
          return `${String(timestamp)} ${level.padEnd(5)} ${String(message)}${extra}`;
        }),
      );
  return winston.createLogger({
    level: opts.level,
    format,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** Ends the logger and resolves once every transport has flushed, so the last lines are not lost on exit. */
export function closeLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.on('finish', () => resolve());
    logger.end();
  });
}
