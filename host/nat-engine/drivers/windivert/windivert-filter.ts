/**
 * The WinDivert filter string for a {@link CaptureSpec}.
 *
 * The filter is the whole kernel-side capture on Windows: what it matches is
 * diverted to algd, everything else never leaves the kernel. It is static
 * for the life of a handle (WinDivert has no connection tracking and no
 * per-flow marks), so each clause covers a set of packets the engine may
 * have to translate, on the paths windivert-driver.ts explains:
 *
 * 1. `inbound and <private ifIdx> and <control dst ports>`: control
 *    connections of private clients, where Windows shows them before any
 *    NAT (clients talking to the gateway's own addresses).
 * 2. `outbound and not loopback and <public ifIdx> and <control dst ports,
 *    source port outside listenerPorts>`: control connections of ICS
 *    clients, which Windows shows on the boundary adapter's outbound path
 *    after ICS translated them. The source-port exclusion keeps the host's
 *    own upstream connections (bound to a listener-range port) out, or the
 *    engine would redirect the host to itself.
 * 3. `outbound and (loopback or <private ifIdx>) and <src port in
 *    listenerPorts>`: what the listeners send back to clients (over
 *    loopback to an ICS-translated client, or out of a private adapter), so
 *    replies of redirected connections get their source translated back.
 *    The host's upstream connections leave by a public adapter and are not
 *    matched.
 * 4. `inbound and <public or private ifIdx> and <dst port in
 *    mappingPorts>`: data channels opened from outside towards a mapping
 *    and, on private adapters, the private host's side of such a channel:
 *    an inbound channel reaches the private host from the gateway's own
 *    address and a mapping port (ListenerPlacement.inboundChannelsFromGateway),
 *    because a static filter cannot follow the host's own data port and ICS
 *    would translate its replies itself.
 * 5. `inbound and <public ifIdx> and <udp dst port in listenerPorts>`, when
 *    a UDP port is captured: the host's UDP relays bind their upstream
 *    sockets in listenerPorts (as its TCP upstream connections do, for
 *    clause 2), and a relay session's port is its boundary endpoint, on
 *    which a plugin may map a channel from the server's other ports (a
 *    TFTP server answers from a new one). The engine passes what no mapping
 *    claims to the relay's socket.
 *
 * WinDivert's language has no strings, so nothing is escaped: adapters are
 * resolved to interface indexes before this module is called, and every
 * number is validated (ports 1–65535, indexes 1–2^32-1). Two of its rules
 * shape the output: `not` applies to a single test only (never to a
 * parenthesized group), and a test on a field the packet lacks is false
 * even when negated (`not udp.SrcPort >= 3000` is false for a TCP packet),
 * so exclusions are written per protocol as `(p < from or p > to)`. Every
 * group is parenthesized; nothing relies on and/or precedence.
 *
 * WinDivert compiles a filter to at most 256 tests
 * (WINDIVERT_FILTER_MAXLEN); {@link buildWindivertFilter} refuses a spec
 * whose filter would exceed {@link MAX_FILTER_TESTS}.
 */

import type { CapturePortRange, CaptureSpec } from '../capture-spec';

/** Tests a generated filter may hold: WinDivert's limit (256) minus headroom for the compiler's own. */
export const MAX_FILTER_TESTS = 200;

/** The spec cannot be expressed as a WinDivert filter (bad number, unknown adapter, too long). */
export class WindivertFilterError extends Error {
  override readonly name = 'WindivertFilterError';
}

type Proto = 'tcp' | 'udp';
const PROTOS: readonly Proto[] = ['tcp', 'udp'];

/** A filter fragment, the number of tests in it, and (for a group) its operator and operands, so nested groups of one operator flatten. */
interface Expr {
  readonly text: string;
  readonly tests: number;
  readonly op?: 'and' | 'or';
  readonly operands?: readonly string[];
}

const test = (text: string): Expr => ({ text, tests: 1 });
const flag = (text: string): Expr => ({ text, tests: 1 });

function join(op: 'and' | 'or', parts: readonly Expr[]): Expr | undefined {
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  const operands = parts.flatMap((p) => (p.op === op ? p.operands! : [p.text]));
  return { text: `(${operands.join(` ${op} `)})`, tests: parts.reduce((n, p) => n + p.tests, 0), op, operands };
}

function all(parts: readonly (Expr | undefined)[]): Expr | undefined {
  return parts.some((p) => p === undefined) ? undefined : join('and', parts as Expr[]);
}

function checkPort(what: string, p: number): number {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new WindivertFilterError(`${what} must be a port 1-65535, got ${String(p)}`);
  return p;
}

function checkRange(what: string, r: CapturePortRange): CapturePortRange {
  checkPort(`${what}.from`, r.from);
  checkPort(`${what}.to`, r.to);
  if (r.from > r.to) throw new WindivertFilterError(`${what} is empty (${r.from} > ${r.to})`);
  return r;
}

