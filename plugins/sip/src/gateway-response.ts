import { createHash } from 'node:crypto';
import { findParam } from './header-values';
import { headersNamed, headerText, type SipMessage } from './sip-message';

/**
 * The gateway's own final response to a request it refuses (RFC 3261
 * §8.2.6): the request's Via values in order, From, To (with a To tag when
 * it had none), Call-ID and CSeq, a Warning saying why, and `extra` header
 * lines; no body. The To tag is derived from the Call-ID and CSeq, so a
 * retransmitted request gets the same response.
 */
export function gatewayResponse(request: SipMessage, status: number, reason: string, warning: string, extra: readonly string[] = []): string {
  const lines = [`SIP/2.0 ${status} ${reason}`];
  for (const via of headersNamed(request, 'via')) lines.push(`Via: ${headerText(request, via)}`);
  const copy = (key: string, name: string) => {
    for (const h of headersNamed(request, key)) lines.push(`${name}: ${headerText(request, h)}`);
  };
  copy('from', 'From');
  const to = headersNamed(request, 'to')[0];
  if (to !== undefined) {
    const value = headerText(request, to);
    const tagged = findParam(request.text, afterUri(request, to.value), 'tag') !== undefined;
    lines.push(`To: ${value}${tagged ? '' : `;tag=${tagFor(request)}`}`);
  }
  copy('call-id', 'Call-ID');
  copy('cseq', 'CSeq');
  lines.push(`Warning: 399 algd "${warning.replace(/["\\\r\n]/g, '')}"`);
  lines.push(...extra, 'Content-Length: 0', '', '');
  return lines.join('\r\n');
}

/** The span of a To value after its URI's closing `>` (or the whole value for an addr-spec), where header parameters are. */
function afterUri(request: SipMessage, value: { start: number; end: number }): { start: number; end: number } {
  const close = request.text.lastIndexOf('>', value.end);
  return close >= value.start ? { start: close + 1, end: value.end } : value;
}

function tagFor(request: SipMessage): string {
  return createHash('sha256').update(`${request.callId} ${request.cseq.number}`).digest('hex').slice(0, 10);
}
