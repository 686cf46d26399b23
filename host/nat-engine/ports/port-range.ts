/** An inclusive range of port numbers, as the configuration writes it (`{ "from": 61000, "to": 64999 }`). */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** Returns a frozen copy of `range`; throws RangeError unless both ends are integers in 1..65535 and `from <= to`. */
export function checkPortRange(range: PortRange): PortRange {
  const { from, to } = range;
  // Port 0 means "any port" to a socket API, never a port that can be handed out.
  for (const [name, v] of [['from', from], ['to', to]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffff) throw new RangeError(`port range "${name}" must be an integer in 1..65535, got ${String(v)}`);
  }
  if (from > to) throw new RangeError(`port range ${from}-${to}: "from" must not be greater than "to"`);
  return Object.freeze({ from, to });
}

/** `61000-64999`. */
export function formatPortRange(range: PortRange): string {
  return `${range.from}-${range.to}`;
}
