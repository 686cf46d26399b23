/** Severity levels, most severe first (winston's npm levels up to `debug`). */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** Console lines: `text` for people, `json` for journald and pipes, `auto` picks text on a terminal. */
export type ConsoleFormat = 'auto' | 'text' | 'json';

/** The resolved `logging` section of the configuration (defaults applied). */
export interface LoggingSettings {
  readonly level: LogLevel;
  readonly console: { readonly format: ConsoleFormat };
  /** JSON lines to a file, rotated by size: `maxFiles` files of at most `maxSizeMb` each. */
  readonly file?: { readonly path: string; readonly maxSizeMb: number; readonly maxFiles: number };
  /** The Windows Event Log (Application log) under `source`; elsewhere ignored with a warning. */
  readonly eventLog?: { readonly source: string };
}
