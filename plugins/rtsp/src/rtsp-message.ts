/**
 * One RTSP message (RFC 2326 §4, §6, §7; RFC 7826 §8) as the host framed it:
 * the start line and the headers as spans over the original bytes, so that
 * a rewrite changes only the values it touches and every other byte,
 * the body included, goes on as it came.
 */

/** One header line (with its continuation lines, if folded). Offsets index the message's latin1 text, byte for byte. */
export interface HeaderSpan {
  /** The name as sent. */
  readonly name: string;
  /** The name in lower case, for lookups. */
  readonly key: string;
  /** The value with folding joined by single spaces and outer whitespace trimmed. */
  readonly value: string;
  /** Where the trimmed value starts and ends in the text (a folded value ends on its last continuation line). */
  readonly valueStart: number;
  readonly valueEnd: number;
}

interface MessageBase {
  readonly headers: readonly HeaderSpan[];
  /** The whole message as latin1 text (one character per byte). */
  readonly text: string;
}

export interface RtspRequest extends MessageBase {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
  /** `RTSP/1.0` or `RTSP/2.0` as sent. */
  readonly version: string;
}

export interface RtspResponse extends MessageBase {
  readonly kind: 'response';
  readonly version: string;
  readonly status: number;
}

export type RtspMessage = RtspRequest | RtspResponse;

/** Why a message was left unread; the plugin counts it by this name. */
export type Unread = { readonly kind: 'unread'; readonly reason: 'line-too-long' | 'too-many-headers' | 'bad-start-line' | 'bad-header' };

/** The plugin's own bounds, on top of the host's framing bound on the whole message. */
export interface MessageLimits {
  readonly maxLineLength: number;
  readonly maxHeaderLines: number;
}

const REQUEST_LINE = /^([A-Za-z_][A-Za-z0-9_-]{0,31}) ([!-~]{1,4096}) (RTSP\/[0-9]\.[0-9])$/;
const STATUS_LINE = /^(RTSP\/[0-9]\.[0-9]) ([1-5][0-9][0-9])(?: [^\r\n]*)?$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
/** Field values: visible characters, spaces, tabs and obs-text; never NUL or other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** True for what is no RTSP message at all: an interleaved `$` frame or an empty keep-alive line. */
export function isRtspMessage(message: Buffer): boolean {
  return message.length > 0 && message[0] !== 0x24 && message[0] !== 0x0d && message[0] !== 0x0a;
}

/** Reads a message's start line and headers; never throws. */
export function parseRtspMessage(message: Buffer, limits: MessageLimits): RtspMessage | Unread {
  const unread = (reason: Unread['reason']): Unread => ({ kind: 'unread', reason });
  const text = message.toString('latin1');
  const lines = splitHeaderLines(text, limits.maxHeaderLines + 2);
  if (lines === undefined) return unread('too-many-headers');
  if (lines.length === 0) return unread('bad-start-line');
  if (lines.some((l) => l.end - l.start > limits.maxLineLength)) return unread('line-too-long');
  const startLine = text.slice(lines[0]!.start, lines[0]!.end);
  const headers: HeaderSpan[] = [];
  for (const line of lines.slice(1)) {
    const raw = text.slice(line.start, line.end);
    if (!FIELD_VALUE.test(raw)) return unread('bad-header');
    if (raw.startsWith(' ') || raw.startsWith('\t')) {
      // A continuation line (RFC 2326 §4 follows HTTP/1.1's LWS): it extends the previous header's value.
      const last = headers.pop();
      if (last === undefined) return unread('bad-header');
      const more = raw.trim();
      headers.push(more === '' ? last : { ...last, value: `${last.value} ${more}`.trim(), valueEnd: line.start + raw.trimEnd().length });
      continue;
    }
    const colon = raw.indexOf(':');
    const name = colon < 0 ? '' : raw.slice(0, colon).trimEnd();
    if (!HEADER_NAME.test(name)) return unread('bad-header');
    const after = raw.slice(colon + 1);
    const lead = after.length - after.trimStart().length;
    const value = after.trim();
    const valueStart = line.start + colon + 1 + lead;
    headers.push({ name, key: name.toLowerCase(), value, valueStart, valueEnd: valueStart + value.length });
  }
  if (headers.length > limits.maxHeaderLines) return unread('too-many-headers');
  const req = REQUEST_LINE.exec(startLine);
  if (req) return { kind: 'request', method: req[1]!, uri: req[2]!, version: req[3]!, headers, text };
  const res = STATUS_LINE.exec(startLine);
  if (res) return { kind: 'response', version: res[1]!, status: Number(res[2]), headers, text };
  return unread('bad-start-line');
}

