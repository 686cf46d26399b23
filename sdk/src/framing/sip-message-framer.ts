import { DEFAULT_MAX_MESSAGE_SIZE, FramingError } from './framing';

const LF = 0x0a;
const CR = 0x0d;
const DOLLAR = 0x24;

/** Options of a {@link SipMessageFramer}. */
export interface SipMessageFramerOptions {
  /**
   * Largest message accepted, headers and body together (a positive
   * integer). Default {@link DEFAULT_MAX_MESSAGE_SIZE}.
   */
  readonly maxMessageSize?: number;
  /**
   * Recognise RTSP interleaved binary frames (`$`, channel byte, 16-bit
   * big-endian length, payload) at message starts. Default false.
   */
  readonly interleaved?: boolean;
}

/** Options of {@link checkSipDatagram}. */
export interface SipDatagramOptions {
  /** Largest datagram accepted. Default {@link DEFAULT_MAX_MESSAGE_SIZE}. */
  readonly maxMessageSize?: number;
}

/**
 * Cuts a byte stream into SIP, RTSP or HTTP/1.x style messages, as SIP over
 * TCP (RFC 3261 §18.3) and RTSP (RFC 2326 §4) frame them.
 *
 * A message is a start line and header lines up to the first empty line
 * (CRLFCRLF; LFLF and mixed forms are accepted too), followed by as many
 * body bytes as its `Content-Length` header declares. The header name is
 * matched case-insensitively, the SIP compact form `l` counts too, and
 * spaces or tabs around the colon and the value are allowed (folded
 * continuation lines are joined first). Without `Content-Length` the body
 * is empty. Chunked transfer coding is not understood.
 *
 * Empty lines before a message (the CRLF keepalives of RFC 5626) are
 * returned as messages of their own, one per empty line (`"\r\n"` or
 * `"\n"`): a CRLFCRLF ping therefore arrives as two `"\r\n"` messages,
 * whatever the chunking, and is never held back waiting for more data.
 *
 * With `interleaved`, a `$` at a message start begins an RTSP interleaved
 * frame (`$`, channel, 16-bit big-endian length, payload), returned whole as
 * one message.
 *
 * Refused with a {@link FramingError}, as soon as it is known:
 * - `'message-too-large'`: the header block alone, the header block plus the
 *   declared body, or an interleaved frame, exceeds `maxMessageSize`;
 * - `'bad-content-length'`: a `Content-Length` that is not a plain decimal
 *   number (empty, signed, with other characters), or several that disagree;
 * - `'bad-start-line'`: a message starting with a CR not followed by LF.
 *
 * After an error the framer stays failed and every later `push` throws the
 * same error. Messages are returned as exact copies of the stream's bytes.
 * The header search resumes where it stopped, so byte-by-byte delivery costs
 * no re-scanning.
 *
 * @example
 * ```ts
 * const framer = new SipMessageFramer();
 * framer.push(Buffer.from('OPTIONS sip:a@example.com SIP/2.0\r\nl: 2\r\n\r\nhi\r\n'));
 * // [<OPTIONS ... \r\n\r\nhi>, <\r\n>]
 * ```
 */
export class SipMessageFramer {
  /** Largest message accepted, headers and body together. */
  readonly maxMessageSize: number;
  /** Whether RTSP interleaved frames are recognised. */
  readonly interleaved: boolean;
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** Where the header search resumes (absolute index in `buf`). */
  private scan = 0;
  /** End of the current message (absolute index in `buf`), once known. */
  private messageEnd: number | undefined;
  private failure: FramingError | undefined;

  /** Throws a `RangeError` when `maxMessageSize` is not a positive integer. */
  constructor(options: SipMessageFramerOptions = {}) {
    this.maxMessageSize = checkedMax(options.maxMessageSize);
    this.interleaved = options.interleaved ?? false;
  }

  /** Bytes received but not yet returned as part of a message. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Returns the buffered start of an unfinished message and forgets it (a stream that stops being framed). */
  flush(): Buffer {
    const rest = Buffer.from(this.buf.subarray(this.start, this.end));
    this.start = this.end = this.scan = 0;
    this.messageEnd = undefined;
    return rest;
  }

