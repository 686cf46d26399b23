import { DEFAULT_MAX_LINE_LENGTH, FramingError } from './framing';

const LF = 0x0a;

/** Options of a {@link LineFramer}. */
export interface LineFramerOptions {
  /**
   * Longest line accepted, terminator included (a positive integer).
   * Default {@link DEFAULT_MAX_LINE_LENGTH}.
   */
  readonly maxLineLength?: number;
}

/**
 * Cuts a byte stream into text lines, as FTP and SMTP control connections
 * use them.
 *
 * A line ends with LF; the usual CRLF terminator is therefore covered, and a
 * bare LF is accepted too. Each line is returned with its terminator and
 * otherwise unchanged, as a copy the caller owns; bytes after the last LF
 * stay buffered until their terminator arrives.
 *
 * A line longer than `maxLineLength` (terminator included) is refused with a
 * {@link FramingError} `'line-too-long'` as soon as that is certain, before
 * its terminator arrives: buffering stays bounded whatever the peer sends.
 * After an error the framer stays failed and every later `push` throws the
 * same error.
 *
 * The buffered remainder never contains an LF, so each byte is scanned once
 * however the stream is chunked (no re-scanning on byte-by-byte delivery).
 *
 * @example
 * ```ts
 * const framer = new LineFramer();
 * framer.push(Buffer.from('USER anonymous\r\nPAS')); // [<USER anonymous\r\n>]
 * framer.push(Buffer.from('S guest\r\n'));            // [<PASS guest\r\n>]
 * ```
 */
export class LineFramer {
  /** Longest line accepted, terminator included. */
  readonly maxLineLength: number;
  private pending: Buffer = Buffer.alloc(0);
  private pendingLength = 0;
  private failure: FramingError | undefined;

  /** Throws a `RangeError` when `maxLineLength` is not a positive integer. */
  constructor(options: LineFramerOptions = {}) {
    const max = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`maxLineLength must be a positive integer, not ${String(max)}`);
    }
    this.maxLineLength = max;
  }

  /** Bytes received but not yet returned as a line (the start of an unterminated line). */
  get buffered(): number {
    return this.pendingLength;
  }

  /** Returns the buffered start of an unfinished line and forgets it (a stream that stops being framed). */
  flush(): Buffer {
    const rest = Buffer.from(this.pending.subarray(0, this.pendingLength));
    this.pendingLength = 0;
    return rest;
  }

  /**
   * Adds the next bytes of the stream and returns the lines they complete,
   * in order, terminators included (possibly none). The chunk is not kept:
   * returned lines and the buffered remainder are copies.
   *
   * @throws {@link FramingError} `'line-too-long'` when a line exceeds the bound.
   */
  push(chunk: Uint8Array): Buffer[] {
    if (this.failure) throw this.failure;
    const lines: Buffer[] = [];
    try {
      return this.split(chunk, lines);
    } catch (err) {
      if (err instanceof FramingError) err.completed = lines;
      throw err;
    }
  }

  private split(chunk: Uint8Array, lines: Buffer[]): Buffer[] {
    let pos = 0;
    if (this.pendingLength > 0) {
      // Complete the buffered line first; it holds no LF, so only the chunk is scanned.
      const lf = chunk.indexOf(LF);
      if (lf < 0) {
        this.checkUnterminated(this.pendingLength + chunk.length);
        this.append(chunk);
        return lines;
      }
      this.checkTerminated(this.pendingLength + lf + 1);
      const line = Buffer.allocUnsafe(this.pendingLength + lf + 1);
      this.pending.copy(line, 0, 0, this.pendingLength);
      line.set(chunk.subarray(0, lf + 1), this.pendingLength);
      lines.push(line);
      this.pendingLength = 0;
      pos = lf + 1;
    }
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) {
        this.checkUnterminated(chunk.length - pos);
        this.append(chunk.subarray(pos));
        break;
      }
      this.checkTerminated(lf + 1 - pos);
      lines.push(Buffer.from(chunk.subarray(pos, lf + 1)));
      pos = lf + 1;
    }
    if (this.pendingLength === 0 && this.pending.length > 4096) this.pending = Buffer.alloc(0);
    return lines;
  }

  /** A line known to have `length` bytes, terminator included. */
  private checkTerminated(length: number): void {
    if (length > this.maxLineLength) {
      this.fail(`line of ${length} bytes exceeds the limit of ${this.maxLineLength}`);
    }
  }

  /** `length` bytes without a terminator: the line will have at least one more byte. */
  private checkUnterminated(length: number): void {
    if (length >= this.maxLineLength) {
      this.fail(`line exceeds the limit of ${this.maxLineLength} bytes (${length} bytes without a terminator)`);
    }
  }

  private fail(message: string): never {
    this.failure = new FramingError('line-too-long', message);
    this.pendingLength = 0;
    this.pending = Buffer.alloc(0);
    throw this.failure;
  }

  private append(bytes: Uint8Array): void {
    const needed = this.pendingLength + bytes.length;
    if (needed > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.maxLineLength, Math.max(needed, 2 * this.pending.length, 64)));
      this.pending.copy(grown, 0, 0, this.pendingLength);
      this.pending = grown;
    }
    this.pending.set(bytes, this.pendingLength);
    this.pendingLength = needed;
  }
}
