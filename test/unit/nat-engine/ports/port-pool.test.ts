import fc from 'fast-check';
import type { TransportProtocol } from '@algd/sdk';
import { PortPool, PortPoolExhaustedError, type PortInUseProbe } from '../../../../host/nat-engine/ports';
import { seededRandom } from './seeded-random';

/** A probe that reports the listed ports as used by the OS, and counts questions. */
class FakeProbe implements PortInUseProbe {
  calls = 0;
  constructor(private readonly used: Partial<Record<TransportProtocol, readonly number[]>>) {}
  isInUse(protocol: TransportProtocol, port: number): boolean {
    this.calls++;
    return this.used[protocol]?.includes(port) ?? false;
  }
}

function pool(from: number, to: number, probe?: PortInUseProbe, seed = 1): PortPool {
  return new PortPool({ from, to }, { random: seededRandom(seed), probe });
}

function exhaustionOf(fn: () => unknown): PortPoolExhaustedError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PortPoolExhaustedError);
    return err as PortPoolExhaustedError;
  }
  throw new Error('request was granted');
}

describe('PortPool', () => {
  it('validates its range', () => {
    expect(() => new PortPool({ from: 0, to: 10 })).toThrow(RangeError);
    expect(() => new PortPool({ from: 1, to: 65536 })).toThrow(RangeError);
    expect(() => new PortPool({ from: 10, to: 9 })).toThrow(/"from" must not be greater than "to"/);
    expect(() => new PortPool({ from: 1.5, to: 9 })).toThrow(RangeError);
    expect(new PortPool({ from: 1, to: 65535 }).size).toBe(65535);
    expect(new PortPool({ from: 5000, to: 5000 }).available).toBe(1);
  });

  it('hands out every port of the range once, then throws a clear exhaustion error', () => {
    const p = pool(40000, 40009);
    const got = new Set<number>();
    for (let i = 0; i < 10; i++) got.add(p.reserve({ protocol: 'udp' })[0]!);
    expect([...got].sort()).toEqual([40000, 40001, 40002, 40003, 40004, 40005, 40006, 40007, 40008, 40009]);
    expect(p.available).toBe(0);
    const err = exhaustionOf(() => p.reserve({ protocol: 'udp' }));
    expect(err.message).toBe('port pool 40000-40009 cannot provide 1 udp port: 10 of 10 ports reserved, the others in use by the OS or not fitting the request');
    expect(err.range).toEqual({ from: 40000, to: 40009 });
    expect(err.request).toEqual({ protocol: 'udp' });
    expect(exhaustionOf(() => p.reserve({ parity: 'even-odd', preferred: 40002 })).message).toMatch(/^port pool 40000-40009 cannot provide an even\/odd pair of ports \(preferred 40002\)/);
  });

  it('fails fast on a full 65535-port range, for every kind of request', () => {
    const p = pool(1, 65535);
    p.reserve({ count: 65535 });
    expect(p.available).toBe(0);
    const started = process.hrtime.bigint();
    exhaustionOf(() => p.reserve());
    exhaustionOf(() => p.reserve({ count: 3 }));
    exhaustionOf(() => p.reserve({ count: 100, contiguous: true }));
    exhaustionOf(() => p.reserve({ parity: 'even-odd' }));
    exhaustionOf(() => p.reserve({ count: 70000 }));
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(500);
  });

  it('finds the one free pair in a fragmented range in a single pass', () => {
    const probe = new FakeProbe({});
    const p = new PortPool({ from: 1000, to: 60999 }, { random: seededRandom(3), probe });
    // Every even port taken: plenty of free ports, no free even/odd pair.
    for (let port = 1000; port <= 60999; port += 2) p.reserve({ preferred: port });
    expect(p.available).toBe(30000);
    exhaustionOf(() => p.reserve({ parity: 'even-odd', protocol: 'udp' }));
    p.release(51234);
    probe.calls = 0;
    expect(p.reserve({ parity: 'even-odd', protocol: 'udp' })).toEqual([51234, 51235]);
    expect(probe.calls).toBeLessThanOrEqual(60000); // each port looked at most once
  });

  it('reserves even/odd pairs, even port first, until no aligned pair is left', () => {
    for (const [from, to] of [[40000, 40009], [40001, 40010], [40001, 40009]] as const) {
      const p = pool(from, to, undefined, from);
      const pairs: number[][] = [];
      for (;;) {
        try {
          pairs.push(p.reserve({ parity: 'even-odd', protocol: 'udp' }));
        } catch (err) {
          expect(err).toBeInstanceOf(PortPoolExhaustedError);
          break;
        }
      }
      for (const [rtp, rtcp] of pairs) {
        expect(rtp! % 2).toBe(0);
        expect(rtcp).toBe(rtp! + 1);
        expect(rtp).toBeGreaterThanOrEqual(from);
        expect(rtcp).toBeLessThanOrEqual(to);
      }
      // Every even port whose odd neighbour is in range was used.
      const expected = Math.floor((to - (from + (from & 1)) + 1) / 2);
      expect(pairs).toHaveLength(expected);
    }
  });

  it('skips a pair whose odd port is taken', () => {
    const p = pool(50000, 50005, new FakeProbe({ udp: [50001] }));
    p.reserve({ preferred: 50003 });
    expect(p.reserve({ parity: 'even-odd', protocol: 'udp' })).toEqual([50004, 50005]);
    exhaustionOf(() => p.reserve({ parity: 'even-odd', protocol: 'udp' }));
    expect(p.reserve({ parity: 'even-odd', protocol: 'tcp' })).toEqual([50000, 50001]);
  });

  it('never lets a contiguous run straddle the end of the range', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const p = pool(60000, 60010, undefined, seed);
      p.reserve({ preferred: 60003 }); // leaves 60000-60002 (3) and 60004-60010 (7)
      const run = p.reserve({ count: 5, contiguous: true });
      expect(run).toHaveLength(5);
      expect(run[0]).toBeGreaterThanOrEqual(60004);
      expect(run[4]).toBeLessThanOrEqual(60010);
      expect(run).toEqual([0, 1, 2, 3, 4].map((i) => run[0]! + i));
    }
    const p = pool(60000, 60010);
    p.reserve({ preferred: 60003 });
    p.reserve({ preferred: 60006, count: 2, contiguous: true }); // free: 60000-60002, 60004-60005, 60008-60010
    // 60009, 60010, 60000, 60001 would be four free ports if runs wrapped.
    expect(exhaustionOf(() => p.reserve({ count: 4, contiguous: true })).message).toMatch(/cannot provide 4 contiguous ports/);
    expect(p.reserve({ count: 3, contiguous: true })).toEqual([60000, 60001, 60002]);
  });

  it('supports runs of more than two ports starting even', () => {
    const p = pool(7001, 7010);
    const run = p.reserve({ parity: 'even-odd', count: 4 });
    expect(run[0]! % 2).toBe(0);
    expect(run).toEqual([run[0], run[0]! + 1, run[0]! + 2, run[0]! + 3]);
  });

  it('makes released ports available again', () => {
    const p = pool(30000, 30003);
    const all = p.reserve({ count: 4 });
    expect(p.available).toBe(0);
    expect(p.release(all[2]!)).toBe(1);
    expect(p.isReserved(all[2]!)).toBe(false);
    expect(p.reserve()).toEqual([all[2]]);
    expect(p.release(all)).toBe(4);
    expect(p.release(all)).toBe(0);
    expect(p.available).toBe(4);
    expect(p.reserve({ count: 4, contiguous: true })).toEqual([30000, 30001, 30002, 30003]);
  });

  it('refuses to release ports that cannot be its own, and releases nothing then', () => {
    const p = pool(30000, 30003);
    const [a] = p.reserve();
    expect(() => p.release([a!, 29999])).toThrow(/port 29999 is not in pool 30000-30003/);
    expect(p.isReserved(a!)).toBe(true);
    expect(p.isReserved(29999)).toBe(false);
  });

  it('is all or nothing: a request that cannot be met reserves nothing', () => {
    const p = pool(30000, 30009);
    p.reserve({ count: 7 });
    exhaustionOf(() => p.reserve({ count: 4 }));
    expect(p.available).toBe(3);
    expect(p.reserve({ count: 3 })).toHaveLength(3);
  });

  it('skips ports the OS uses for the protocol asked, or for either when none is given', () => {
    const probe = new FakeProbe({ tcp: [20000, 20001], udp: [20002] });
    const p = pool(20000, 20003, probe);
    expect(p.reserve({ protocol: 'udp', count: 3 }).sort()).toEqual([20000, 20001, 20003]);
    p.release([20000, 20001, 20003]);
    expect(p.reserve({ protocol: 'tcp', count: 2 }).sort()).toEqual([20002, 20003]);
    p.release([20002, 20003]);
    expect(p.reserve()).toEqual([20003]);
    exhaustionOf(() => p.reserve());
  });

  it('uses the preferred port when it qualifies, and searches otherwise', () => {
    const p = pool(5000, 5100, new FakeProbe({ udp: [5020] }));
    expect(p.reserve({ preferred: 5050 })).toEqual([5050]);
    expect(p.reserve({ preferred: 5050 })).not.toEqual([5050]);
    expect(p.reserve({ preferred: 5010, parity: 'even-odd' })).toEqual([5010, 5011]);
    expect(p.reserve({ preferred: 5013, parity: 'even-odd' })[0]! % 2).toBe(0);
    expect(p.reserve({ preferred: 5020, protocol: 'udp' })).not.toEqual([5020]);
    expect(p.reserve({ preferred: 9000 })[0]).toBeLessThanOrEqual(5100);
    expect(p.reserve({ preferred: 5099, count: 3, contiguous: true })).not.toContain(5101);
    expect(() => p.reserve({ preferred: 5000.5 })).toThrow(RangeError);
  });

  it('rejects malformed requests', () => {
    const p = pool(5000, 5100);
    expect(() => p.reserve({ count: 0 })).toThrow(RangeError);
    expect(() => p.reserve({ count: 1.5 })).toThrow(RangeError);
    expect(() => p.reserve({ parity: 'odd-even' as 'even-odd' })).toThrow(RangeError);
  });

  it('starts searching at a random position', () => {
    const firsts = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) firsts.add(pool(10000, 60000, undefined, seed).reserve()[0]!);
    expect(firsts.size).toBeGreaterThan(15);
    const a = pool(10000, 60000, undefined, 7).reserve({ count: 5 });
    const b = pool(10000, 60000, undefined, 7).reserve({ count: 5 });
    expect(a).toEqual(b);
  });

  it('never hands out a port twice or outside its range, whatever is reserved and released', () => {
    const request = fc.oneof(
      fc.record({ kind: fc.constant('reserve' as const), count: fc.integer({ min: 1, max: 6 }), contiguous: fc.boolean(), evenOdd: fc.boolean(), preferred: fc.option(fc.integer({ min: 990, max: 1070 }), { nil: undefined }) }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat(), all: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 1030 }), fc.integer({ min: 0, max: 40 }), fc.integer(), fc.array(request, { maxLength: 80 }), (from, width, seed, ops) => {
        const to = from + width;
        const p = new PortPool({ from, to }, { random: seededRandom(seed), probe: new FakeProbe({ udp: [from + 3] }) });
        const held: number[][] = [];
        const owned = new Set<number>();
        for (const o of ops) {
          if (o.kind === 'reserve') {
            const opts = { count: o.count, contiguous: o.contiguous, parity: o.evenOdd ? ('even-odd' as const) : undefined, preferred: o.preferred, protocol: 'udp' as const };
            let ports: number[];
            try {
              ports = p.reserve(opts);
            } catch (err) {
              expect(err).toBeInstanceOf(PortPoolExhaustedError);
              continue;
            }
            expect(ports).toHaveLength(o.count);
            for (const port of ports) {
              expect(port).toBeGreaterThanOrEqual(from);
              expect(port).toBeLessThanOrEqual(to);
              expect(port).not.toBe(from + 3);
              expect(owned.has(port)).toBe(false);
              owned.add(port);
            }
            if (o.contiguous || o.evenOdd) ports.forEach((port, i) => expect(port).toBe(ports[0]! + i));
            if (o.evenOdd) expect(ports[0]! % 2).toBe(0);
            held.push(ports);
          } else if (held.length > 0) {
            const [ports] = held.splice(o.pick % held.length, 1);
            const some = o.all ? ports! : ports!.slice(0, 1);
            if (!o.all) held.push(ports!.slice(1));
            expect(p.release(some)).toBe(some.length);
            for (const port of some) owned.delete(port);
          }
          expect(p.available).toBe(width + 1 - owned.size);
        }
      }),
      { seed: 0xa1d, numRuns: 300 },
    );
  });
});
