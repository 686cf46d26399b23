import { checkDatagram, createStreamFramer, FramingError, type DataChannelEvent, type MessageDirection, type SessionInfo, type StreamFramer } from '@algd/sdk';
import type { SessionTask, TaskOutcome } from '@algd/sdk/runtime';
import { sessionLogger, type Logger } from '../../logging/logger';
import type { SessionServices } from '../resources/session-services';
import type { SessionPlugin } from './session-plugin';

/** Which peer a leg reaches. */
export type Peer = 'client' | 'server';

/** The transport under a session: the listener's two sockets or the relay's datagram paths. */
export interface SessionLegs {
  /** Writes towards a peer, in order. */
  send(to: Peer, bytes: Uint8Array): void;
  /** Half-closes towards a peer once everything before it is written (TCP FIN). */
  end(to: Peer): void;
  /** Closes both legs: `graceful` after what was written has gone out, otherwise at once. */
  close(graceful: boolean): void;
  /** Stop (true) or resume (false) reading from the peer that sends in `direction`: the session's backlog is too long. */
  throttle(direction: MessageDirection, paused: boolean): void;
  /** The number of live data channels changed (TCP legs keep alive while there are any). */
  keepalive?(liveChannels: number): void;
}

/** Why a session ended. */
export type SessionEndReason = 'closed' | 'plugin-closed' | 'plugin-failed' | 'framing' | 'idle' | 'plugin-disabled' | 'shutdown';

type WorkItem =
  | { readonly kind: 'message'; readonly direction: MessageDirection; readonly bytes: Buffer }
  | { readonly kind: 'relay'; readonly direction: MessageDirection; readonly bytes: Buffer }
  | { readonly kind: 'end'; readonly direction: MessageDirection }
  | { readonly kind: 'event'; readonly event: DataChannelEvent };

/** Backlog (queued and in-flight bytes of one direction) at which reading from its sender pauses, and where it resumes. */
const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

const TARGET: Readonly<Record<MessageDirection, Peer>> = { 'client-to-server': 'server', 'server-to-client': 'client' };
const SOURCE: Readonly<Record<MessageDirection, Peer>> = { 'client-to-server': 'client', 'server-to-client': 'server' };

/**
 * One control session: frames what each peer sends, runs each message
 * through the plugin in order (one task at a time, since the session's state
 * travels with each task), and writes what the plugin answers to the legs.
 *
 * Both directions share one queue: a message is handled with the state the
 * previous one left, whichever peer sent it. Reading from a peer pauses
 * while its direction's backlog exceeds {@link HIGH_WATER}.
 *
 * When a task fails the plugin's failure policy applies: `close` ends the
 * session; `passthrough` forwards the failed message unchanged and relays
 * every later byte without the plugin.
 */
export class ControlSession {
  state: unknown = undefined;
  /** Set once the plugin failed under the `passthrough` policy, or released the session: bytes pass unchanged without it. */
  passthrough = false;
  /** Set when the plugin released the session (stopped inspecting it); framing stops too. */
  released = false;
  lastActivity: number;
  /**
   * The idle timeout the plugin set (`setIdleTimeout`), in ms; undefined:
   * the configured one. The registry applies at most the configured one.
   */
  idleTimeoutMs: number | undefined;
  endReason: SessionEndReason | undefined;
  readonly startedAt: number;
  readonly bytes: Record<MessageDirection, number> = { 'client-to-server': 0, 'server-to-client': 0 };
  private readonly queue: WorkItem[] = [];
  private readonly backlog: Record<MessageDirection, number> = { 'client-to-server': 0, 'server-to-client': 0 };
  private readonly paused: Record<MessageDirection, boolean> = { 'client-to-server': false, 'server-to-client': false };
  private readonly framers: Partial<Record<MessageDirection, StreamFramer>> = {};
  private running = false;
  private closeWhenDone: SessionEndReason | undefined;
  private stopReading = false;
  /** Every line of the session carries its id; made at the session's first line (most sessions log none). */
  private sessionLog: Logger | undefined;

