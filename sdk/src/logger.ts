/** Extra structured fields of a log line. */
export type LogFields = Readonly<Record<string, string | number | boolean | null>>;

/** Severity of a plugin's log line. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** A plugin's logger: lines go to the host's log with the plugin name and session id attached. */
export interface PluginLogger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
}
