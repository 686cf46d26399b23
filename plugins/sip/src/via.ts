import { findParam } from './header-values';
import type { Span } from './span';

/** The address-carrying parts of one Via element (RFC 3261 §20.42, RFC 3581). */
export interface ViaSpans {
  /** `host[:port]` after the protocol (`SIP/2.0/UDP`). */
  readonly sentBy: Span;
  /** `received=` value: the source address the next hop saw. */
  readonly received?: Span;
  /** `rport=` value (empty when the parameter has none: the sender asks for it). */
  readonly rport?: Span;
  readonly maddr?: Span;
}

const PROTOCOL = /^[A-Za-z0-9\-.!%*_+`'~]+[ \t\r\n]*\/[ \t\r\n]*[A-Za-z0-9\-.!%*_+`'~]+[ \t\r\n]*\/[ \t\r\n]*[A-Za-z0-9\-.!%*_+`'~]+[ \t\r\n]+/;

/** Reads one Via element (`SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK1;rport`); undefined when it is not one. */
export function parseVia(text: string, element: Span): ViaSpans | undefined {
  const s = text.slice(element.start, element.end);
  const protocol = PROTOCOL.exec(s);
  if (!protocol) return undefined;
  const hostStart = element.start + protocol[0].length;
  let hostEnd = hostStart;
  if (text[hostStart] === '[') {
    const close = text.indexOf(']', hostStart);
    if (close < 0 || close >= element.end) return undefined;
    hostEnd = close + 1;
    while (hostEnd < element.end && /[:0-9]/.test(text[hostEnd]!)) hostEnd++;
  } else {
    while (hostEnd < element.end && !'; \t\r\n'.includes(text[hostEnd]!)) hostEnd++;
  }
  if (hostEnd === hostStart) return undefined;
  const params: Span = { start: hostEnd, end: element.end };
  const out: { sentBy: Span; received?: Span; rport?: Span; maddr?: Span } = { sentBy: { start: hostStart, end: hostEnd } };
  const received = findParam(text, params, 'received');
  const rport = findParam(text, params, 'rport');
  const maddr = findParam(text, params, 'maddr');
  if (received) out.received = received;
  if (rport) out.rport = rport;
  if (maddr) out.maddr = maddr;
  return out;
}