/** Every header of that name (case-insensitive), in order. */
export function headersNamed(m: RtspMessage, name: string): HeaderSpan[] {
  const key = name.toLowerCase();
  return m.headers.filter((h) => h.key === key);
}

/** The value of the only header of that name; undefined when absent or repeated (ambiguous, never guessed). */
export function singleHeader(m: RtspMessage, name: string): HeaderSpan | undefined {
  const found = headersNamed(m, name);
  return found.length === 1 ? found[0] : undefined;
}

/** CSeq (RFC 2326 §12.17): a plain decimal number, as text without leading zeros. */
export function cseqOf(m: RtspMessage): string | undefined {
  const v = singleHeader(m, 'CSeq')?.value;
  return v !== undefined && /^[0-9]{1,10}$/.test(v) ? String(Number(v)) : undefined;
}

/** RFC 2326 §3.4: session-id = 1*( ALPHA | DIGIT | safe ); bounded. */
const SESSION_ID = /^[A-Za-z0-9$\-_.+]{1,128}$/;

/** The Session header (§12.37): its id and announced timeout in seconds. */
export interface SessionHeader {
  readonly id: string;
  readonly timeoutS?: number;
}

/** Reads `Session: id[;timeout=N]`; undefined when absent, repeated or malformed. */
export function sessionOf(m: RtspMessage): SessionHeader | undefined {
  const v = singleHeader(m, 'Session')?.value;
  if (v === undefined) return undefined;
  const [idText, ...params] = v.split(';');
  const id = idText!.trim();
  if (!SESSION_ID.test(id)) return undefined;
  for (const p of params) {
    const t = /^\s*timeout\s*=\s*([0-9]{1,9})\s*$/i.exec(p);
    if (t) return { id, timeoutS: Number(t[1]) };
  }
  return { id };
}

/** The message with some header values replaced; every other byte as it came. */
export function rewriteHeaders(message: Buffer, replace: ReadonlyMap<HeaderSpan, string>): Buffer {
  const spans = [...replace.keys()].sort((a, b) => a.valueStart - b.valueStart);
  const parts: Buffer[] = [];
  let at = 0;
  for (const span of spans) {
    parts.push(message.subarray(at, span.valueStart), Buffer.from(replace.get(span)!, 'latin1'));
    at = span.valueEnd;
  }
  parts.push(message.subarray(at));
  return Buffer.concat(parts);
}

/**
 * The lines of the header block (start line first), as offsets without
 * their terminators; undefined beyond `maxLines` lines. The host's framer
 * has found the empty line ending the block, LF or CRLF terminated.
 */
function splitHeaderLines(text: string, maxLines: number): { start: number; end: number }[] | undefined {
  const lines: { start: number; end: number }[] = [];
  let at = 0;
  while (at < text.length) {
    const lf = text.indexOf('\n', at);
    const stop = lf < 0 ? text.length : lf;
    const end = stop > at && text.charCodeAt(stop - 1) === 0x0d ? stop - 1 : stop;
    if (end === at) break; // the empty line: the body follows
    if (lines.length === maxLines) return undefined;
    lines.push({ start: at, end });
    at = stop + 1;
  }
  return lines;
}
