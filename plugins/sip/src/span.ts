/** A range `[start, end)` of character offsets in a message's latin1 text (one character per byte). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** A replacement of one span of the original text. */
export interface Edit extends Span {
  readonly text: string;
}

/** Whitespace between tokens of a header value, folded line breaks included (RFC 3261 LWS). */
export function isLws(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

/** `span` without leading and trailing LWS. */
export function trimSpan(text: string, span: Span): Span {
  let { start, end } = span;
  while (start < end && isLws(text[start])) start++;
  while (end > start && isLws(text[end - 1])) end--;
  return { start, end };
}

/**
 * The text with the edits applied. Edits must not overlap; an edit that
 * overlaps an earlier one (by start) is ignored rather than corrupting the
 * output. Everything outside the edits is kept byte for byte.
 */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let pos = 0;
  for (const e of sorted) {
    if (e.start < pos) continue;
    out += text.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  return out + text.slice(pos);
}

/** How much the edits inside `[start, end)` change that range's length. */
export function lengthDelta(edits: readonly Edit[], within: Span): number {
  return edits.filter((e) => e.start >= within.start && e.end <= within.end).reduce((n, e) => n + e.text.length - (e.end - e.start), 0);
}
