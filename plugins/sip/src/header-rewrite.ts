import type { AddressMap } from './address-map';
import { elementUri, splitElements } from './header-values';
import type { SipMessage } from './sip-message';
import { findUriAddress } from './sip-uri';
import type { Edit, Span } from './span';
import { parseVia } from './via';

/** Headers whose elements are `name-addr` / `addr-spec` with a URI that may carry the phone's address. */
const URI_HEADERS: ReadonlySet<string> = new Set(['contact', 'from', 'to', 'route', 'record-route']);
/** Of those, the ones naming a party rather than routing to it. */
const IDENTITY_HEADERS: ReadonlySet<string> = new Set(['from', 'to']);

/** What translating a message's headers found. */
export interface HeaderRewrite {
  readonly edits: Edit[];
  /** The sent-by of the top Via, as written, when it was translated (the phone's own form of its address). */
  readonly topViaSentBy?: string;
}

/**
 * The edits that translate the Request-URI, every Via (sent-by,
 * `received`, `rport`, `maddr`) and the URIs of Contact, From, To, Route
 * and Record-Route, every element of each, with `map`. Everything else,
 * unknown headers included, stays as it is.
 */
export function rewriteHeaders(message: SipMessage, map: AddressMap): HeaderRewrite {
  const { text } = message;
  const edits: Edit[] = [];
  const replace = (span: Span, by: ((s: string) => string | undefined)): boolean => {
    const replacement = by(text.slice(span.start, span.end));
    if (replacement === undefined) return false;
    edits.push({ ...span, text: replacement });
    return true;
  };
  const uri = (span: Span, identity = false) => {
    const found = findUriAddress(text, span);
    if (found === undefined) return;
    replace(found.hostPort, (s) => map.hostPort(s, identity));
    if (found.maddr) replace(found.maddr, map.address);
  };
  if (message.start.kind === 'request') uri(message.start.uri);
  let topViaSentBy: string | undefined;
  let topVia = true;
  for (const header of message.headers) {
    if (header.key === 'via') {
      for (const element of splitElements(text, header.value)) {
        const via = parseVia(text, element);
        const top = topVia;
        topVia = false;
        if (via === undefined) continue;
        const sentBy = text.slice(via.sentBy.start, via.sentBy.end);
        const ours = replace(via.sentBy, (s) => map.hostPort(s));
        if (ours && top) topViaSentBy = sentBy;
        if (via.received) replace(via.received, map.address);
        if (via.maddr) replace(via.maddr, map.address);
        if (ours && via.rport && via.rport.end > via.rport.start) replace(via.rport, map.rport);
      }
    } else if (URI_HEADERS.has(header.key)) {
      for (const element of splitElements(text, header.value)) {
        const found = elementUri(text, element);
        if (found) uri(found.uri, IDENTITY_HEADERS.has(header.key));
      }
    }
  }
  return topViaSentBy === undefined ? { edits } : { edits, topViaSentBy };
}