  constructor(
    readonly info: SessionInfo,
    private readonly plugin: SessionPlugin,
    readonly services: SessionServices,
    private readonly legs: SessionLegs,
    private readonly hostLog: Logger,
    private readonly now: () => number,
    private readonly onEnd: (session: ControlSession) => void,
  ) {
    this.startedAt = now();
    this.lastActivity = this.startedAt;
  }

  private get log(): Logger {
    return (this.sessionLog ??= sessionLogger(this.hostLog, this.info.id, this.plugin.name));
  }

  get closed(): boolean {
    return this.endReason !== undefined;
  }

  /** Messages waiting for or in a task. */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /** Bytes a peer wrote on a stream leg. */
  receive(direction: MessageDirection, chunk: Buffer): void {
    if (this.closed || this.stopReading) return;
    this.lastActivity = this.now();
    this.bytes[direction] += chunk.length;
    if (!this.plugin.handles(direction) || this.released) {
      this.push({ kind: 'relay', direction, bytes: chunk });
      return;
    }
    let messages: readonly Buffer[];
    let violation: FramingError | undefined;
    try {
      messages = this.framerFor(direction).push(chunk);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      violation = err;
      messages = err.completed;
    }
    for (const bytes of messages) this.push({ kind: this.passthrough ? 'relay' : 'message', direction, bytes });
    // The whole messages before the violation still go through; the session ends after them.
    if (violation) this.framingViolation(direction, violation);
  }

  /** One datagram from a peer (datagram relay). */
  receiveDatagram(direction: MessageDirection, datagram: Buffer): void {
    if (this.closed) return;
    this.lastActivity = this.now();
    this.bytes[direction] += datagram.length;
    if (!this.plugin.handles(direction) || this.passthrough) {
      this.push({ kind: 'relay', direction, bytes: datagram });
      return;
    }
    try {
      checkDatagram(this.plugin.framing('udp'), datagram);
    } catch (err) {
      // A datagram is its own unit: drop it, keep the session.
      if (!(err instanceof FramingError)) throw err;
      this.plugin.addCounters({ [`framing-${err.violation}`]: 1 });
      this.log.warn(`datagram dropped: ${err.message}`);
      return;
    }
    this.push({ kind: 'message', direction, bytes: datagram });
  }

  /** The peer sending in `direction` finished (TCP FIN): pass it on after what it sent before. */
  endOf(direction: MessageDirection): void {
    if (!this.closed) this.push({ kind: 'end', direction });
  }

  /** A data-channel event for the plugin. */
  event(event: DataChannelEvent): void {
    if (!this.closed && this.plugin.wantsEvents && !this.passthrough) this.push({ kind: 'event', event });
  }

  /** Ends the session once everything queued has been handled and written. */
  closeWhenDrained(reason: SessionEndReason): void {
    if (this.pending === 0) this.close(reason);
    else this.closeWhenDone ??= reason;
  }

  /** The session's live data channels changed. */
  channelsChanged(liveChannels: number): void {
    if (!this.closed) this.legs.keepalive?.(liveChannels);
  }

  /** Ends the session: both legs close, its data channels end, its reservations are released. Idempotent. */
  close(reason: SessionEndReason): void {
    if (this.closed) return;
    this.endReason = reason;
    this.queue.length = 0;
    this.legs.close(reason === 'closed' || reason === 'plugin-closed' || reason === 'framing');
    this.services.end();
    this.onEnd(this);
  }

  /**
   * The plugin stopped inspecting the session: what is queued and what the
   * framers hold goes on unchanged, in order, and later bytes bypass the
   * framers and the plugin.
   */
  private release(): void {
    this.released = true;
    this.passthrough = true;
    for (const direction of ['client-to-server', 'server-to-client'] as const) {
      const rest = this.framers[direction]?.flush();
      if (rest !== undefined && rest.length > 0) this.push({ kind: 'relay', direction, bytes: rest });
    }
  }

  private framerFor(direction: MessageDirection): StreamFramer {
    let f = this.framers[direction];
    if (f === undefined) {
      f = createStreamFramer(this.plugin.framing(this.info.protocol));
      this.framers[direction] = f;
    }
    return f;
  }

