import fc from 'fast-check';
import {
  FlowTable,
  FlowTableError,
  formatTuple,
  reverseTuple,
  tupleFromPacket,
  type FiveTuple,
  type Flow,
  type FlowRemoveReason,
  type FlowTableOptions,
  type TupleHasher,
  type TupleSource,
} from '../../../../host/nat-engine/flow';
import { ACK, FIN, ManualClock, packet, packetOf, RST, SYN, tuple } from './tuple-fixtures';

const S = 1000;

interface Harness {
  table: FlowTable<string>;
  clock: ManualClock;
  removed: [Flow<string>, FlowRemoveReason][];
}

function harness(opts: Omit<FlowTableOptions<string>, 'now' | 'onRemove'> = {}): Harness {
  const clock = new ManualClock();
  const removed: [Flow<string>, FlowRemoveReason][] = [];
  const table = new FlowTable<string>({ ...opts, now: clock.now, onRemove: (flow, reason) => removed.push([flow, reason]) });
  return { table, clock, removed };
}

/** Looks a packet up and tracks it, as the engine does; fails the test if it belongs to no flow. */
function send(table: FlowTable<string>, p: TupleSource, payload = 0): Flow<string> {
  const entry = table.lookup(p);
  if (entry === undefined) throw new Error(`no flow for ${formatTuple(tupleFromPacket(p))}`);
  table.track(entry, p, payload);
  return entry.flow;
}

// A client connection redirected to a loopback listener: replies come from the listener.
const client = tuple('tcp', '198.51.100.2', 40000, '203.0.113.2', 21);
const listenerReply = tuple('tcp', '127.0.0.1', 3000, '198.51.100.2', 40000);

describe('FlowTable lookups', () => {
  it('finds a flow from both directions, returning its preallocated entries', () => {
    const { table } = harness();
    const flow = table.insert(client, listenerReply, 'ftp');

    const fromClient = table.lookup(packet('tcp', '198.51.100.2', 40000, '203.0.113.2', 21, SYN));
    expect(fromClient).toBe(flow.originalEntry);
    expect(fromClient?.direction).toBe('original');

    const fromListener = table.lookup(packet('tcp', '127.0.0.1', 3000, '198.51.100.2', 40000, SYN | ACK, 17));
    expect(fromListener).toBe(flow.replyEntry);
    expect(fromListener?.direction).toBe('reply');
    expect(fromListener?.flow.data).toBe('ftp');

    // After translation the untranslated reverse tuple is not the reply tuple.
    expect(table.lookup(packetOf(reverseTuple(client)))).toBeUndefined();
    expect(table.lookup(packet('udp', '198.51.100.2', 40000, '203.0.113.2', 21))).toBeUndefined();
    expect(table.lookup(packet('tcp', '198.51.100.2', 40001, '203.0.113.2', 21))).toBeUndefined();
  });

  it('finds IPv6 flows, and keeps IPv4 and IPv6 apart', () => {
    const { table } = harness();
    const v6 = tuple('udp', '2001:db8::2', 5060, '2001:db8:1::2', 5060);
    const flow = table.insert(v6, reverseTuple(v6), 'sip');
    expect(table.lookup(packet('udp', '2001:db8:1::2', 5060, '2001:db8::2', 5060))?.flow).toBe(flow);
    expect(table.lookup(packet('udp', '2001:db8::2', 5060, '2001:db8:1::2', 5060))?.direction).toBe('original');
    expect(table.lookup(packet('udp', '2001:db8::3', 5060, '2001:db8:1::2', 5060))).toBeUndefined();
    expect(table.lookup(packet('udp', '198.51.100.2', 5060, '203.0.113.2', 5060))).toBeUndefined();
  });

  it('never conflates flows whose hashes collide: buckets compare bytes', () => {
    const allCollide: TupleHasher = { hashTuple: () => 7, hashPacket: () => 7 };
    const { table } = harness({ hasher: allCollide });
    const flows: Flow<string>[] = [];
    for (let i = 1; i <= 40; i++) {
      // Tuples differing in one byte of one address, or in one port.
      const t = i % 2 === 0 ? tuple('udp', `198.51.100.${i}`, 5000, '203.0.113.2', 6000) : tuple('udp', '198.51.100.1', 5000 + i, '203.0.113.2', 6000);
      flows.push(table.insert(t, reverseTuple(t), `flow ${i}`));
    }
    for (const f of flows) {
      expect(table.lookup(packetOf(f.original))).toBe(f.originalEntry);
      expect(table.lookup(packetOf(f.reply))).toBe(f.replyEntry);
    }
    expect(table.lookup(packet('udp', '198.51.100.41', 5000, '203.0.113.2', 6000))).toBeUndefined();
    expect(table.lookup(packet('udp', '198.51.100.2', 5000, '203.0.113.3', 6000))).toBeUndefined();
    // Unlinking from the middle of the chain keeps the others reachable.
    table.remove(flows[20]!);
    expect(table.lookup(packetOf(flows[20]!.original))).toBeUndefined();
    for (const f of flows) if (f !== flows[20]) expect(table.lookup(packetOf(f.reply))?.flow).toBe(f);
  });

  it('grows its buckets and still finds every flow', () => {
    const { table } = harness();
    const flows: Flow<string>[] = [];
    for (let i = 0; i < 3000; i++) {
      const t = tuple('tcp', `198.51.${100 + (i >> 8)}.${i & 0xff}`, 1024 + i, '203.0.113.2', 80);
      flows.push(table.insert(t, reverseTuple(t), String(i)));
    }
    expect(table.size).toBe(3000);
    for (const f of flows) expect(table.lookup(packetOf(f.reply))?.flow).toBe(f);
  });
});

