import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { extname } from 'node:path';
import TransportStream from 'winston-transport';

/** Where winston's formats leave the finished line (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

export interface RotatingFileOptions {
  readonly path: string;
  /** A file reaching this size is rotated before the next line. */
  readonly maxBytes: number;
  /** Files kept in all: `path` and `name1.ext` ... `name(maxFiles-1).ext`. */
  readonly maxFiles: number;
  readonly format?: TransportStream.TransportStreamOptions['format'];
}

/**
 * Lines to a file, appended synchronously, rotated by size: the newest lines
 * are always in `path`; a full file moves to `name1.ext`, that one to
 * `name2.ext`, and so on, the oldest beyond `maxFiles` deleted.
 *
 * Synchronous, on purpose: winston's own File transport loses the lines
 * logged while it rotates (a burst of 3000 lines over 50 kB files lost about
 * 150), and a log that drops lines exactly when much happens is no log.
 * A line is on its way to the disk when `log()` returns, so nothing waits
 * in memory at exit. Write errors go to the logger's `error` event; the
 * next line tries again.
 */
export class RotatingFileTransport extends TransportStream {
  private fd: number | undefined;
  private size = 0;

  constructor(private readonly opts: RotatingFileOptions) {
    super({ format: opts.format });
    if (!(opts.maxFiles >= 1) || !(opts.maxBytes > 0)) throw new Error(`logging.file: maxFiles must be at least 1 and maxSizeMb above 0`);
    this.open();
  }

  /** The file holding the `n`th older part: `algd.log` -> `algd1.log`. */
  static rotatedName(path: string, n: number): string {
    const ext = extname(path);
    return `${path.slice(0, path.length - ext.length)}${n}${ext}`;
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const line = Buffer.from(`${String(info[MESSAGE])}\n`, 'utf8');
    try {
      if (this.size > 0 && this.size + line.length > this.opts.maxBytes) this.rotate();
      if (this.fd === undefined) this.open();
      writeSync(this.fd!, line);
      this.size += line.length;
    } catch (err) {
      this.closeFd();
      this.emit('error', err);
    }
    next();
  }

  override close(): void {
    this.closeFd();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.closeFd();
    callback();
  }

  private open(): void {
    this.fd = openSync(this.opts.path, 'a', 0o640);
    this.size = fstatSync(this.fd).size;
  }

  private rotate(): void {
    this.closeFd();
    const { path, maxFiles } = this.opts;
    if (maxFiles === 1) {
      rmSync(path, { force: true });
    } else {
      rmSync(RotatingFileTransport.rotatedName(path, maxFiles - 1), { force: true });
      for (let n = maxFiles - 2; n >= 1; n--) renameIfThere(RotatingFileTransport.rotatedName(path, n), RotatingFileTransport.rotatedName(path, n + 1));
      renameIfThere(path, RotatingFileTransport.rotatedName(path, 1));
    }
    this.open();
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } finally {
      this.fd = undefined;
    }
  }
}

function renameIfThere(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
