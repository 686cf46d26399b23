import { PortPool, PortPoolExhaustedError } from '../../../host/nat-engine/ports';
import { PublicPortLedger } from '../../../host/plugin-api/resources/public-port-ledger';
import { seededRandom } from '../nat-engine/ports/seeded-random';

/** A ledger over 61000-61003 whose pool searches from seeded random positions (seed 1). */
function ledgerOver(from = 61000, to = 61003) {
  const pool = new PortPool({ from, to }, { random: seededRandom(1) });
  const ledger = new PublicPortLedger(pool);
  const reserved = (): number[] => {
    const out: number[] = [];
    for (let p = from; p <= to; p++) if (pool.isReserved(p)) out.push(p);
    return out;
  };
  return { pool, ledger, reserved };
}

describe('PublicPortLedger', () => {
  it('takes fresh ports from the pool, each with one holder', () => {
    const { ledger, reserved } = ledgerOver();
    expect(ledger.take({ count: 1, protocol: 'udp' })).toEqual([61002]);
    expect(ledger.take({ count: 2, contiguous: true })).toEqual([61000, 61001]);
    expect(ledger.size).toBe(3);
    expect(reserved()).toEqual([61000, 61001, 61002]);
    // One holder each: one let frees each.
    ledger.let(61000);
    expect(reserved()).toEqual([61001, 61002]);
    expect(ledger.size).toBe(2);
  });

  it('returns a port to the pool only with its last holder, in any release order', () => {
    for (const order of [['reservation', 'channel', 'relay'], ['relay', 'reservation', 'channel'], ['channel', 'relay', 'reservation']]) {
      const { ledger, reserved } = ledgerOver();
      const [p] = ledger.take({ count: 1 });
      expect(ledger.hold(p!)).toBe(true);
      expect(ledger.hold(p!)).toBe(true);
      const states: [string, number[], number][] = order.map((who) => {
        ledger.let(p!);
        return [who, reserved(), ledger.size];
      });
      expect(states).toEqual([[order[0], [61002], 1], [order[1], [61002], 1], [order[2], [], 0]]);
    }
  });

  it('does not hold a port it did not take, and ignores lets of such ports', () => {
    const { pool, ledger, reserved } = ledgerOver();
    // A port reserved in the pool by someone else (a listener), and one outside the range.
    const [other] = pool.reserve({ count: 1 });
    expect(other).toBe(61002);
    expect(ledger.hold(other!)).toBe(false);
    expect(ledger.hold(50000)).toBe(false);
    expect(ledger.size).toBe(0);
    expect(() => ledger.let(other!)).not.toThrow();
    expect(() => ledger.let(50000)).not.toThrow();
    expect(reserved()).toEqual([61002]);
  });

  it('ignores an extra let once a port went back, even when the pool handed it out again', () => {
    const { ledger, reserved } = ledgerOver(61000, 61000);
    expect(ledger.take({ count: 1 })).toEqual([61000]);
    ledger.let(61000);
    ledger.let(61000);
    expect(reserved()).toEqual([]);
    expect(ledger.take({ count: 1 })).toEqual([61000]);
    expect(ledger.hold(61000)).toBe(true);
    ledger.let(61000);
    expect(reserved()).toEqual([61000]);
    ledger.let(61000);
    expect(reserved()).toEqual([]);
  });

  it('passes exhaustion on as the pool reports it, holding nothing new', () => {
    const { ledger } = ledgerOver();
    expect(ledger.take({ count: 3 })).toEqual([61002, 61000, 61003]);
    let error: unknown;
    try {
      ledger.take({ count: 2, protocol: 'tcp' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PortPoolExhaustedError);
    expect((error as Error).message).toBe('port pool 61000-61003 cannot provide 2 tcp ports: 3 of 4 ports reserved, the others in use by the OS or not fitting the request');
    expect(ledger.size).toBe(3);
    expect(ledger.take({ count: 1 })).toEqual([61001]);
    expect(ledger.size).toBe(4);
  });
});