describe('FlowTable inserts', () => {
  it('refuses a flow beyond maxFlows with a "full" FlowTableError, and accepts again after a removal', () => {
    const { table } = harness({ maxFlows: 2 });
    const a = tuple('udp', '198.51.100.2', 1, '203.0.113.2', 53);
    const b = tuple('udp', '198.51.100.2', 2, '203.0.113.2', 53);
    const c = tuple('udp', '198.51.100.2', 3, '203.0.113.2', 53);
    const first = table.insert(a, reverseTuple(a), 'a');
    table.insert(b, reverseTuple(b), 'b');
    let err: unknown;
    try {
      table.insert(c, reverseTuple(c), 'c');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlowTableError);
    expect((err as FlowTableError).kind).toBe('full');
    expect((err as FlowTableError).message).toMatch(/full \(2 flows\).*udp 198\.51\.100\.2:3 -> 203\.0\.113\.2:53/);
    expect(table.size).toBe(2);
    table.remove(first);
    expect(table.insert(c, reverseTuple(c), 'c').data).toBe('c');
  });

  it('refuses a flow one of whose tuples is already tracked, in either direction', () => {
    const { table } = harness();
    const existing = table.insert(client, listenerReply, 'x');
    const expectDuplicate = (o: FiveTuple, r: FiveTuple) => {
      expect(() => table.insert(o, r, 'y')).toThrow(expect.objectContaining({ name: 'FlowTableError', kind: 'duplicate' }) as Error);
    };
    expectDuplicate(client, reverseTuple(client));
    expectDuplicate(tuple('tcp', '198.51.100.9', 1, '203.0.113.2', 21), listenerReply);
    expectDuplicate(listenerReply, tuple('tcp', '198.51.100.9', 1, '203.0.113.2', 21));
    const self = tuple('udp', '127.0.0.1', 9, '127.0.0.1', 9);
    expectDuplicate(self, reverseTuple(self));
    expect(() => table.insert(client, listenerReply, 'z')).toThrow(`is already tracked by flow #${existing.id}`);
    expect(table.size).toBe(1);
  });

  it('rejects tuple pairs that disagree on protocol or family', () => {
    const { table } = harness();
    expect(() => table.insert(client, tuple('udp', '127.0.0.1', 3000, '198.51.100.2', 40000), '')).toThrow(RangeError);
    expect(() => table.insert(client, tuple('tcp', '::1', 3000, '2001:db8::2', 40000), '')).toThrow(RangeError);
  });

  it('rejects a bad maxFlows or timeout at construction', () => {
    expect(() => new FlowTable({ maxFlows: 0 })).toThrow(RangeError);
    expect(() => new FlowTable({ timeouts: { udpReplied: -5 } })).toThrow(RangeError);
  });

  it('numbers flows in creation order and iterates them in that order, removal included', () => {
    const { table } = harness();
    const flows = [1, 2, 3, 4].map((i) => {
      const t = tuple('udp', '198.51.100.2', i, '203.0.113.2', 53);
      return table.insert(t, reverseTuple(t), String(i));
    });
    expect(flows.map((f) => f.id)).toEqual([1, 2, 3, 4]);
    const seen: string[] = [];
    for (const f of table) {
      seen.push(f.data);
      table.remove(f);
    }
    expect(seen).toEqual(['1', '2', '3', '4']);
    expect(table.size).toBe(0);
  });
});