/** `tcp.DstPort == 21`, or `(tcp.DstPort >= a and tcp.DstPort <= b)`. */
function inRange(field: string, from: number, to: number): Expr {
  if (from === to) return test(`${field} == ${from}`);
  return { text: `(${field} >= ${from} and ${field} <= ${to})`, tests: 2 };
}

/** `(tcp.SrcPort < a or tcp.SrcPort > b)`: present and outside the range. */
function outsideRange(field: string, r: CapturePortRange): Expr {
  const parts: Expr[] = [];
  if (r.from > 1) parts.push(test(`${field} < ${r.from}`));
  if (r.to < 65535) parts.push(test(`${field} > ${r.to}`));
  // A range covering every port excludes everything.
  return join('or', parts) ?? test(`${field} == 0`);
}

/** Ports as tests, consecutive ports merged into ranges. */
function portSet(field: string, ports: readonly number[]): Expr | undefined {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const parts: Expr[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(inRange(field, sorted[i]!, sorted[j]!));
    i = j + 1;
  }
  return join('or', parts);
}

function ifIdxSet(indexes: readonly number[]): Expr | undefined {
  return join('or', [...new Set(indexes)].sort((a, b) => a - b).map((i) => test(`ifIdx == ${i}`)));
}

/**
 * The filter capturing what `spec` asks for. `ifIndexes` maps every adapter
 * name of the spec to its interface index (IfIdx). Throws
 * {@link WindivertFilterError} when the spec has an invalid number, an
 * adapter without an index, or would exceed {@link MAX_FILTER_TESTS}.
 */
export function buildWindivertFilter(spec: CaptureSpec, ifIndexes: ReadonlyMap<string, number>): string {
  const families = [...new Set(spec.families)];
  if (families.length === 0 || families.some((f) => f !== 4 && f !== 6)) throw new WindivertFilterError(`families must be a non-empty subset of [4, 6], got ${JSON.stringify(spec.families)}`);
  const listeners = checkRange('listenerPorts', spec.listenerPorts);
  const mappings = checkRange('mappingPorts', spec.mappingPorts);

  const sides: Record<'private' | 'public', number[]> = { private: [], public: [] };
  for (const a of spec.adapters) {
    const idx = ifIndexes.get(a.name);
    if (idx === undefined) throw new WindivertFilterError(`adapter "${a.name}" has no interface index`);
    if (!Number.isInteger(idx) || idx < 1 || idx > 0xffffffff) throw new WindivertFilterError(`adapter "${a.name}": interface index must be 1..4294967295, got ${String(idx)}`);
    sides[a.side].push(idx);
  }
  const priv = ifIdxSet(sides.private);
  const pub = ifIdxSet(sides.public);

  const control: Record<Proto, number[]> = { tcp: [], udp: [] };
  for (const c of spec.controlPorts) {
    if (c.protocol !== 'tcp' && c.protocol !== 'udp') throw new WindivertFilterError(`control port protocol must be tcp or udp, got ${String(c.protocol)}`);
    control[c.protocol].push(checkPort(`control port (${c.protocol})`, c.port));
  }
  const used = PROTOS.filter((p) => control[p].length > 0);

  const controlDst = join('or', used.map((p) => portSet(`${p}.DstPort`, control[p])!));
  const controlDstNotHost = join('or', used.map((p) => all([portSet(`${p}.DstPort`, control[p]), outsideRange(`${p}.SrcPort`, listeners)])!));
  const listenerSrc = join('or', used.map((p) => inRange(`${p}.SrcPort`, listeners.from, listeners.to)));
  const mappingDst = join('or', PROTOS.map((p) => inRange(`${p}.DstPort`, mappings.from, mappings.to)));
  const relayDst = control.udp.length > 0 ? inRange('udp.DstPort', listeners.from, listeners.to) : undefined;

  const clauses = [
    all([flag('inbound'), priv, controlDst]),
    all([flag('outbound'), flag('not loopback'), pub, controlDstNotHost]),
    all([flag('outbound'), join('or', [flag('loopback'), ...(priv ? [priv] : [])]), listenerSrc]),
    all([flag('inbound'), ifIdxSet([...sides.public, ...sides.private]), mappingDst]),
    all([flag('inbound'), pub, relayDst]),
  ].filter((c): c is Expr => c !== undefined);

  const body = join('or', clauses);
  if (body === undefined) return 'false';
  const guarded = families.length === 1 ? join('and', [flag(families[0] === 4 ? 'ip' : 'ipv6'), body])! : body;
  if (guarded.tests > MAX_FILTER_TESTS) {
    throw new WindivertFilterError(`the capture needs ${guarded.tests} filter tests, more than WinDivert's limit allows (${MAX_FILTER_TESTS}); use fewer adapters or control ports`);
  }
  return stripOuterParens(guarded.text);
}

/** `(a or b)` → `a or b` when the parentheses enclose the whole string. */
function stripOuterParens(s: string): string {
  if (!s.startsWith('(') || !s.endsWith(')')) return s;
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    if (depth === 0 && i < s.length - 1) return s;
  }
  return s.slice(1, -1);
}
