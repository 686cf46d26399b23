import { endpoint, type DataChannelEvent, type Framing, type MessageDirection, type SessionInfo, type TransportProtocol } from '@algd/sdk';
import type { HostServices, TaskEnvelope, TaskLogRecord, TaskOutcome } from '@algd/sdk/runtime';
import winston from 'winston';
import type { FailurePolicy } from '../../../host/config/config-schema';
import type { SessionServices } from '../../../host/plugin-api/resources/session-services';
import { ControlSession, type Peer, type SessionEndReason, type SessionLegs } from '../../../host/plugin-api/session/control-session';
import type { SessionPlugin } from '../../../host/plugin-api/session/session-plugin';

const C2S: MessageDirection = 'client-to-server';
const S2C: MessageDirection = 'server-to-client';
const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
/** Lets every queued promise continuation run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A task outcome from text. */
function outcome(o: { state?: unknown; forward?: string | null; respond?: string | null; close?: boolean; release?: boolean; counters?: Record<string, number>; logs?: TaskLogRecord[] } = {}): TaskOutcome {
  return {
    state: o.state,
    forward: o.forward == null ? null : bytes(o.forward),
    respond: o.respond == null ? null : bytes(o.respond),
    close: o.close ?? false,
    release: o.release ?? false,
    counters: o.counters ?? {},
    logs: o.logs ?? [],
  };
}

type Settler = { resolve(o: TaskOutcome): void; reject(err: Error): void };

/**
 * A plugin whose tasks the test settles: each `run` is held until
 * `resolveNext`/`rejectNext`, unless a `script` answers at once.
 */
class FakePlugin implements SessionPlugin {
  readonly name = 'fake';
  onFailure: FailurePolicy = 'close';
  readonly maxDataChannels = 4;
  wantsEvents = false;
  handled: MessageDirection[] = [C2S, S2C];
  streamFraming: Framing | undefined = { kind: 'lines' };
  datagramFraming: Framing | undefined = { kind: 'sip' };
  script: ((envelope: TaskEnvelope) => TaskOutcome | Error) | undefined;
  readonly envelopes: TaskEnvelope[] = [];
  readonly services: HostServices[] = [];
  readonly counters: Record<string, number>[] = [];
  readonly framingAsked: TransportProtocol[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly held: Settler[] = [];

  handles(direction: MessageDirection): boolean {
    return this.handled.includes(direction);
  }

  framing(protocol: TransportProtocol): Framing | undefined {
    this.framingAsked.push(protocol);
    return protocol === 'udp' ? this.datagramFraming : this.streamFraming;
  }

  run(envelope: TaskEnvelope, services: HostServices): Promise<TaskOutcome> {
    this.envelopes.push(envelope);
    this.services.push(services);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<TaskOutcome>((resolve, reject) => {
      const settler: Settler = {
        resolve: (o) => { this.inFlight--; resolve(o); },
        reject: (err) => { this.inFlight--; reject(err); },
      };
      const answer = this.script?.(envelope);
      if (answer === undefined) this.held.push(settler);
      else if (answer instanceof Error) settler.reject(answer);
      else settler.resolve(answer);
    });
  }

  addCounters(counters: Readonly<Record<string, number>>): void {
    this.counters.push({ ...counters });
  }

  get waiting(): number {
    return this.held.length;
  }

  async resolveNext(o: TaskOutcome = outcome()): Promise<void> {
    const s = this.held.shift();
    if (s === undefined) throw new Error('no task is waiting');
    s.resolve(o);
    await settle();
  }

  async rejectNext(err: Error): Promise<void> {
    const s = this.held.shift();
    if (s === undefined) throw new Error('no task is waiting');
    s.reject(err);
    await settle();
  }

  /** The tasks run, as [direction, text] for messages and ['event', event] for events. */
  tasks(): [string, unknown][] {
    return this.envelopes.map((e) => (e.task.kind === 'message' ? [e.task.direction, text(e.task.message)] : ['event', e.task.event]));
  }
}

/** Echoes each message on, the state unchanged. */
const echo = (e: TaskEnvelope): TaskOutcome => outcome({ state: e.state, forward: e.task.kind === 'message' ? text(e.task.message) : null });

type LegCall = ['send', Peer, string] | ['end', Peer] | ['close', boolean] | ['throttle', MessageDirection, boolean] | ['keepalive', number];

/** Records what the session asks of its transport; long writes as their length. */
class FakeLegs implements SessionLegs {
  readonly calls: LegCall[] = [];
  send(to: Peer, data: Uint8Array): void {
    this.calls.push(['send', to, data.length > 64 ? `<${data.length} bytes>` : text(data)]);
  }
  end(to: Peer): void {
    this.calls.push(['end', to]);
  }
  close(graceful: boolean): void {
    this.calls.push(['close', graceful]);
  }
  throttle(direction: MessageDirection, paused: boolean): void {
    this.calls.push(['throttle', direction, paused]);
  }
  keepalive(liveChannels: number): void {
    this.calls.push(['keepalive', liveChannels]);
  }
  of(kind: LegCall[0]): LegCall[] {
    return this.calls.filter((c) => c[0] === kind);
  }
}

/** Keeps every log record. */
class CollectingTransport extends winston.transports.Console {
  readonly records: Record<string, unknown>[] = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    const { level, message, session, plugin, ...rest } = info;
    // winston adds symbol keys; only the plain fields matter here.
    this.records.push({ level, message, session, plugin, ...Object.fromEntries(Object.entries(rest)) });
    next();
  }
}

