import fc from 'fast-check';
import { ExpiryQueue, type Expiring } from '../../../../host/nat-engine/flow/expiry-queue';

interface Item extends Expiring {
  readonly name: number;
}

describe('expiry queue', () => {
  it('always yields the earliest deadline, through pushes, reschedules and removals', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), deadline: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('reschedule' as const), pick: fc.nat(), deadline: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('pop' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const q = new ExpiryQueue<Item>();
        const model = new Map<Item, number>();
        let next = 0;
        for (const o of ops) {
          const items = [...model.keys()];
          if (o.kind === 'push') {
            const item: Item = { name: next++, queueIndex: -1, queuedUntil: 0 };
            q.push(item, o.deadline);
            model.set(item, o.deadline);
          } else if (o.kind === 'reschedule' && items.length > 0) {
            const item = items[o.pick % items.length]!;
            q.reschedule(item, o.deadline);
            model.set(item, o.deadline);
          } else if (o.kind === 'remove' && items.length > 0) {
            const item = items[o.pick % items.length]!;
            q.remove(item);
            model.delete(item);
            expect(item.queueIndex).toBe(-1);
          } else if (o.kind === 'pop') {
            const top = q.peek();
            if (top === undefined) {
              expect(model.size).toBe(0);
            } else {
              expect(model.get(top)).toBe(Math.min(...model.values()));
              q.remove(top);
              model.delete(top);
            }
          }
          expect(q.size).toBe(model.size);
        }
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('ignores items that are not queued', () => {
    const q = new ExpiryQueue<Item>();
    const stray: Item = { name: 1, queueIndex: -1, queuedUntil: 0 };
    q.remove(stray);
    q.reschedule(stray, 5);
    expect(q.size).toBe(0);
    expect(stray.queueIndex).toBe(-1);
  });
});
