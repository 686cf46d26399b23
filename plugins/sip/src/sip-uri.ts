import type { Span } from './span';

/** Where the parts of a SIP URI that may carry an address are, over the message text. */
export interface UriAddressSpans {
  /** `host[:port]`, IPv6 references in brackets. */
  readonly hostPort: Span;
  /** The value of a `maddr` URI parameter. */
  readonly maddr?: Span;
}

/**
 * Finds the host part of a `sip:` / `sips:` URI in `text[span]` (RFC 3261
 * §19.1.1: `sip:user:password@host:port;params?headers`). The user part
 * may itself hold `;` and `?`, so the host starts after the last `@`.
 * Other schemes (`tel:`, `urn:`...) carry no address: undefined.
 */
export function findUriAddress(text: string, span: Span): UriAddressSpans | undefined {
  const uri = text.slice(span.start, span.end);
  const scheme = /^sips?:/i.exec(uri);
  if (!scheme) return undefined;
  const at = uri.lastIndexOf('@');
  const hostStart = at >= 0 ? at + 1 : scheme[0].length;
  let hostEnd: number;
  if (uri[hostStart] === '[') {
    const close = uri.indexOf(']', hostStart);
    if (close < 0) return undefined;
    hostEnd = close + 1;
    const port = /^:[0-9]*/.exec(uri.slice(hostEnd));
    if (port) hostEnd += port[0].length;
  } else {
    hostEnd = hostStart;
    while (hostEnd < uri.length && !';?>'.includes(uri[hostEnd]!)) hostEnd++;
  }
  if (hostEnd === hostStart) return undefined;
  const out: { hostPort: Span; maddr?: Span } = { hostPort: { start: span.start + hostStart, end: span.start + hostEnd } };
  const query = uri.indexOf('?', hostEnd);
  const params = uri.slice(hostEnd, query < 0 ? uri.length : query);
  const maddr = /;maddr=([^;?]*)/i.exec(params);
  if (maddr) {
    const start = span.start + hostEnd + maddr.index + ';maddr='.length;
    out.maddr = { start, end: start + maddr[1]!.length };
  }
  return out;
}
