import { spawn } from 'node:child_process';
import TransportStream from 'winston-transport';

/** Runs a program with arguments (no shell) and resolves with its exit code and error output. */
export type RunProgram = (file: string, argv: readonly string[]) => Promise<{ code: number | null; stderr: string }>;

export interface EventLogTransportOptions {
  /** The event source in the Application log, e.g. `algd`. */
  readonly source: string;
  readonly level?: string;
  /** Defaults to spawning the program; tests pass their own. */
  readonly run?: RunProgram;
  /** Entries waiting for eventcreate beyond this are dropped (and the drop is counted). */
  readonly maxQueue?: number;
}

/** eventcreate's event types and ids by winston level; ids must lie in 1..1000. */
const EVENT_TYPE: Readonly<Record<string, { type: 'ERROR' | 'WARNING' | 'INFORMATION'; id: number }>> = {
  error: { type: 'ERROR', id: 1 },
  warn: { type: 'WARNING', id: 2 },
  info: { type: 'INFORMATION', id: 3 },
  debug: { type: 'INFORMATION', id: 4 },
};

/** A source name eventcreate takes as one plain word group: no leading `/` that it could read as a switch. */
const SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

/** Event descriptions are cut here; the full line is in the file log. */
const MAX_DESCRIPTION = 4000;

/**
 * Writes log entries to the Windows Event Log (Application log) through
 * `eventcreate.exe`, which ships with Windows and needs no native module
 * (no maintained winston Event Log transport builds on current Node without
 * a native compiler). One eventcreate runs at a time, in order; the queue is
 * bounded so a burst of lines cannot pile up processes. eventcreate
 * registers the source on first use, which needs Administrator rights (the
 * service runs as LocalSystem).
 */
export class EventLogTransport extends TransportStream {
  private readonly source: string;
  private readonly run: RunProgram;
  private readonly maxQueue: number;
  private readonly queue: string[][] = [];
  private running = false;
  private idle: (() => void)[] = [];
  private reportedFailure = false;
  /** Entries dropped because the queue was full. */
  dropped = 0;

  constructor(opts: EventLogTransportOptions) {
    super({ level: opts.level });
    if (!SOURCE_NAME.test(opts.source)) throw new Error(`logging.eventLog.source: ${JSON.stringify(opts.source)} is not a valid event source name (letters, digits, space . _ -, at most 64)`);
    this.source = opts.source;
    this.run = opts.run ?? spawnProgram;
    this.maxQueue = opts.maxQueue ?? 100;
  }

  /** The eventcreate arguments for one entry. */
  static argv(source: string, info: Readonly<Record<string, unknown>>): string[] {
    const { type, id } = EVENT_TYPE[String(info['level'])] ?? EVENT_TYPE['info']!;
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(info)) if (k !== 'level' && k !== 'message' && k !== 'timestamp') fields[k] = v;
    const session = typeof info['session'] === 'string' ? `[${info['session']}] ` : '';
    const extra = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
    const description = `${session}${String(info['message'])}${extra}`.slice(0, MAX_DESCRIPTION);
    return ['/L', 'APPLICATION', '/T', type, '/SO', source, '/ID', String(id), '/D', description];
  }

  override log(info: Record<string, unknown>, next: () => void): void {
    if (this.queue.length >= this.maxQueue) this.dropped++;
    else this.queue.push(EventLogTransport.argv(this.source, info));
    if (!this.running) void this.drain();
    next();
  }

  /** Finishes once every queued entry has been written. */
  override _final(callback: (err?: Error | null) => void): void {
    if (!this.running && this.queue.length === 0) callback();
    else this.idle.push(() => callback());
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const argv = this.queue.shift()!;
      try {
        const r = await this.run('eventcreate.exe', argv);
        if (r.code !== 0) this.failed(`eventcreate exited with ${r.code}: ${r.stderr.trim()}`);
      } catch (err) {
        this.failed((err as Error).message);
      }
    }
    this.running = false;
    for (const f of this.idle.splice(0)) f();
  }

  /** Says once on stderr that the Event Log is not being written (the other transports go on). */
  private failed(why: string): void {
    if (this.reportedFailure) return;
    this.reportedFailure = true;
    process.stderr.write(`algd: cannot write to the Windows Event Log (source ${this.source}): ${why}\n`);
  }
}

const spawnProgram: RunProgram = (file, argv) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'], windowsHide: true, timeout: 10_000 });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 4096) stderr += s;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
