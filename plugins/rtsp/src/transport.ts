import { ipAddress, type IpAddress, type Port } from '@algd/sdk';

/**
 * The Transport header (RFC 2326 §12.39, RFC 7826 §18.54): comma-separated
 * alternatives, each `protocol/profile[/lower]` followed by `;` parameters,
 * values possibly quoted. Kept as the pieces that were sent, so a rewrite
 * changes only the values it touches.
 */

/** One `;` parameter: `name` or `name=value`. */
export interface TransportParam {
  /** Lower case, for lookups. */
  readonly name: string;
  /** The value as sent, trimmed; undefined for a flag such as `unicast`. */
  readonly value?: string;
}

/** One transport alternative. */
export interface TransportSpec {
  /** `RTP/AVP`, `RTP/AVP/TCP`... as sent. */
  readonly protocol: string;
  /** The lower transport, upper case; RTP's default is UDP. */
  readonly lower: string;
  readonly params: readonly TransportParam[];
  /** The `;`-separated pieces as sent, protocol first, whitespace included. */
  readonly pieces: readonly string[];
}

/** What the gateway does with an alternative. */
export type TransportKind =
  /** UDP to ports of the client: mapped. */
  | 'udp-unicast'
  /** Group addresses: not the NAT's business, passed unchanged. */
  | 'multicast'
  /** RTP over the control connection (`interleaved`) or another TCP connection: passed unchanged. */
  | 'tcp'
  /** UDP without client ports (the server's choice, or not unicast RTP at all): nothing to map. */
  | 'unmapped';

/** `client_port=a-b` or a single port (RTCP then conventionally on the next one). */
export interface PortRange {
  readonly first: Port;
  readonly second?: Port;
}

const PROTOCOL = /^[A-Za-z0-9_.+-]{1,32}\/[A-Za-z0-9_.+-]{1,32}(?:\/[A-Za-z0-9_.+-]{1,32})?$/;
const PARAM_NAME = /^[A-Za-z0-9_.+-]{1,64}$/;
const PORT_RANGE = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/;
/** Parameters the gateway reads: each at most once, or the alternative is ambiguous. */
const READ_ONCE = ['client_port', 'server_port', 'destination', 'source', 'unicast', 'multicast'];
/** Parameters whose value must be a port range when present. */
const PORT_PARAMS = ['client_port', 'server_port'];

/**
 * Parses a Transport header value; undefined when any alternative is not
 * well formed (an unbalanced quote, an empty alternative, a bad protocol
 * or parameter name, a repeated or malformed port parameter). Never throws.
 */
export function parseTransportHeader(value: string): TransportSpec[] | undefined {
  const alternatives = splitOutsideQuotes(value, ',');
  if (alternatives === undefined) return undefined;
  const specs: TransportSpec[] = [];
  for (const alternative of alternatives) {
    const spec = parseSpec(alternative);
    if (spec === undefined) return undefined;
    specs.push(spec);
  }
  return specs;
}

function parseSpec(text: string): TransportSpec | undefined {
  const pieces = splitOutsideQuotes(text, ';');
  if (pieces === undefined) return undefined;
  const protocol = pieces[0]!.trim();
  if (!PROTOCOL.test(protocol)) return undefined;
  const params: TransportParam[] = [];
  for (const piece of pieces.slice(1)) {
    const p = piece.trim();
    if (p === '') continue; // a stray `;`, as in `RTP/AVP;unicast;`
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim();
    if (!PARAM_NAME.test(name)) return undefined;
    params.push(eq < 0 ? { name: name.toLowerCase() } : { name: name.toLowerCase(), value: p.slice(eq + 1).trim() });
  }
  for (const name of READ_ONCE) if (params.filter((p) => p.name === name).length > 1) return undefined;
  for (const name of PORT_PARAMS) {
    const p = params.find((q) => q.name === name);
    if (p !== undefined && (p.value === undefined || parsePortRange(p.value) === undefined)) return undefined;
  }
  const lower = (protocol.split('/')[2] ?? 'UDP').toUpperCase();
  return { protocol, lower, params, pieces };
}

/** The alternatives back as header text; unchanged alternatives keep their bytes. */
export function formatTransportHeader(specs: readonly TransportSpec[]): string {
  return specs.map((s) => s.pieces.join(';')).join(',').trimStart();
}

/** What the gateway does with an alternative. */
export function transportKind(spec: TransportSpec): TransportKind {
  if (spec.lower === 'TCP') return 'tcp';
  if (hasParam(spec, 'multicast')) return 'multicast';
  if (spec.lower === 'UDP' && hasParam(spec, 'client_port')) return 'udp-unicast';
  return 'unmapped';
}

export function hasParam(spec: TransportSpec, name: string): boolean {
  return spec.params.some((p) => p.name === name);
}

/** A parameter's value as sent; undefined when absent or a bare flag. */
export function paramValue(spec: TransportSpec, name: string): string | undefined {
  return spec.params.find((p) => p.name === name)?.value;
}

/**
 * The alternative with some parameter values replaced (names in lower
 * case); the name is kept as sent, surrounding whitespace too.
 */
export function withParams(spec: TransportSpec, values: Readonly<Record<string, string>>): TransportSpec {
  const pieces = spec.pieces.map((piece, i) => {
    if (i === 0) return piece;
    const eq = piece.indexOf('=');
    if (eq < 0) return piece;
    const name = piece.slice(0, eq).trim().toLowerCase();
    if (!Object.hasOwn(values, name)) return piece;
    const lead = piece.slice(eq + 1).match(/^\s*/)![0];
    const trail = piece.match(/\s*$/)![0];
    return `${piece.slice(0, eq + 1)}${lead}${values[name]}${trail}`;
  });
  const params = spec.params.map((p) => (Object.hasOwn(values, p.name) && p.value !== undefined ? { name: p.name, value: values[p.name]! } : p));
  return { ...spec, params, pieces };
}

/** `5000-5001` or `5000`: ports 1-65535; undefined otherwise. */
export function parsePortRange(text: string): PortRange | undefined {
  const m = PORT_RANGE.exec(text);
  if (!m) return undefined;
  const first = Number(m[1]);
  const second = m[2] === undefined ? undefined : Number(m[2]);
  if (first < 1 || first > 0xffff) return undefined;
  if (second === undefined) return { first: first as Port };
  if (second < 1 || second > 0xffff || second === first) return undefined;
  return { first: first as Port, second: second as Port };
}

export function formatPortRange(range: PortRange): string {
  return range.second === undefined ? String(range.first) : `${range.first}-${range.second}`;
}

/** An IP literal as in `destination=` and `source=` (IPv6 bare or in brackets); undefined for host names and anything else. */
export function parseTransportAddress(text: string): IpAddress | undefined {
  try {
    return ipAddress(text);
  } catch {
    return undefined;
  }
}

/** An address written as `like` was: IPv6 in brackets only when it came so. */
export function formatTransportAddress(address: IpAddress, like: string): string {
  return like.startsWith('[') ? `[${address}]` : address;
}

/** Splits on `sep` outside double quotes; undefined for an unbalanced quote or an empty part. */
function splitOutsideQuotes(text: string, sep: ',' | ';'): string[] | undefined {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) return undefined;
  parts.push(text.slice(start));
  // Alternatives cannot be empty; parameters may be (a stray `;`), the protocol piece may not.
  if (sep === ',' ? parts.some((p) => p.trim() === '') : parts[0]!.trim() === '') return undefined;
  return parts;
}