  /**
   * Adds the next bytes of the stream and returns the messages they
   * complete, in order (possibly none). The chunk is not kept: returned
   * messages and the buffered remainder are copies.
   *
   * @throws {@link FramingError} when the stream breaks the framing.
   */
  push(chunk: Uint8Array): Buffer[] {
    if (this.failure) throw this.failure;
    const out: Buffer[] = [];
    try {
      this.append(chunk);
      this.extract(out);
      return out;
    } catch (err) {
      if (err instanceof FramingError) {
        err.completed = out;
        this.failure = err;
        this.buf = Buffer.alloc(0);
        this.start = this.end = this.scan = 0;
        this.messageEnd = undefined;
      }
      throw err;
    }
  }

  private extract(out: Buffer[]): void {
    const buf = this.buf;
    const max = this.maxMessageSize;
    while (this.start < this.end) {
      const start = this.start;
      if (this.messageEnd !== undefined) {
        if (this.end < this.messageEnd) break;
        this.emit(out, this.messageEnd);
        continue;
      }
      const first = buf[start]!;
      if (first === LF) {
        this.emit(out, start + 1);
        continue;
      }
      if (first === CR) {
        if (this.end - start < 2) break;
        if (buf[start + 1] !== LF) throw new FramingError('bad-start-line', 'message starts with a CR not followed by LF');
        this.emit(out, start + 2);
        continue;
      }
      if (first === DOLLAR && this.interleaved) {
        if (this.end - start < 4) break;
        const size = 4 + buf.readUInt16BE(start + 2);
        if (size > max) throw tooLarge(`interleaved frame of ${size} bytes exceeds the limit of ${max}`);
        this.messageEnd = start + size;
        continue;
      }
      const found = findHeaderEnd(buf, Math.max(this.scan, start), this.end);
      if (found.headerEnd < 0) {
        this.scan = found.resume;
        // The empty line is not here yet: the message has at least one more byte.
        if (this.end - start >= max) throw tooLarge(`header block exceeds the limit of ${max} bytes without ending`);
        break;
      }
      const headerSize = found.headerEnd - start;
      if (headerSize > max) throw tooLarge(`header block of ${headerSize} bytes exceeds the limit of ${max}`);
      const body = declaredBodyLength(buf, start, found.headerEnd) ?? 0;
      if (headerSize + body > max) {
        throw tooLarge(`message of ${headerSize} header bytes and ${body} body bytes exceeds the limit of ${max}`);
      }
      this.messageEnd = start + headerSize + body;
    }
    if (this.start === this.end && this.buf.length > 4 * 65_536) this.releaseBuffer();
  }

  private emit(out: Buffer[], messageEnd: number): void {
    out.push(Buffer.from(this.buf.subarray(this.start, messageEnd)));
    this.start = messageEnd;
    this.scan = messageEnd;
    this.messageEnd = undefined;
  }

  private releaseBuffer(): void {
    this.buf = Buffer.alloc(0);
    this.start = this.end = this.scan = 0;
  }

  private append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.start === this.end) {
      this.start = this.end = this.scan = 0;
    }
    if (this.end + chunk.length > this.buf.length) {
      if (this.start > 0) {
        // Move the remainder to the front; indexes shift with it.
        const shift = this.start;
        this.buf.copyWithin(0, shift, this.end);
        this.start = 0;
        this.end -= shift;
        this.scan -= shift;
        if (this.messageEnd !== undefined) this.messageEnd -= shift;
      }
      const needed = this.end + chunk.length;
      if (needed > this.buf.length) {
        const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.buf.length, 1024));
        this.buf.copy(grown, 0, 0, this.end);
        this.buf = grown;
      }
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }
}

/**
 * Checks that a datagram carries exactly one SIP (or RTSP/HTTP style)
 * message, as a UDP control channel with `sip` framing requires, and
 * returns normally when it does.
 *
 * Accepted: a start line and headers ending with an empty line, followed by
 * at least the number of body bytes its `Content-Length` declares (RFC 3261
 * §18.3: bytes beyond it are the receiver's to discard; without
 * `Content-Length` the body runs to the end of the datagram). A keepalive
 * datagram made only of empty lines (`"\r\n\r\n"`, `"\r\n"`) is accepted too.
 *
 * Refused with a {@link FramingError}:
 * - `'message-too-large'`: the datagram exceeds `maxMessageSize`;
 * - `'truncated-message'`: empty, no empty line ending the headers, or fewer
 *   body bytes than `Content-Length` declares;
 * - `'bad-content-length'`: as for {@link SipMessageFramer};
 * - `'bad-start-line'`: empty lines followed by anything else (the datagram
 *   does not start at its message's start line).
 *
 * Throws a `RangeError` when `maxMessageSize` is not a positive integer.
 */
