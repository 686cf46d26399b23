import type { DataChannelEndReason, DataChannelEvent } from '../data-channel';
import { checkDatagram, createStreamFramer, type StreamFramer } from '../framing/create-framer';
import { FramingError, type Framing } from '../framing/framing';
import type { Endpoint } from '../net';
import type { PluginDefinition } from '../plugin';
import { runTask } from '../runtime/run-task';
import { channelNotify } from '../runtime/channel-notify';
import type { SessionTask, TaskEnvelope, TaskLogRecord, TaskOutcome } from '../runtime/session-task';
import type { MessageDirection, SessionInfo } from '../session';
import { InMemoryHostServices } from './in-memory-host-services';
import { PeerRecord } from './peer-record';
import type { RecordedDataChannel } from './recorded-data-channel';
import type { RecordedReservation } from './recorded-reservation';
import { resolveTestSession, type PluginTestSessionOptions } from './test-session-options';

/**
 * Runs a plugin against a scripted conversation, in process: no root, no
 * network, no workers. It drives the plugin as the host does, with the
 * same machinery:
 *
 * - bytes are framed with the control channel's framer (`createStreamFramer`
 *   over TCP, so a partial message waits for the rest; over UDP each send is
 *   one datagram, checked with `checkDatagram`);
 * - every message and data-channel event is one task run by `runTask`, one
 *   at a time in order; the task (session, state, message) and its outcome
 *   pass through `structuredClone`, so state that cannot cross a thread
 *   fails here as in the host;
 * - service calls go to {@link InMemoryHostServices}, which enforces the
 *   host's rules (see there);
 * - a framing violation ends the session and counts `framing-<violation>`;
 *   a verdict with `close` ends it too;
 * - what the plugin set with `setIdleTimeout` is kept as the host keeps it
 *   ({@link idleTimeoutMs}); there is no clock, so nothing idles out;
 * - a handler that throws rejects the send with that error; the state
 *   stays as before the message, nothing is delivered.
 *
 * Strings sent are latin1, as the runtime encodes a handler's strings.
 *
 * ```ts
 * const t = new PluginTestSession(plugin, { options: { allowWrite: false } });
 * await t.clientSends(request);
 * expect(t.server.messages).toEqual([request]);
 * expect(t.dataChannels[0]?.public).toEqual(t.session.boundary);
 * ```
 */
export class PluginTestSession<Options = unknown, State = unknown> {
  /** The session as the plugin sees it (`ctx.session`). */
  readonly session: SessionInfo;
  /** The plugin's options after its parser (`ctx.options`). */
  readonly options: Options;
  /** What the client received: forwarded server messages and the gateway's replies to the client. */
  readonly client = new PeerRecord();
  /** What the server received: forwarded client messages and the gateway's replies to the server. */
  readonly server = new PeerRecord();
  /** The plugin's counters, plus `framing-<violation>` for framing violations. */
  readonly counters: Record<string, number> = {};
  /** The plugin's log lines, in order. */
  readonly logs: TaskLogRecord[] = [];
  /** The session's host services, for tests that look at them directly. */
  readonly services: InMemoryHostServices;

  private readonly framing: Framing | undefined;
  private readonly framers: Record<MessageDirection, StreamFramer> | undefined;
  private currentState: unknown = undefined;
  private idleTimeout: number | undefined;
  private over = false;
  private isReleased = false;
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Sets up a session (see {@link PluginTestSessionOptions} for the
   * defaults). Throws what the plugin's options parser throws for bad
   * options, and when the plugin has no control channel of the protocol.
   */
  constructor(private readonly plugin: PluginDefinition<Options, State>, setup: PluginTestSessionOptions = {}) {
    const resolved = resolveTestSession(plugin, setup);
    this.session = resolved.session;
    this.framing = resolved.framing;
    this.options = structuredClone(plugin.options === undefined ? (setup.options as Options) : plugin.options.parse(setup.options));
    this.services = new InMemoryHostServices(this.session, resolved.services);
    this.framers = this.session.protocol === 'tcp'
      ? { 'client-to-server': createStreamFramer(this.framing), 'server-to-client': createStreamFramer(this.framing) }
      : undefined;
  }

  /** The session's state after the last task; undefined before the first. */
  get state(): State | undefined {
    return this.currentState as State | undefined;
  }

  /**
   * The idle timeout the plugin set for the session with `setIdleTimeout`
   * (API 0.4.0), in ms; undefined while it never set one or set it back to
   * the host's configured timeout.
   */
  get idleTimeoutMs(): number | undefined {
    return this.idleTimeout;
  }

  /** True once the session is over: a verdict closed it, its framing broke, or {@link end} ran. */
  get closed(): boolean {
    return this.over;
  }

  /** Every data channel the plugin requested, in order, with its public endpoint and whether it is open. */
  get dataChannels(): readonly RecordedDataChannel[] {
    return this.services.dataChannels;
  }