function setup(opts: { protocol?: TransportProtocol } = {}) {
  const plugin = new FakePlugin();
  const legs = new FakeLegs();
  const services = { ends: 0, end(): void { services.ends++; }, liveChannels: 0, describeChannels: (): string[] => [] };
  const transport = new CollectingTransport();
  const log = winston.createLogger({ level: 'debug', transports: [transport] });
  const clock = { t: 1_000 };
  const ended: ControlSession[] = [];
  const info: SessionInfo = {
    id: 'fake-1',
    plugin: 'fake',
    protocol: opts.protocol ?? 'tcp',
    client: endpoint('198.51.100.2', 40000),
    server: endpoint('203.0.113.2', 21),
    boundary: endpoint('203.0.113.1', 50000),
    clientSide: 'private',
    adapters: [],
  };
  const session = new ControlSession(info, plugin, services as unknown as SessionServices, legs, log, () => clock.t, (s) => ended.push(s));
  return { plugin, legs, services, transport, clock, ended, info, session, log };
}

describe('ControlSession: framing and order', () => {
  it('cuts lines across chunks and hands them to the plugin whole, in order, with the session', async () => {
    const s = setup();
    s.plugin.script = echo;
    s.session.receive(C2S, bytes('USER anon'));
    s.session.receive(C2S, bytes('ymous\r\nPASS x\r\nSY'));
    s.session.receive(C2S, bytes('ST\r\n'));
    await settle();
    expect(s.plugin.tasks()).toEqual([[C2S, 'USER anonymous\r\n'], [C2S, 'PASS x\r\n'], [C2S, 'SYST\r\n']]);
    expect(s.plugin.envelopes.every((e) => e.session === s.info)).toBe(true);
    expect(s.plugin.services.every((x) => x === (s.services as unknown))).toBe(true);
    expect(s.legs.calls).toEqual([['send', 'server', 'USER anonymous\r\n'], ['send', 'server', 'PASS x\r\n'], ['send', 'server', 'SYST\r\n']]);
    expect(s.session.bytes).toEqual({ [C2S]: 30, [S2C]: 0 });
    expect(s.session.pending).toBe(0);
    expect(s.plugin.framingAsked).toEqual(['tcp']);
  });

  it('frames each direction on its own: a message is queued when it is complete', async () => {
    const s = setup();
    s.plugin.script = echo;
    s.session.receive(S2C, bytes('220 Wel'));
    s.session.receive(C2S, bytes('USER a\r\n'));
    s.session.receive(S2C, bytes('come\r\n'));
    await settle();
    expect(s.plugin.tasks()).toEqual([[C2S, 'USER a\r\n'], [S2C, '220 Welcome\r\n']]);
    expect(s.legs.calls).toEqual([['send', 'server', 'USER a\r\n'], ['send', 'client', '220 Welcome\r\n']]);
    expect(s.session.bytes).toEqual({ [C2S]: 8, [S2C]: 13 });
  });

  it("hands each task the state the previous outcome left, whichever peer sent the message", async () => {
    const s = setup();
    s.plugin.script = (e) => outcome({ state: [...((e.state as string[] | undefined) ?? []), e.task.kind === 'message' ? text(e.task.message) : 'event'] });
    s.session.receive(C2S, bytes('A\r\n'));
    s.session.receive(S2C, bytes('B\r\n'));
    s.session.receive(C2S, bytes('C\r\n'));
    await settle();
    expect(s.plugin.envelopes.map((e) => e.state)).toEqual([undefined, ['A\r\n'], ['A\r\n', 'B\r\n']]);
    expect(s.session.state).toEqual(['A\r\n', 'B\r\n', 'C\r\n']);
    // Nothing forwarded: every outcome dropped its message.
    expect(s.legs.calls).toEqual([]);
  });

  it('writes forward on, respond to the sender, and closes gracefully after both when the plugin says so', async () => {
    const s = setup();
    const answers: Record<string, TaskOutcome> = {
      'REWRITE\r\n': outcome({ forward: 'REWRITTEN\r\n', counters: { rewritten: 1 }, logs: [{ level: 'info', message: 'rewrote', fields: { port: 20 } }] }),
      'ASK\r\n': outcome({ respond: '200 answered\r\n' }),
      'NOTE\r\n': outcome({ forward: 'note\r\n', respond: 'ack\r\n' }),
      'EMPTY\r\n': outcome({ forward: '', respond: '' }),
      'BYE\r\n': outcome({ forward: 'QUIT\r\n', respond: '221 bye\r\n', close: true }),
    };
    s.plugin.script = (e) => answers[e.task.kind === 'message' ? text(e.task.message) : ''] ?? new Error('unexpected');
    s.session.receive(C2S, bytes('REWRITE\r\nASK\r\n'));
    s.session.receive(S2C, bytes('NOTE\r\n'));
    s.session.receive(C2S, bytes('EMPTY\r\nBYE\r\nAFTER\r\n'));
    await settle();
    expect(s.legs.calls).toEqual([
      ['send', 'server', 'REWRITTEN\r\n'],
      ['send', 'client', '200 answered\r\n'],
      ['send', 'client', 'note\r\n'],
      ['send', 'server', 'ack\r\n'],
      ['send', 'server', 'QUIT\r\n'],
      ['send', 'client', '221 bye\r\n'],
      ['close', true],
    ]);
    expect(s.plugin.tasks().map(([, t]) => t)).toEqual(['REWRITE\r\n', 'ASK\r\n', 'NOTE\r\n', 'EMPTY\r\n', 'BYE\r\n']);
    expect(s.session.endReason).toBe('plugin-closed');
    expect(s.services.ends).toBe(1);
    expect(s.ended).toEqual([s.session]);
    expect(s.plugin.counters).toEqual([{ rewritten: 1 }]);
    expect(s.transport.records).toEqual([{ level: 'info', message: 'rewrote', port: 20, session: 'fake-1', plugin: 'fake' }]);
    // Closed: nothing more is taken.
    s.session.receive(C2S, bytes('MORE\r\n'));
    await settle();
    expect(s.plugin.envelopes).toHaveLength(5);
  });

  it('relays a direction without a handler raw, without a task, in order with the queued messages', async () => {
    const s = setup();
    s.plugin.handled = [C2S];
    s.session.receive(C2S, bytes('A\r\n'));
    s.session.receive(S2C, bytes('hel'));
    s.session.receive(S2C, bytes('lo'));
    s.session.receive(C2S, bytes('B\r\n'));
    await settle();
    expect(s.plugin.tasks()).toEqual([[C2S, 'A\r\n']]);
    expect(s.legs.calls).toEqual([]);
    expect(s.session.pending).toBe(4);
    await s.plugin.resolveNext(outcome({ forward: 'a' }));
    expect(s.legs.calls).toEqual([['send', 'server', 'a'], ['send', 'client', 'hel'], ['send', 'client', 'lo']]);
    expect(s.plugin.tasks()).toEqual([[C2S, 'A\r\n'], [C2S, 'B\r\n']]);
    await s.plugin.resolveNext(outcome({ forward: 'b' }));
    expect(s.legs.calls.slice(3)).toEqual([['send', 'server', 'b']]);
    expect(s.session.bytes).toEqual({ [C2S]: 6, [S2C]: 5 });
    expect(s.plugin.framingAsked).toEqual(['tcp']);
  });

  it('never runs two tasks of a session at once', async () => {
    const s = setup();
    s.session.receive(C2S, bytes('A\r\nB\r\n'));
    s.session.receive(S2C, bytes('C\r\n'));
    await settle();
    expect([s.plugin.envelopes.length, s.session.pending]).toEqual([1, 3]);
    await s.plugin.resolveNext();
    expect([s.plugin.envelopes.length, s.session.pending]).toEqual([2, 2]);
    await s.plugin.resolveNext();
    expect([s.plugin.envelopes.length, s.session.pending]).toEqual([3, 1]);
    await s.plugin.resolveNext();
    expect([s.plugin.envelopes.length, s.session.pending]).toEqual([3, 0]);
    expect(s.plugin.maxInFlight).toBe(1);
    expect(s.plugin.tasks()).toEqual([[C2S, 'A\r\n'], [C2S, 'B\r\n'], [S2C, 'C\r\n']]);
  });

  it('updates lastActivity from the injected clock on every chunk and datagram', () => {
    const s = setup();
    expect([s.session.startedAt, s.session.lastActivity]).toEqual([1_000, 1_000]);
    s.clock.t = 2_500;
    s.session.receive(S2C, bytes('x'));
    expect(s.session.lastActivity).toBe(2_500);
    s.clock.t = 4_000;
    s.session.receiveDatagram(C2S, bytes('\r\n'));
    expect([s.session.startedAt, s.session.lastActivity]).toEqual([1_000, 4_000]);
  });
});

