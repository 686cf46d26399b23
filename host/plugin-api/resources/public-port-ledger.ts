import type { Port } from '@algd/sdk';
import type { PortPool } from '../../nat-engine/ports';
import type { ReserveOptions } from '../../nat-engine/ports';

/**
 * Public ports with several possible holders: a plugin's reservation, the
 * data channels using it, a relay's upstream socket. A port goes back to the
 * pool only when its last holder lets go, so a reservation released while a
 * channel still carries connections on it cannot hand the port to someone
 * else.
 */
export class PublicPortLedger {
  private readonly holders = new Map<number, number>();

  constructor(private readonly pool: PortPool) {}

  /** Takes fresh ports from the pool, each with one holder. Throws PortPoolExhaustedError when none are left. */
  take(opts: ReserveOptions): Port[] {
    const ports = this.pool.reserve(opts);
    for (const p of ports) this.holders.set(p, 1);
    return ports;
  }

  /** Adds a holder to a port already taken; false when the port is not held (not from this ledger). */
  hold(port: number): boolean {
    const n = this.holders.get(port);
    if (n === undefined) return false;
    this.holders.set(port, n + 1);
    return true;
  }

  /** Drops one holder; the port returns to the pool with the last one. */
  let(port: number): void {
    const n = this.holders.get(port);
    if (n === undefined) return;
    if (n > 1) {
      this.holders.set(port, n - 1);
      return;
    }
    this.holders.delete(port);
    this.pool.release(port);
  }

  /** Ports currently held. */
  get size(): number {
    return this.holders.size;
  }
}