  /** Every port reservation the plugin made, in order. */
  get reservations(): readonly RecordedReservation[] {
    return this.services.reservations;
  }

  /**
   * The client sends bytes (a string is latin1): framed as the host frames
   * them, each whole message handed to `onClientMessage`. Resolves once every
   * message the bytes complete has been handled. Rejects when the session is
   * over or a handler throws.
   */
  clientSends(data: Uint8Array | string): Promise<void> {
    return this.serial(() => this.receive('client-to-server', data));
  }

  /** The server sends bytes: as {@link clientSends}, to `onServerMessage`. */
  serverSends(data: Uint8Array | string): Promise<void> {
    return this.serial(() => this.receive('server-to-client', data));
  }

  /**
   * A connection was made through data channel `id`, from (inbound) or to
   * (outbound) `peer`. A one-shot channel ends with it. A channel requested
   * with `notify` gets a `used` event and, when it was one-shot, an `ended`
   * event with reason `used` (those its `notify` asks for, as the host does). Rejects when the channel is not open or
   * `peer` is not the channel's `remote`.
   */
  dataChannelUsed(id: number, peer: Endpoint): Promise<void> {
    return this.serial(async () => {
      const channel = this.services.markUsed(id, peer);
      const notify = channelNotify(channel.request.notify);
      if (notify.used) await this.runEvent({ kind: 'used', channel: id, peer });
      if (!channel.open && notify.ended.has('used')) await this.runEvent({ kind: 'ended', channel: id, reason: 'used' });
    });
  }

  /** Data channel `id` stopped taking connections; a channel requested with `notify` gets an `ended` event (if its `notify` asks for the reason). Rejects when it is not open. */
  dataChannelEnded(id: number, reason: DataChannelEndReason): Promise<void> {
    return this.serial(async () => {
      const channel = this.services.markEnded(id, reason);
      if (channelNotify(channel.request.notify).ended.has(reason)) await this.runEvent({ kind: 'ended', channel: id, reason });
    });
  }

  /** Ends the session as the host does when a leg closes: open channels end, reservations are released. */
  end(): Promise<void> {
    return this.serial(async () => this.finish());
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async receive(direction: MessageDirection, data: Uint8Array | string): Promise<void> {
    if (this.over) throw new Error(`session ${this.session.id} is closed; nothing more is delivered`);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const [onward, back] = direction === 'client-to-server' ? [this.server, this.client] : [this.client, this.server];
    if (this.isReleased) {
      onward.deliver(bytes);
      return;
    }
    let messages: readonly Uint8Array[];
    let violation: FramingError | undefined;
    try {
      if (this.framers !== undefined) {
        messages = this.framers[direction].push(bytes);
      } else {
        checkDatagram(this.framing, bytes);
        messages = [bytes];
      }
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      // As in the host: the whole messages before the violation still go through.
      violation = err;
      messages = err.completed;
    }
    for (const message of messages) {
      if (this.over) break; // a verdict closed the session: the rest of the chunk is not read
      if (this.isReleased) {
        onward.deliver(message);
        continue;
      }
      const outcome = await this.run({ kind: 'message', direction, message: new Uint8Array(message) });
      if (outcome.forward !== null) onward.deliver(outcome.forward);
      if (outcome.respond !== null) back.deliver(outcome.respond);
      if (outcome.release) this.isReleased = true;
      if (outcome.close) this.finish();
    }
    // After a release, what the framers hold goes on after the chunk's remaining messages.
    if (this.isReleased && this.framers !== undefined) {
      for (const d of ['client-to-server', 'server-to-client'] as const) {
        const rest = this.framers[d].flush();
        if (rest.length > 0) (d === 'client-to-server' ? this.server : this.client).deliver(rest);
      }
    }
    if (violation !== undefined) {
      this.count(`framing-${violation.violation}`, 1);
      this.finish();
    }
  }

  /** True once a verdict released the session: bytes then pass unchanged, unframed, without the plugin. */
  get released(): boolean {
    return this.isReleased;
  }

  private async runEvent(event: DataChannelEvent): Promise<void> {
    await this.run({ kind: 'data-channel-event', event });
  }

  /** One task, through the structured cloning that a worker's message port does. */
  private async run(task: SessionTask): Promise<TaskOutcome> {
    const envelope: TaskEnvelope = structuredClone({ session: this.session, state: this.currentState, task });
    const outcome: TaskOutcome = structuredClone(await runTask(this.plugin, structuredClone(this.options), envelope, this.services));
    this.currentState = outcome.state;
    if (outcome.idleTimeoutMs !== undefined) this.idleTimeout = outcome.idleTimeoutMs ?? undefined;
    for (const [name, by] of Object.entries(outcome.counters)) this.count(name, by);
    this.logs.push(...outcome.logs);
    return outcome;
  }

  private count(name: string, by: number): void {
    this.counters[name] = (this.counters[name] ?? 0) + by;
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.services.endSession();
  }
}