  private push(item: WorkItem): void {
    if (item.kind === 'message' || item.kind === 'relay') this.addBacklog(item.direction, item.bytes.length);
    this.queue.push(item);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const item = this.queue.shift()!;
        await this.handle(item);
        if (item.kind === 'message' || item.kind === 'relay') this.addBacklog(item.direction, -item.bytes.length);
      }
    } finally {
      this.running = false;
    }
    if (this.closeWhenDone !== undefined && this.queue.length === 0) this.close(this.closeWhenDone);
  }

  private async handle(item: WorkItem): Promise<void> {
    switch (item.kind) {
      case 'relay':
        this.legs.send(TARGET[item.direction], item.bytes);
        return;
      case 'end':
        this.legs.end(TARGET[item.direction]);
        return;
      case 'event':
        // After a failure under the passthrough policy the plugin sees nothing more, events queued before it included.
        if (this.passthrough) return;
        await this.runTask({ kind: 'data-channel-event', event: item.event });
        return;
      case 'message': {
        if (this.passthrough) {
          this.legs.send(TARGET[item.direction], item.bytes);
          return;
        }
        const outcome = await this.runTask({ kind: 'message', direction: item.direction, message: item.bytes });
        if (outcome === undefined) {
          // The task failed under the passthrough policy: the message goes on as it came.
          if (this.passthrough && !this.closed) this.legs.send(TARGET[item.direction], item.bytes);
          return;
        }
        // Closed while the task ran (plugin disabled, shutdown): the legs are gone, nothing more is written
        // (a closed datagram socket throws on send, which would escape drain() as an unhandled rejection).
        if (this.closed) return;
        if (outcome.forward !== null && outcome.forward.length > 0) {
          // Counted by the host from what actually goes out, never taken from the plugin's own counters.
          if (!item.bytes.equals(outcome.forward)) this.plugin.countRewritten?.(outcome.forward.length);
          this.legs.send(TARGET[item.direction], outcome.forward);
        }
        if (outcome.respond !== null && outcome.respond.length > 0) this.legs.send(SOURCE[item.direction], outcome.respond);
        if (outcome.release) this.release();
        if (outcome.close) this.close('plugin-closed');
      }
    }
  }

  /** Runs a task; on failure applies the policy and returns undefined. */
  private async runTask(task: SessionTask): Promise<TaskOutcome | undefined> {
    let outcome: TaskOutcome;
    try {
      outcome = await this.plugin.run({ session: this.info, state: this.state, task }, this.services);
    } catch (err) {
      if (this.closed) return undefined;
      const policy = this.plugin.onFailure;
      this.log.error(`plugin task failed: ${(err as Error).message}; session ${policy === 'close' ? 'closed' : 'passes bytes through unchanged from now on'}`);
      if (policy === 'close') this.close('plugin-failed');
      else this.passthrough = true;
      return undefined;
    }
    this.state = outcome.state;
    if (outcome.idleTimeoutMs !== undefined) this.idleTimeoutMs = outcome.idleTimeoutMs ?? undefined;
    if (hasKeys(outcome.counters)) this.plugin.addCounters(outcome.counters);
    for (const l of outcome.logs) this.log.log(l.level, l.message, { ...l.fields, session: this.info.id, plugin: this.plugin.name });
    return outcome;
  }

  private framingViolation(direction: MessageDirection, err: FramingError): void {
    this.plugin.addCounters({ [`framing-${err.violation}`]: 1 });
    this.log.warn(`session closed: the ${SOURCE[direction]} broke the framing: ${err.message}`);
    this.closeWhenDrained('framing');
    // Nothing more is read from either peer.
    this.stopReading = true;
  }

  private addBacklog(direction: MessageDirection, delta: number): void {
    const b = (this.backlog[direction] += delta);
    if (!this.paused[direction] && b > HIGH_WATER) {
      this.paused[direction] = true;
      this.legs.throttle(direction, true);
    } else if (this.paused[direction] && b < LOW_WATER) {
      this.paused[direction] = false;
      if (!this.closed) this.legs.throttle(direction, false);
    }
  }
}

/** True when `o` has an own enumerable key (without building the list of keys, once per task). */
function hasKeys(o: object): boolean {
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) return true;
  return false;
}