describe('ControlSession: failures', () => {
  it('policy close: closes at once (not gracefully), once, ends as plugin-failed, calls onEnd once', async () => {
    const s = setup();
    s.session.receive(C2S, bytes('A\r\nB\r\n'));
    s.session.receive(S2C, bytes('X\r\n'));
    await settle();
    await s.plugin.rejectNext(new Error('boom'));
    expect(s.legs.calls).toEqual([['close', false]]);
    expect(s.session.endReason).toBe('plugin-failed');
    expect(s.session.closed).toBe(true);
    expect(s.session.pending).toBe(0);
    expect(s.services.ends).toBe(1);
    expect(s.ended).toEqual([s.session]);
    expect(s.plugin.envelopes).toHaveLength(1);
    expect(s.transport.records).toEqual([{ level: 'error', message: 'plugin task failed: boom; session closed', session: 'fake-1', plugin: 'fake' }]);
    s.session.receive(C2S, bytes('C\r\n'));
    s.session.close('closed');
    s.session.closeWhenDrained('closed');
    await settle();
    expect(s.legs.calls).toEqual([['close', false]]);
    expect(s.session.endReason).toBe('plugin-failed');
    expect(s.services.ends).toBe(1);
    expect(s.ended).toHaveLength(1);
    expect(s.plugin.envelopes).toHaveLength(1);
  });

  it('policy passthrough: the failed message goes on unchanged, later ones without tasks', async () => {
    const s = setup();
    s.plugin.onFailure = 'passthrough';
    s.plugin.wantsEvents = true;
    s.session.receive(C2S, bytes('A\r\nB\r\n'));
    s.session.receive(S2C, bytes('X\r\n'));
    await settle();
    await s.plugin.rejectNext(new Error('boom'));
    expect(s.legs.calls).toEqual([['send', 'server', 'A\r\n'], ['send', 'server', 'B\r\n'], ['send', 'client', 'X\r\n']]);
    expect(s.session.passthrough).toBe(true);
    expect(s.session.closed).toBe(false);
    expect(s.transport.records).toEqual([{ level: 'error', message: 'plugin task failed: boom; session passes bytes through unchanged from now on', session: 'fake-1', plugin: 'fake' }]);
    // Still cut at line ends, never handed to the plugin.
    s.session.receive(C2S, bytes('C\r\nD'));
    s.session.receive(C2S, bytes('\r\n'));
    s.session.event({ kind: 'ended', channel: 1, reason: 'expired' });
    await settle();
    expect(s.legs.calls.slice(3)).toEqual([['send', 'server', 'C\r\n'], ['send', 'server', 'D\r\n']]);
    expect(s.plugin.envelopes).toHaveLength(1);
    expect(s.services.ends).toBe(0);
    expect(s.ended).toEqual([]);
  });

  it('policy passthrough: an event queued before the failure is not handed to the plugin either', async () => {
    const s = setup();
    s.plugin.onFailure = 'passthrough';
    s.plugin.wantsEvents = true;
    s.session.receive(C2S, bytes('A\r\n'));
    s.session.event({ kind: 'used', channel: 1, peer: endpoint('203.0.113.2', 20) });
    s.session.receive(C2S, bytes('B\r\n'));
    await settle();
    await s.plugin.rejectNext(new Error('boom'));
    expect(s.plugin.envelopes).toHaveLength(1);
    expect(s.legs.calls).toEqual([['send', 'server', 'A\r\n'], ['send', 'server', 'B\r\n']]);
    expect(s.session.pending).toBe(0);
  });

  it('writes nothing a task answers after the session was closed under it, and ignores its failure', async () => {
    const s = setup();
    s.session.receive(C2S, bytes('A\r\n'));
    s.session.receive(S2C, bytes('B\r\n'));
    await settle();
    s.session.close('plugin-disabled');
    expect(s.legs.calls).toEqual([['close', false]]);
    await s.plugin.resolveNext(outcome({ forward: 'a', respond: 'r', close: true }));
    expect(s.legs.calls).toEqual([['close', false]]);
    expect(s.session.endReason).toBe('plugin-disabled');
    expect(s.plugin.envelopes).toHaveLength(1);

    const t = setup();
    t.session.receive(C2S, bytes('A\r\n'));
    await settle();
    t.session.close('shutdown');
    await t.plugin.rejectNext(new Error('pool closed'));
    expect(t.legs.calls).toEqual([['close', false]]);
    expect(t.session.endReason).toBe('shutdown');
    expect(t.transport.records).toEqual([]);
    expect(t.ended).toHaveLength(1);
  });

  it('does not let a leg that throws after the close escape as an unhandled rejection', async () => {
    const s = setup({ protocol: 'udp' });
    s.plugin.datagramFraming = undefined;
    // A datagram leg whose socket is closed throws on send, as dgram does.
    let closed = false;
    s.legs.send = (to, data) => {
      if (closed) throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
      s.legs.calls.push(['send', to, text(data)]);
    };
    s.legs.close = (graceful) => { closed = true; s.legs.calls.push(['close', graceful]); };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    try {
      s.session.receiveDatagram(C2S, bytes('ping'));
      await settle();
      s.session.close('plugin-disabled');
      await s.plugin.resolveNext(outcome({ forward: 'ping' }));
      await settle();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(s.legs.calls).toEqual([['close', false]]);
  });
});

describe('ControlSession: release', () => {
  it('passes what is queued and what the framers hold on unchanged, in order, then every byte unframed without tasks', async () => {
    const s = setup();
    s.plugin.wantsEvents = true;
    s.session.receive(C2S, bytes('AUTH TLS\r\nB\r\nhal'));
    s.session.receive(S2C, bytes('srv'));
    await settle();
    await s.plugin.resolveNext(outcome({ state: 'tls', respond: '234 go\r\n', release: true }));
    expect(s.legs.calls).toEqual([['send', 'client', '234 go\r\n'], ['send', 'server', 'B\r\n'], ['send', 'server', 'hal'], ['send', 'client', 'srv']]);
    expect([s.session.released, s.session.passthrough, s.session.closed, s.session.state]).toEqual([true, true, false, 'tls']);
    // No line limit applies any more, and the plugin sees neither bytes nor events.
    s.session.receive(C2S, bytes('\x16\x03\x01'));
    s.session.receive(S2C, bytes('x'.repeat(600)));
    s.session.event({ kind: 'ended', channel: 1, reason: 'removed' });
    await settle();
    expect(s.legs.calls.slice(4)).toEqual([['send', 'server', '\x16\x03\x01'], ['send', 'client', '<600 bytes>']]);
    expect(s.plugin.envelopes).toHaveLength(1);
    expect(s.plugin.counters).toEqual([]);
  });
});

describe('ControlSession: its logger', () => {
  it('makes the session logger at its first line, once: a session that logs nothing costs none', async () => {
    const s = setup();
    const childSpy = jest.spyOn(s.log, 'child');
    s.plugin.script = echo;
    s.session.receive(C2S, bytes('USER a\r\nPASS b\r\n'));
    await settle();
    expect(childSpy).toHaveBeenCalledTimes(0);
    s.plugin.script = () => outcome({ forward: 'x\r\n', logs: [{ level: 'info', message: 'one' }, { level: 'warn', message: 'two' }] });
    s.session.receive(S2C, bytes('220 hi\r\n'));
    s.session.receive(S2C, bytes('230 ok\r\n'));
    await settle();
    expect(childSpy).toHaveBeenCalledTimes(1);
    expect(childSpy).toHaveBeenCalledWith({ session: 'fake-1', plugin: 'fake' });
    expect(s.transport.records).toEqual([
      { level: 'info', message: 'one', session: 'fake-1', plugin: 'fake' },
      { level: 'warn', message: 'two', session: 'fake-1', plugin: 'fake' },
      { level: 'info', message: 'one', session: 'fake-1', plugin: 'fake' },
      { level: 'warn', message: 'two', session: 'fake-1', plugin: 'fake' },
    ]);
  });
});

describe('ControlSession: framing violations', () => {
  it('delivers the whole messages before a violation, then closes gracefully as framing, counted', async () => {
    const s = setup();
    s.plugin.streamFraming = { kind: 'lines', maxLineLength: 10 };
    s.session.receive(C2S, bytes(`ok\r\nfine\r\n${'x'.repeat(20)}`));
    await settle();
    expect(s.plugin.tasks()).toEqual([[C2S, 'ok\r\n']]);
    expect(s.session.closed).toBe(false);
    expect(s.plugin.counters).toEqual([{ 'framing-line-too-long': 1 }]);
    expect(s.transport.records).toEqual([{ level: 'warn', message: 'session closed: the client broke the framing: line exceeds the limit of 10 bytes (20 bytes without a terminator)', session: 'fake-1', plugin: 'fake' }]);
    // Nothing more is read from either peer.
    s.session.receive(S2C, bytes('late\r\n'));
    s.session.receive(C2S, bytes('later\r\n'));
    await s.plugin.resolveNext(outcome({ forward: 'ok\r\n' }));
    expect(s.plugin.tasks()).toEqual([[C2S, 'ok\r\n'], [C2S, 'fine\r\n']]);
    expect(s.session.closed).toBe(false);
    await s.plugin.resolveNext(outcome({ forward: 'fine\r\n' }));
    expect(s.legs.calls).toEqual([['send', 'server', 'ok\r\n'], ['send', 'server', 'fine\r\n'], ['close', true]]);
    expect(s.session.endReason).toBe('framing');
    expect(s.services.ends).toBe(1);
    expect(s.ended).toEqual([s.session]);
    expect(s.session.bytes).toEqual({ [C2S]: 30, [S2C]: 0 });
  });

  it('closes at once when nothing is pending, and names the server when it broke the framing', async () => {
    const s = setup();
    s.plugin.streamFraming = { kind: 'lines', maxLineLength: 10 };
    s.session.receive(S2C, bytes('y'.repeat(10)));
    expect(s.legs.calls).toEqual([['close', true]]);
    expect(s.session.endReason).toBe('framing');
    expect(s.plugin.envelopes).toEqual([]);
    expect(s.transport.records).toEqual([{ level: 'warn', message: 'session closed: the server broke the framing: line exceeds the limit of 10 bytes (10 bytes without a terminator)', session: 'fake-1', plugin: 'fake' }]);
    expect(s.plugin.counters).toEqual([{ 'framing-line-too-long': 1 }]);
  });
});

describe('ControlSession: ends and closes', () => {
  it('passes a FIN on after what the peer sent before it', async () => {
    const s = setup();
    s.session.receive(C2S, bytes('A\r\n'));
    s.session.endOf(C2S);
    await settle();
    expect(s.legs.calls).toEqual([]);
    await s.plugin.resolveNext(outcome({ forward: 'a' }));
    expect(s.legs.calls).toEqual([['send', 'server', 'a'], ['end', 'server']]);
    s.session.endOf(S2C);
    await settle();
    expect(s.legs.calls.slice(2)).toEqual([['end', 'client']]);
    expect(s.session.closed).toBe(false);
  });

  it('closeWhenDrained waits for queued and in-flight work, and keeps the first reason', async () => {
    const s = setup();
    s.session.receive(C2S, bytes('A\r\nB\r\n'));
    s.session.closeWhenDrained('closed');
    s.session.closeWhenDrained('shutdown');
    await settle();
    expect(s.session.closed).toBe(false);
    await s.plugin.resolveNext(outcome({ forward: 'a' }));
    expect(s.session.closed).toBe(false);
    await s.plugin.resolveNext(outcome({ forward: 'b' }));
    expect(s.legs.calls).toEqual([['send', 'server', 'a'], ['send', 'server', 'b'], ['close', true]]);
    expect(s.session.endReason).toBe('closed');
    expect(s.ended).toHaveLength(1);
  });

  it('closeWhenDrained closes at once when nothing is pending', () => {
    const s = setup();
    s.session.closeWhenDrained('idle');
    expect(s.legs.calls).toEqual([['close', false]]);
    expect(s.session.endReason).toBe('idle');
  });

  it.each<[SessionEndReason, boolean]>([
    ['closed', true], ['plugin-closed', true], ['framing', true],
    ['plugin-failed', false], ['idle', false], ['plugin-disabled', false], ['shutdown', false],
  ])('close(%s) closes the legs with graceful=%s, ends the services and calls onEnd, once', (reason, graceful) => {
    const s = setup();
    s.session.close(reason);
    s.session.close('closed');
    expect(s.legs.calls).toEqual([['close', graceful]]);
    expect(s.session.endReason).toBe(reason);
    expect(s.services.ends).toBe(1);
    expect(s.ended).toEqual([s.session]);
  });

  it('passes live channel counts to the legs until the session is closed', () => {
    const s = setup();
    s.session.channelsChanged(2);
    s.session.channelsChanged(0);
    s.session.close('closed');
    s.session.channelsChanged(1);
    expect(s.legs.calls).toEqual([['keepalive', 2], ['keepalive', 0], ['close', true]]);
    // Legs without keepalive (datagrams) are fine.
    const t = setup();
    const legs: SessionLegs = { send: () => {}, end: () => {}, close: () => {}, throttle: () => {} };
    const session = new ControlSession(t.info, t.plugin, t.services as unknown as SessionServices, legs, winston.createLogger({ transports: [t.transport] }), () => 0, () => {});
    expect(() => session.channelsChanged(3)).not.toThrow();
  });
});

describe('ControlSession: backpressure', () => {
  it('pauses the sender once its backlog is above 256 KiB (queued and in-flight bytes)', async () => {
    const s = setup();
    s.plugin.streamFraming = { kind: 'raw' };
    s.session.receive(C2S, Buffer.alloc(HIGH_WATER - 65_536));
    s.session.receive(C2S, Buffer.alloc(65_536));
    expect(s.legs.of('throttle')).toEqual([]);
    s.session.receive(C2S, Buffer.alloc(1));
    expect(s.legs.of('throttle')).toEqual([['throttle', C2S, true]]);
    s.session.receive(C2S, Buffer.alloc(1_000));
    // The other direction has its own backlog.
    s.session.receive(S2C, Buffer.alloc(1_000));
    expect(s.legs.of('throttle')).toEqual([['throttle', C2S, true]]);
    await settle();
    expect(s.plugin.envelopes).toHaveLength(1);
  });

  it('resumes once the backlog is below 64 KiB, not at 64 KiB', async () => {
    const s = setup();
    s.plugin.streamFraming = { kind: 'raw' };
    s.session.receive(C2S, Buffer.alloc(200_000));
    s.session.receive(C2S, Buffer.alloc(1));
    s.session.receive(C2S, Buffer.alloc(LOW_WATER - 1)); // 265 536 bytes
    expect(s.legs.of('throttle')).toEqual([['throttle', C2S, true]]);
    await settle();
    await s.plugin.resolveNext(); // 65 536 left
    expect(s.legs.of('throttle')).toEqual([['throttle', C2S, true]]);
    await s.plugin.resolveNext(); // 65 535 left
    expect(s.legs.of('throttle')).toEqual([['throttle', C2S, true], ['throttle', C2S, false]]);
    await s.plugin.resolveNext();
    expect(s.legs.of('throttle')).toHaveLength(2);
    // And pauses again when it grows again.
    s.session.receive(C2S, Buffer.alloc(HIGH_WATER + 1));
    expect(s.legs.of('throttle')).toEqual([['throttle', C2S, true], ['throttle', C2S, false], ['throttle', C2S, true]]);
  });

  it('counts relayed bytes of a direction without a handler', async () => {
    const s = setup();
    s.plugin.handled = [C2S];
    s.session.receive(C2S, bytes('A\r\n'));
    s.session.receive(S2C, Buffer.alloc(HIGH_WATER + 1));
    expect(s.legs.calls).toEqual([['throttle', S2C, true]]);
    await settle();
    await s.plugin.resolveNext(outcome({ forward: 'a' }));
    expect(s.legs.calls).toEqual([['throttle', S2C, true], ['send', 'server', 'a'], ['send', 'client', `<${HIGH_WATER + 1} bytes>`], ['throttle', S2C, false]]);
  });

  it('does not resume a closed session', async () => {
    const s = setup();
    s.plugin.streamFraming = { kind: 'raw' };
    s.session.receive(C2S, Buffer.alloc(HIGH_WATER + 1));
    await settle();
    s.session.close('shutdown');
    await s.plugin.resolveNext();
    expect(s.legs.calls).toEqual([['throttle', C2S, true], ['close', false]]);
  });
});

describe('ControlSession: datagrams', () => {
  it('drops and counts a datagram that breaks the framing, and keeps the session', async () => {
    const s = setup({ protocol: 'udp' });
    s.plugin.script = echo;
    s.session.receiveDatagram(C2S, bytes('garbage'));
    s.session.receiveDatagram(C2S, bytes(''));
    s.session.receiveDatagram(S2C, bytes('\r\nSIP/2.0 200 OK\r\n\r\n'));
    s.session.receiveDatagram(C2S, bytes('OPTIONS sip:a SIP/2.0\r\n\r\n'));
    await settle();
    expect(s.plugin.counters).toEqual([{ 'framing-truncated-message': 1 }, { 'framing-truncated-message': 1 }, { 'framing-bad-start-line': 1 }]);
    expect(s.transport.records).toEqual([
      { level: 'warn', message: 'datagram dropped: datagram ends before the empty line ending the headers', session: 'fake-1', plugin: 'fake' },
      { level: 'warn', message: 'datagram dropped: empty datagram', session: 'fake-1', plugin: 'fake' },
      { level: 'warn', message: 'datagram dropped: datagram does not start with a start line', session: 'fake-1', plugin: 'fake' },
    ]);
    expect(s.plugin.tasks()).toEqual([[C2S, 'OPTIONS sip:a SIP/2.0\r\n\r\n']]);
    expect(s.legs.calls).toEqual([['send', 'server', 'OPTIONS sip:a SIP/2.0\r\n\r\n']]);
    expect(s.session.closed).toBe(false);
    expect(s.session.bytes).toEqual({ [C2S]: 7 + 0 + 25, [S2C]: 20 });
    expect(s.plugin.framingAsked).toEqual(['udp', 'udp', 'udp', 'udp']);
  });

  it('relays datagrams of a direction without a handler unchecked, and every datagram in passthrough', async () => {
    const s = setup({ protocol: 'udp' });
    s.plugin.handled = [C2S];
    s.plugin.onFailure = 'passthrough';
    s.session.receiveDatagram(S2C, bytes('garbage'));
    s.session.receiveDatagram(C2S, bytes('REGISTER sip:a SIP/2.0\r\n\r\n'));
    await settle();
    await s.plugin.rejectNext(new Error('boom'));
    s.session.receiveDatagram(C2S, bytes('junk'));
    await settle();
    expect(s.legs.calls).toEqual([['send', 'client', 'garbage'], ['send', 'server', 'REGISTER sip:a SIP/2.0\r\n\r\n'], ['send', 'server', 'junk']]);
    expect(s.plugin.counters).toEqual([]);
    expect(s.plugin.envelopes).toHaveLength(1);
  });
});

describe('ControlSession: data-channel events', () => {
  const used: DataChannelEvent = { kind: 'used', channel: 3, peer: endpoint('203.0.113.2', 20) };

  it('ignores events when the plugin does not want them', async () => {
    const s = setup();
    s.plugin.script = echo;
    s.session.event(used);
    await settle();
    expect(s.plugin.envelopes).toEqual([]);
    expect(s.session.pending).toBe(0);
  });

  it('runs events as tasks in order with the messages, with the state, and writes nothing for them', async () => {
    const s = setup();
    s.plugin.wantsEvents = true;
    s.session.receive(C2S, bytes('A\r\n'));
    s.session.event(used);
    s.session.receive(C2S, bytes('B\r\n'));
    await settle();
    await s.plugin.resolveNext(outcome({ state: 1, forward: 'a' }));
    expect(s.plugin.envelopes[1]).toEqual({ session: s.info, state: 1, task: { kind: 'data-channel-event', event: used } });
    await s.plugin.resolveNext(outcome({ state: 2, forward: 'ignored', respond: 'ignored too' }));
    await s.plugin.resolveNext(outcome({ state: 3, forward: 'b' }));
    expect(s.plugin.tasks()).toEqual([[C2S, 'A\r\n'], ['event', used], [C2S, 'B\r\n']]);
    expect(s.plugin.envelopes.map((e) => e.state)).toEqual([undefined, 1, 2]);
    expect(s.legs.calls).toEqual([['send', 'server', 'a'], ['send', 'server', 'b']]);
    expect(s.session.state).toBe(3);
    s.session.close('closed');
    s.session.event(used);
    await settle();
    expect(s.plugin.envelopes).toHaveLength(3);
  });
});