export function checkSipDatagram(datagram: Uint8Array, options: SipDatagramOptions = {}): void {
  const max = checkedMax(options.maxMessageSize);
  if (datagram.length > max) throw tooLarge(`datagram of ${datagram.length} bytes exceeds the limit of ${max}`);
  if (datagram.length === 0) throw new FramingError('truncated-message', 'empty datagram');
  let pos = 0;
  while (pos < datagram.length) {
    if (datagram[pos] === LF) pos += 1;
    else if (datagram[pos] === CR && datagram[pos + 1] === LF) pos += 2;
    else break;
  }
  if (pos === datagram.length) return; // keepalive
  if (pos > 0 || datagram[0] === CR) {
    throw new FramingError('bad-start-line', 'datagram does not start with a start line');
  }
  const found = findHeaderEnd(datagram, 0, datagram.length);
  if (found.headerEnd < 0) throw new FramingError('truncated-message', 'datagram ends before the empty line ending the headers');
  const body = declaredBodyLength(datagram, 0, found.headerEnd);
  const available = datagram.length - found.headerEnd;
  if (body !== undefined && body > available) {
    throw new FramingError('truncated-message', `Content-Length ${body} exceeds the ${available} body bytes in the datagram`);
  }
}

function checkedMax(value: number | undefined): number {
  const max = value ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError(`maxMessageSize must be a positive integer, not ${String(max)}`);
  }
  return max;
}

function tooLarge(message: string): FramingError {
  return new FramingError('message-too-large', message);
}

/**
 * Searches `bytes[from, end)` for an LF followed by an empty line (LF or
 * CRLF). `headerEnd` is the index just past that empty line, or -1; then
 * `resume` is where a later search over more bytes must start.
 */
function findHeaderEnd(bytes: Uint8Array, from: number, end: number): { headerEnd: number; resume: number } {
  const view = bytes.subarray(0, end);
  let i = from;
  for (;;) {
    const lf = view.indexOf(LF, i);
    if (lf < 0) return { headerEnd: -1, resume: end };
    if (lf + 1 >= end) return { headerEnd: -1, resume: lf };
    const next = bytes[lf + 1];
    if (next === LF) return { headerEnd: lf + 2, resume: lf };
    if (next === CR) {
      if (lf + 2 >= end) return { headerEnd: -1, resume: lf };
      if (bytes[lf + 2] === LF) return { headerEnd: lf + 3, resume: lf };
    }
    i = lf + 1;
  }
}

/** Beyond this many significant digits a length exceeds any bound (and any safe integer). */
const MAX_LENGTH_DIGITS = 15;

/**
 * The body length the header block `bytes[start, end)` declares, or
 * undefined without `Content-Length`. Throws `'bad-content-length'`.
 * A length too long to represent is returned as `Infinity`.
 */
function declaredBodyLength(bytes: Uint8Array, start: number, end: number): number | undefined {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  // Unfold continuation lines (leading SP/HT) into their header; the first line is the start line.
  const headers: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') break;
    if ((line.startsWith(' ') || line.startsWith('\t')) && headers.length > 0) {
      headers[headers.length - 1] += ' ' + line;
    } else {
      headers.push(line);
    }
  }
  let declared: string | undefined;
  for (const header of headers) {
    const colon = header.indexOf(':');
    if (colon < 0) continue;
    const name = header.slice(0, colon).replace(/[ \t]+$/, '').toLowerCase();
    if (name !== 'content-length' && name !== 'l') continue;
    const value = header.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!/^[0-9]+$/.test(value)) {
      throw new FramingError('bad-content-length', `Content-Length is not a decimal number: ${JSON.stringify(value.slice(0, 40))}`);
    }
    const significant = value.replace(/^0+(?=.)/, '');
    if (declared !== undefined && declared !== significant) {
      throw new FramingError('bad-content-length', `conflicting Content-Length values ${declared.slice(0, 20)} and ${significant.slice(0, 20)}`);
    }
    declared = significant;
  }
  if (declared === undefined) return undefined;
  return declared.length > MAX_LENGTH_DIGITS ? Infinity : Number(declared);
}