describe('FlowTable tracking and expiry', () => {
  it('follows a TCP connection from SYN to TIME_WAIT and expires it exactly at the timeout', () => {
    const { table, clock, removed } = harness();
    const t0 = clock.ms;
    const flow = table.insert(client, listenerReply, 'ftp');
    expect(flow.state).toBe('syn_sent');
    const fromClient = (flags: number, payload = 0) => send(table, packet('tcp', '198.51.100.2', 40000, '203.0.113.2', 21, flags), payload);
    const fromListener = (flags: number, payload = 0) => send(table, packet('tcp', '127.0.0.1', 3000, '198.51.100.2', 40000, flags), payload);

    fromClient(SYN);
    expect(flow.expiresAt).toBe(t0 + 120 * S);
    expect(table.expire(t0 + 120 * S - 1)).toEqual([]);

    clock.advance(5 * S);
    fromListener(SYN | ACK);
    expect([flow.state, flow.expiresAt]).toEqual(['syn_recv', clock.ms + 60 * S]);

    clock.advance(S);
    fromClient(ACK);
    expect([flow.state, flow.expiresAt]).toEqual(['established', clock.ms + 7440 * S]);
    fromListener(ACK, 200);
    fromClient(ACK, 10);

    clock.advance(3600 * S);
    expect(table.expire()).toEqual([]);
    fromClient(FIN | ACK);
    expect([flow.state, flow.expiresAt]).toEqual(['fin_wait', clock.ms + 120 * S]);
    clock.advance(S);
    fromListener(FIN | ACK);
    expect([flow.state, flow.expiresAt]).toEqual(['last_ack', clock.ms + 30 * S]);
    clock.advance(S);
    fromClient(ACK);
    expect(flow.state).toBe('time_wait');
    const tw = clock.ms;
    expect(table.isClosing(flow)).toBe(true);

    expect(table.expire(tw + 120 * S - 1)).toEqual([]);
    expect(table.lookup(packet('tcp', '198.51.100.2', 40000, '203.0.113.2', 21))).toBe(flow.originalEntry);
    expect(removed).toEqual([]);

    expect(table.expire(tw + 120 * S)).toEqual([flow]);
    expect(removed).toEqual([[flow, 'expired']]);
    expect(table.size).toBe(0);
    expect(table.lookup(packet('tcp', '198.51.100.2', 40000, '203.0.113.2', 21))).toBeUndefined();
    expect(table.lookup(packet('tcp', '127.0.0.1', 3000, '198.51.100.2', 40000))).toBeUndefined();

    expect(flow.packets).toEqual({ original: 5, reply: 3 });
    expect(flow.bytes).toEqual({ original: 10, reply: 200 });
    expect(flow.createdAt).toBe(t0);
    expect(flow.lastSeen).toBe(tw);
  });

  it('expires on the shorter close timeout at once, though an established deadline was filed earlier', () => {
    const { table, clock } = harness();
    const flow = table.insert(client, listenerReply, '');
    send(table, packetOf(client, SYN));
    send(table, packetOf(listenerReply, SYN | ACK));
    send(table, packetOf(client, ACK));
    expect(table.expire(clock.advance(120 * S))).toEqual([]); // the syn_sent deadline passes: refiled under the established one
    send(table, packetOf(client, FIN | ACK));
    const finAt = clock.ms;
    expect(table.expire(finAt + 120 * S - 1)).toEqual([]);
    expect(table.expire(finAt + 120 * S)).toEqual([flow]);
  });

  it('closes a reset connection after 10 s and reports it as reset', () => {
    const { table, clock, removed } = harness();
    const flow = table.insert(client, listenerReply, '');
    send(table, packetOf(client, SYN));
    send(table, packetOf(listenerReply, SYN | ACK));
    send(table, packetOf(client, ACK));
    clock.advance(60 * S);
    send(table, packetOf(listenerReply, RST | ACK));
    expect(flow.state).toBe('close');
    expect(table.isClosing(flow)).toBe(true);
    const rstAt = clock.ms;
    expect(table.expire(rstAt + 10 * S - 1)).toEqual([]);
    expect(table.expire(rstAt + 10 * S)).toEqual([flow]);
    expect(removed).toEqual([[flow, 'reset']]);
  });

  it('gives UDP 30 s until a reply, then 180 s', () => {
    const { table, clock, removed } = harness();
    const a = tuple('udp', '198.51.100.2', 5060, '203.0.113.2', 5060);
    const b = tuple('udp', '198.51.100.2', 5062, '203.0.113.2', 5060);
    const unreplied = table.insert(a, reverseTuple(a), 'a');
    const replied = table.insert(b, reverseTuple(b), 'b');
    const t0 = clock.ms;
    send(table, packetOf(a), 100);
    send(table, packetOf(b), 100);
    send(table, packetOf(reverseTuple(b)), 50);
    expect([unreplied.state, replied.state]).toEqual(['unreplied', 'replied']);
    send(table, packetOf(a)); // more traffic one way does not make it replied
    expect(unreplied.state).toBe('unreplied');

    expect(table.expire(t0 + 30 * S - 1)).toEqual([]);
    expect(table.expire(t0 + 30 * S)).toEqual([unreplied]);
    expect(table.expire(t0 + 180 * S - 1)).toEqual([]);
    expect(table.expire(t0 + 180 * S)).toEqual([replied]);
    expect(removed.map(([f, r]) => [f.data, r])).toEqual([['a', 'expired'], ['b', 'expired']]);
  });

  it('uses the "other" timeout for protocols other than TCP and UDP, and honours overrides', () => {
    const { table, clock } = harness({ timeouts: { other: 5, udpUnreplied: 2 } });
    const gre = tuple(47, '198.51.100.2', 0, '203.0.113.2', 0);
    const dns = tuple('udp', '198.51.100.2', 3333, '203.0.113.2', 53);
    const greFlow = table.insert(gre, reverseTuple(gre), 'gre');
    const dnsFlow = table.insert(dns, reverseTuple(dns), 'dns');
    send(table, packetOf(reverseTuple(gre)));
    expect(greFlow.state).toBe('replied');
    expect(table.expire(clock.ms + 2 * S)).toEqual([dnsFlow]);
    expect(table.expire(clock.ms + 5 * S)).toEqual([greFlow]);
  });

  it('keeps a busy flow however long it lives, and expires it one timeout after its last packet', () => {
    const { table, clock } = harness();
    const rtp = tuple('udp', '198.51.100.2', 40000, '203.0.113.2', 50000);
    const flow = table.insert(rtp, reverseTuple(rtp), 'rtp');
    send(table, packetOf(rtp));
    send(table, packetOf(reverseTuple(rtp)));
    for (let second = 1; second <= 3600; second++) {
      clock.advance(S);
      if (second % 170 === 0) send(table, packetOf(rtp));
      expect(table.expire()).toEqual([]);
    }
    const last = flow.lastSeen;
    expect(table.expire(last + 180 * S - 1)).toEqual([]);
    expect(table.expire(last + 180 * S)).toEqual([flow]);
  });

  it('takes a batch timestamp instead of reading its clock', () => {
    const { table, clock } = harness();
    const dns = tuple('udp', '198.51.100.2', 3333, '203.0.113.2', 53);
    const flow = table.insert(dns, reverseTuple(dns), 'dns');
    const batchAt = clock.ms + 5 * S;
    table.track(flow.originalEntry, packetOf(dns), 40, batchAt);
    expect([flow.lastSeen, flow.expiresAt]).toEqual([batchAt, batchAt + 30 * S]);
  });

  it('reports removals as removed, once', () => {
    const { table, removed } = harness();
    const flow = table.insert(client, listenerReply, '');
    expect(table.remove(flow)).toBe(true);
    expect(table.remove(flow)).toBe(false);
    expect(removed).toEqual([[flow, 'removed']]);
    expect(table.expire(Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it('lets onRemove change the table while expiring', () => {
    const clock = new ManualClock();
    const tuples = [1, 2, 3].map((i) => tuple('udp', '198.51.100.2', i, '203.0.113.2', 53));
    const reasons: string[] = [];
    const table: FlowTable<string> = new FlowTable<string>({
      now: clock.now,
      onRemove: (flow, reason) => {
        reasons.push(`${flow.data} ${reason}`);
        if (flow.data === '1') {
          // Its owner drops a sibling and opens something new.
          for (const f of table) if (f.data === '3') table.remove(f);
          const t = tuple('udp', '198.51.100.2', 9, '203.0.113.2', 53);
          table.insert(t, reverseTuple(t), 'new');
        }
      },
    });
    tuples.forEach((t, i) => table.insert(t, reverseTuple(t), String(i + 1)));
    clock.advance(30 * S);
    const expired = table.expire();
    expect(expired.map((f) => f.data)).toEqual(['1', '2']);
    expect(reasons).toEqual(['1 expired', '3 removed', '2 expired']);
    expect([...table].map((f) => f.data)).toEqual(['new']);
  });
});

describe('FlowTable against a model', () => {
  it('agrees with a naive list on every lookup through random inserts, packets, removals and expiry', () => {
    // Few addresses and ports so that tuples repeat; a weak hash so that buckets are long.
    const weak: TupleHasher = { hashTuple: (t) => t.srcPort & 3, hashPacket: (p) => p.srcPort & 3 };
    const arbTupleOf = (proto: 'tcp' | 'udp') =>
      fc
        .record({ a: fc.integer({ min: 1, max: 3 }), sp: fc.integer({ min: 1, max: 6 }), b: fc.integer({ min: 1, max: 3 }), dp: fc.integer({ min: 1, max: 3 }) })
        .map(({ a, sp, b, dp }) => tuple(proto, `198.51.100.${a}`, sp, `203.0.113.${b}`, dp));
    const arbProto = fc.constantFrom('tcp' as const, 'udp' as const);
    const arbTuple = arbProto.chain(arbTupleOf);
    const arbPair = arbProto.chain((proto) => fc.tuple(arbTupleOf(proto), arbTupleOf(proto)));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), pair: arbPair }),
      fc.record({ kind: fc.constant('packet' as const), t: arbTuple, flags: fc.constantFrom(SYN, SYN | ACK, ACK, FIN | ACK, RST, 0) }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('wait' as const), seconds: fc.integer({ min: 0, max: 200 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const clock = new ManualClock();
        const gone: Flow<number>[] = [];
        const table = new FlowTable<number>({ now: clock.now, hasher: weak, maxFlows: 8, onRemove: (f) => gone.push(f) });
        const live: Flow<number>[] = [];
        const key = (t: FiveTuple) => formatTuple(t);
        for (const o of ops) {
          if (o.kind === 'insert') {
            const [original, reply] = o.pair;
            const keys = live.flatMap((f) => [key(f.original), key(f.reply)]);
            const clash = keys.includes(key(original)) || keys.includes(key(reply)) || key(original) === key(reply);
            if (clash || live.length >= 8) {
              expect(() => table.insert(original, reply, 0)).toThrow(FlowTableError);
            } else {
              live.push(table.insert(original, reply, 0));
            }
          } else if (o.kind === 'packet') {
            const entry = table.lookup(packetOf(o.t, o.flags));
            const owner = live.find((f) => key(f.original) === key(o.t) || key(f.reply) === key(o.t));
            expect(entry?.flow).toBe(owner);
            if (entry !== undefined) {
              expect(key(entry.tuple)).toBe(key(o.t));
              table.track(entry, packetOf(o.t, o.flags), 1);
            }
          } else if (o.kind === 'remove' && live.length > 0) {
            const [f] = live.splice(o.pick % live.length, 1);
            expect(table.remove(f!)).toBe(true);
          } else if (o.kind === 'wait') {
            const now = clock.advance(o.seconds * S);
            const due = live.filter((f) => f.expiresAt <= now);
            const expired = table.expire();
            expect(new Set(expired)).toEqual(new Set(due));
            for (const f of expired) live.splice(live.indexOf(f), 1);
          }
          expect(table.size).toBe(live.length);
        }
        for (const f of gone) expect(table.lookup(packetOf(f.original))?.flow).not.toBe(f);
      }),
      { seed: 20240601, numRuns: 300 },
    );
  });
});
