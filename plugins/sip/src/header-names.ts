/**
 * SIP header names (RFC 3261 §7.3.3 and later RFCs' compact forms). Header
 * names are case-insensitive; a header is known by its full name in lower
 * case whatever form the message used.
 */
const COMPACT: Readonly<Record<string, string>> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

/** The full lower-case name of a header written as `name` (full or compact, any case). */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  return Object.hasOwn(COMPACT, lower) ? COMPACT[lower]! : lower;
}
