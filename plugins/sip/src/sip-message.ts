import { headerKey } from './header-names';
import { applyEdits, lengthDelta, trimSpan, type Edit, type Span } from './span';

/** RFC 3261 token characters (method names, header names). */
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const REQUEST_LINE = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP\/2\.0$/i;
const STATUS_LINE = /^SIP\/2\.0 ([1-6][0-9][0-9])(?: (.*))?$/i;
const CSEQ = /^([0-9]{1,10})[ \t\r\n]+([A-Za-z0-9\-.!%*_+`'~]+)$/;
/** More header lines than any real message has; beyond it the message is not read. */
const MAX_HEADERS = 256;

export type StartLine =
  | { readonly kind: 'request'; readonly method: string; readonly uri: Span }
  | { readonly kind: 'response'; readonly status: number };

/** One header field: its name as written, its full lower-case name, and its value over the original text (folded lines included). */
export interface HeaderField {
  readonly name: string;
  readonly key: string;
  /** The whole field, continuation lines included, without its final line break. */
  readonly line: Span;
  /** The value, without the LWS around it; may span folded lines. */
  readonly value: Span;
}

/** A parsed SIP message: spans over `text`, the message's bytes as latin1. */
export interface SipMessage {
  readonly text: string;
  readonly start: StartLine;
  readonly headers: readonly HeaderField[];
  readonly callId: string;
  readonly cseq: { readonly number: number; readonly method: string };
  /** The body: from the end of the headers, `Content-Length` bytes (to the end without one). Bytes after it are kept as they are. */
  readonly body: Span;
}

export type ParseResult = { readonly ok: true; readonly message: SipMessage } | { readonly ok: false; readonly reason: string };

/**
 * Reads a SIP message (RFC 3261 §7) without copying it apart: the start
 * line, each header field with its spans (continuation lines belong to the
 * field above), the body. Call-ID, CSeq and at least one Via are required
 * (§8.1.1); a message without them, with a start line that is neither a
 * request nor a status line, or with a header line that is not
 * `token: value`, is not a SIP message this plugin acts on.
 */
export function parseSipMessage(text: string): ParseResult {
  const fail = (reason: string): ParseResult => ({ ok: false, reason });
  const lines = headerLines(text);
  if (lines === undefined) return fail('no empty line after the headers');
  const first = lines.lines[0];
  if (first === undefined) return fail('empty message');
  const start = startLine(text, first);
  if (start === undefined) return fail('bad start line');
  const headers: HeaderField[] = [];
  for (let i = 1; i < lines.lines.length; i++) {
    const line = lines.lines[i]!;
    const ch = text[line.start];
    if (ch === ' ' || ch === '\t') {
      const last = headers.pop();
      if (last === undefined) return fail('continuation line without a header');
      headers.push({ ...last, line: { start: last.line.start, end: line.end }, value: trimSpan(text, { start: last.value.start, end: line.end }) });
      continue;
    }
    const colon = text.indexOf(':', line.start);
    if (colon < 0 || colon >= line.end) return fail('header line without a colon');
    const name = text.slice(line.start, colon).replace(/[ \t]+$/, '');
    if (!TOKEN.test(name)) return fail('bad header name');
    if (headers.length >= MAX_HEADERS) return fail('too many headers');
    headers.push({ name, key: headerKey(name), line, value: trimSpan(text, { start: colon + 1, end: line.end }) });
  }
  const valueOf = (h: HeaderField) => text.slice(h.value.start, h.value.end);
  const callIds = headers.filter((h) => h.key === 'call-id');
  if (callIds.length !== 1 || valueOf(callIds[0]!) === '') return fail('not exactly one Call-ID');
  const cseqs = headers.filter((h) => h.key === 'cseq');
  const cseq = cseqs.length === 1 ? CSEQ.exec(valueOf(cseqs[0]!)) : null;
  if (cseq === null) return fail('not exactly one well-formed CSeq');
  if (!headers.some((h) => h.key === 'via')) return fail('no Via');
  const bodyStart = lines.headerEnd;
  const length = headers.find((h) => h.key === 'content-length');
  // The host's framer has checked Content-Length; over UDP the body may be followed by bytes to discard (RFC 3261 §18.3).
  const declared = length === undefined ? undefined : Number(valueOf(length));
  const bodyEnd = declared === undefined || !Number.isSafeInteger(declared) ? text.length : Math.min(text.length, bodyStart + declared);
  return {
    ok: true,
    message: {
      text, start, headers,
      callId: valueOf(callIds[0]!),
      cseq: { number: Number(cseq[1]), method: cseq[2]! },
      body: { start: bodyStart, end: bodyEnd },
    },
  };
}

/** The message's header fields with full name `key` (compact forms included). */
export function headersNamed(message: SipMessage, key: string): HeaderField[] {
  return message.headers.filter((h) => h.key === key);
}

/** A header's value as text, folded lines joined with one space (for reading, never for forwarding). */
export function headerText(message: SipMessage, header: HeaderField): string {
  return message.text.slice(header.value.start, header.value.end).replace(/\r?\n[ \t]+/g, ' ');
}

/** The first value of header `key`, unfolded; undefined when absent. */
export function firstHeaderText(message: SipMessage, key: string): string | undefined {
  const h = message.headers.find((x) => x.key === key);
  return h === undefined ? undefined : headerText(message, h);
}

/** The body as text. */
export function bodyText(message: SipMessage): string {
  return message.text.slice(message.body.start, message.body.end);
}

/**
 * The message with the edits applied: untouched bytes stay as they were,
 * and when the body changed length every Content-Length is set to the new
 * one (a message without one keeps running to the end of its datagram).
 */
export function serialize(message: SipMessage, edits: readonly Edit[]): string {
  const delta = lengthDelta(edits, message.body);
  const all = [...edits];
  if (delta !== 0) {
    const length = String(message.body.end - message.body.start + delta);
    for (const h of headersNamed(message, 'content-length')) all.push({ ...h.value, text: length });
  }
  return applyEdits(message.text, all);
}

/** Line spans (without terminators) up to the empty line, and where the body begins. */
function headerLines(text: string): { lines: Span[]; headerEnd: number } | undefined {
  const lines: Span[] = [];
  let pos = 0;
  for (;;) {
    const lf = text.indexOf('\n', pos);
    if (lf < 0) return undefined;
    const end = lf > pos && text[lf - 1] === '\r' ? lf - 1 : lf;
    if (end === pos) return { lines, headerEnd: lf + 1 };
    lines.push({ start: pos, end });
    pos = lf + 1;
  }
}

function startLine(text: string, line: Span): StartLine | undefined {
  const s = text.slice(line.start, line.end);
  const request = REQUEST_LINE.exec(s);
  if (request) {
    const uriStart = line.start + request[1]!.length + 1;
    return { kind: 'request', method: request[1]!, uri: { start: uriStart, end: uriStart + request[2]!.length } };
  }
  const status = STATUS_LINE.exec(s);
  if (status) return { kind: 'response', status: Number(status[1]) };
  return undefined;
}
