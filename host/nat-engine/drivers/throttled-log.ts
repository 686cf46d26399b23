/**
 * Logs repeated hot-path problems without flooding: the first occurrence of
 * each kind at once, then at most one line per interval carrying the count
 * of the ones suppressed in between. Counting is the caller's job (stats);
 * this only decides what reaches the log.
 */

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFn = (level: LogLevel, message: string) => void;

const DEFAULT_INTERVAL_MS = 5_000;

export class ThrottledLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: LogFn,
    private readonly intervalMs = DEFAULT_INTERVAL_MS,
  ) {}

  report(kind: string, level: LogLevel, message: string): void {
    const now = Date.now();
    const seen = this.last.get(kind);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.last.set(kind, { at: now, suppressed: 0 });
    this.log(level, suppressed > 0 ? `${message} (${suppressed} more like it suppressed)` : message);
  }
}
