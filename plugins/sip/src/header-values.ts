import { isLws, trimSpan, type Span } from './span';

/**
 * Splits a header value into its comma-separated elements (RFC 3261 §7.3.1),
 * ignoring commas inside quoted strings and `<...>` (URIs may hold commas).
 * Spans are over the original text, without LWS around each element.
 */
export function splitElements(text: string, value: Span): Span[] {
  const out: Span[] = [];
  let start = value.start;
  let quoted = false;
  let angle = false;
  for (let i = value.start; i < value.end; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') angle = true;
    else if (ch === '>') angle = false;
    else if (ch === ',' && !angle) {
      out.push(trimSpan(text, { start, end: i }));
      start = i + 1;
    }
  }
  out.push(trimSpan(text, { start, end: value.end }));
  return out.filter((s) => s.end > s.start);
}

/**
 * The URI of a `name-addr` or `addr-spec` element (Contact, From, To,
 * Route, Record-Route; RFC 3261 §20.10): between `<` and `>` when present,
 * otherwise up to the first `;` (which starts header parameters there).
 * The span of the header parameters after it is returned too.
 */
export function elementUri(text: string, element: Span): { uri: Span; params: Span } | undefined {
  let quoted = false;
  for (let i = element.start; i < element.end; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') {
      const close = text.indexOf('>', i);
      if (close < 0 || close >= element.end) return undefined;
      return { uri: { start: i + 1, end: close }, params: { start: close + 1, end: element.end } };
    }
  }
  let end = element.start;
  while (end < element.end && text[end] !== ';' && !isLws(text[end])) end++;
  const semi = text.indexOf(';', end);
  const paramsStart = semi < 0 || semi >= element.end ? element.end : semi;
  return { uri: { start: element.start, end }, params: { start: paramsStart, end: element.end } };
}

/** A `;name=value` parameter among `text[span]` (name case-insensitive): the value's span, or an empty span for a parameter without value; undefined when absent. */
export function findParam(text: string, span: Span, name: string): Span | undefined {
  const re = new RegExp(`;[ \\t\\r\\n]*${name}[ \\t\\r\\n]*(?:=[ \\t\\r\\n]*("[^"]*"|[^;, \\t\\r\\n]*))?(?=[ \\t\\r\\n]*(?:;|$))`, 'i');
  const m = re.exec(text.slice(span.start, span.end));
  if (!m) return undefined;
  if (m[1] === undefined) {
    const at = span.start + m.index + m[0].length;
    return { start: at, end: at };
  }
  const start = span.start + m.index + m[0].length - m[1].length;
  return { start, end: start + m[1].length };
}
