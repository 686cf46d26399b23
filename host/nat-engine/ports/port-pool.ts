import { randomInt } from 'node:crypto';
import type { Port, TransportProtocol } from '@algd/sdk';
import { NO_PORT_IN_USE_PROBE, type PortInUseProbe } from './port-in-use-probe';
import { PortPoolExhaustedError } from './port-pool-exhausted-error';
import { checkPortRange, formatPortRange, type PortRange } from './port-range';
import type { ReserveOptions } from './reserve-options';

export interface PortPoolOptions {
  /** Ports local sockets use are skipped. Default: none known. */
  readonly probe?: PortInUseProbe;
  /**
   * A uniformly random integer in `[0, bound)`, where a search starts.
   * Default `crypto.randomInt`; tests inject a seeded generator.
   */
  readonly random?: (bound: number) => number;
}

/**
 * Ports of one range handed out for NAT mappings and listeners, each to one
 * holder at a time until released.
 *
 * A search starts at a random position in the range and walks it once
 * (wrapping), so handed-out ports are hard to predict (RFC 6056's reason
 * for random ephemeral ports) and exhaustion is detected after at most one
 * pass: an error, never a hang. Runs of ports never wrap around the end of
 * the range.
 *
 * Reservations are per pool, not per protocol: a port reserved for UDP is
 * not handed out for TCP too. `protocol` only selects which OS sockets to
 * avoid.
 */
export class PortPool {
  readonly range: PortRange;
  private readonly probe: PortInUseProbe;
  private readonly random: (bound: number) => number;
  /** 1 for each reserved port, indexed by `port - range.from`. */
  private readonly reserved: Uint8Array;
  private reservedCount = 0;

  /** Throws RangeError unless `range` is within 1..65535 with `from <= to`. */
  constructor(range: PortRange, opts: PortPoolOptions = {}) {
    this.range = checkPortRange(range);
    this.probe = opts.probe ?? NO_PORT_IN_USE_PROBE;
    this.random = opts.random ?? ((bound) => randomInt(bound));
    this.reserved = new Uint8Array(this.size);
  }

  /** Number of ports in the range. */
  get size(): number {
    return this.range.to - this.range.from + 1;
  }

  /** Ports not reserved in this pool (the OS may still use some of them). */
  get available(): number {
    return this.size - this.reservedCount;
  }

  isReserved(port: number): boolean {
    return this.inRange(port) && this.reserved[port - this.range.from] === 1;
  }

  /**
   * Reserves ports: one by default; `count` scattered ports; `count`
   * contiguous ones; or an even/odd pair. All or nothing: throws
   * {@link PortPoolExhaustedError} and reserves nothing when the request
   * cannot be met. Throws RangeError for a malformed request.
   */
  reserve(opts: ReserveOptions = {}): Port[] {
    const evenStart = opts.parity === 'even-odd';
    const count = opts.count ?? (evenStart ? 2 : 1);
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`cannot reserve ${String(count)} ports`);
    if (opts.preferred !== undefined && !Number.isInteger(opts.preferred)) throw new RangeError(`preferred port ${String(opts.preferred)} is not an integer`);
    if (opts.parity !== undefined && !evenStart) throw new RangeError(`unknown parity ${JSON.stringify(opts.parity)}`);

    if (evenStart || opts.contiguous || count === 1) {
      const start = this.findRun(count, evenStart ? 2 : 1, opts.preferred, opts.protocol);
      if (start < 0) throw new PortPoolExhaustedError(this.range, opts, this.available);
      const ports: Port[] = [];
      for (let p = start; p < start + count; p++) ports.push(this.mark(p));
      return ports;
    }
    const ports: Port[] = [];
    for (let i = 0; i < count; i++) {
      const p = this.findRun(1, 1, i === 0 ? opts.preferred : undefined, opts.protocol);
      if (p < 0) {
        this.release(ports);
        throw new PortPoolExhaustedError(this.range, opts, this.available);
      }
      ports.push(this.mark(p));
    }
    return ports;
  }

  /**
   * Returns ports to the pool. Returns how many were reserved (releasing a
   * free port does nothing). Throws RangeError, releasing nothing, if any
   * port is outside the range: it cannot have come from this pool.
   */
  release(ports: number | readonly number[]): number {
    const list = typeof ports === 'number' ? [ports] : ports;
    for (const p of list) {
      if (!this.inRange(p)) throw new RangeError(`port ${String(p)} is not in pool ${formatPortRange(this.range)}`);
    }
    let released = 0;
    for (const p of list) {
      const i = p - this.range.from;
      if (this.reserved[i] === 1) {
        this.reserved[i] = 0;
        this.reservedCount--;
        released++;
      }
    }
    return released;
  }

  private inRange(port: number): boolean {
    return Number.isInteger(port) && port >= this.range.from && port <= this.range.to;
  }

  private mark(port: number): Port {
    this.reserved[port - this.range.from] = 1;
    this.reservedCount++;
    return port as Port; // within a validated range
  }

  /**
   * The first port of `count` free consecutive ports whose first port is a
   * multiple of `align` (1, or 2 for even), or -1. Tries `preferred` first,
   * then every candidate start once, from a random one, wrapping.
   */
  private findRun(count: number, align: 1 | 2, preferred: number | undefined, protocol: TransportProtocol | undefined): number {
    const first = alignUp(this.range.from, align);
    const last = alignDown(this.range.to - count + 1, align);
    if (first > last) return -1;
    if (preferred !== undefined && preferred >= first && preferred <= last && preferred % align === 0 && this.firstBlocked(preferred, count, protocol) < 0) {
      return preferred;
    }
    const starts = (last - first) / align + 1;
    const k = this.random(starts);
    if (!Number.isInteger(k) || k < 0 || k >= starts) throw new RangeError(`random(${starts}) returned ${String(k)}`);
    const origin = first + k * align;
    const found = this.scan(origin, last, count, align, protocol);
    return found >= 0 ? found : this.scan(first, origin - 1, count, align, protocol);
  }

  /** The first start in `[from, to]` (aligned) of a free run, or -1. Skips past each blocked port, so O(range) checks. */
  private scan(from: number, to: number, count: number, align: 1 | 2, protocol: TransportProtocol | undefined): number {
    for (let s = from; s <= to; ) {
      const blocked = this.firstBlocked(s, count, protocol);
      if (blocked < 0) return s;
      s = alignUp(blocked + 1, align);
    }
    return -1;
  }

  /** The first port of `start .. start+count-1` that is reserved or in use by the OS, or -1. */
  private firstBlocked(start: number, count: number, protocol: TransportProtocol | undefined): number {
    for (let p = start; p < start + count; p++) {
      if (this.reserved[p - this.range.from] === 1 || this.inUseByOs(protocol, p)) return p;
    }
    return -1;
  }

  private inUseByOs(protocol: TransportProtocol | undefined, port: number): boolean {
    if (protocol !== undefined) return this.probe.isInUse(protocol, port);
    return this.probe.isInUse('tcp', port) || this.probe.isInUse('udp', port);
  }
}

function alignUp(n: number, align: 1 | 2): number {
  return align === 1 ? n : n + (n & 1);
}

function alignDown(n: number, align: 1 | 2): number {
  return align === 1 ? n : n - (n & 1);
}
