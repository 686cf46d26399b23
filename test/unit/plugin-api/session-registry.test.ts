/**
 * The registry's idle sweep: the configured idle timeout of a session's
 * protocol, or the shorter one its plugin set (`setIdleTimeout`, carried
 * in a task's outcome), never while a data channel lives.
 */

import { endpoint, ipAddress, type Framing, type MessageDirection, type TransportProtocol } from '@algd/sdk';
import type { HostServices, TaskEnvelope, TaskOutcome } from '@algd/sdk/runtime';
import winston from 'winston';
import { NatEngine } from '../../../host/nat-engine/nat-engine';
import { PortPool } from '../../../host/nat-engine/ports';
import { DataChannelHub } from '../../../host/plugin-api/resources/data-channel-hub';
import { PublicPortLedger } from '../../../host/plugin-api/resources/public-port-ledger';
import type { ControlSession, SessionLegs } from '../../../host/plugin-api/session/control-session';
import { SessionRegistry } from '../../../host/plugin-api/session/session-registry';
import type { SessionPlugin } from '../../../host/plugin-api/session/session-plugin';
import { seededRandom } from '../nat-engine/ports/seeded-random';

const T0 = 1_000_000;
const UDP_IDLE_MS = 120_000;
const TCP_IDLE_MS = 7_200_000;

/** A plugin whose every task answers with `next` (the idle timeout it sets, if any) and forwards the message. */
class ScriptedPlugin implements SessionPlugin {
  readonly name = 'sip';
  readonly onFailure = 'close' as const;
  readonly maxDataChannels = 4;
  readonly wantsEvents = false;
  /** What the next task sets: a number, null (back to configured), undefined (unchanged). */
  next: number | null | undefined;
  /** A data channel the next task opens through the session's services. */
  openChannel = false;
  handles(_direction: MessageDirection): boolean {
    return true;
  }
  framing(_protocol: TransportProtocol): Framing | undefined {
    return { kind: 'raw' };
  }
  async run(envelope: TaskEnvelope, services: HostServices): Promise<TaskOutcome> {
    if (this.openChannel) {
      this.openChannel = false;
      await services.createDataChannel({ protocol: 'udp', private: endpoint('198.51.100.2', 10000), remote: { address: ipAddress('203.0.113.2') }, direction: 'both', persistent: true });
    }
    const message = envelope.task.kind === 'message' ? envelope.task.message : null;
    return { state: envelope.state, forward: message, respond: null, close: false, release: false, counters: {}, logs: [], ...(this.next === undefined ? {} : { idleTimeoutMs: this.next }) };
  }
  addCounters(): void {}
}

class NullLegs implements SessionLegs {
  closed = 0;
  send(): void {}
  end(): void {}
  close(): void {
    this.closed++;
  }
  throttle(): void {}
}

/** Lets the session's queued task run to its end. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

function rig() {
  const clock = { now: T0 };
  const hub = new DataChannelHub();
  const engine = new NatEngine({ events: hub, now: () => clock.now });
  const ledger = new PublicPortLedger(new PortPool({ from: 61000, to: 61009 }, { random: seededRandom(1) }));
  const registry = new SessionRegistry({
    engine,
    ledger,
    hub,
    sourceLookup: async () => undefined,
    adapters: () => [],
    log: winston.createLogger({ silent: true }),
    maxSessions: 10,
    idleTimeoutMs: { tcp: TCP_IDLE_MS, udp: UDP_IDLE_MS },
    now: () => clock.now,
  });
  const plugin = new ScriptedPlugin();
  const factory = registry.factoryFor(plugin);
  const open = (protocol: TransportProtocol = 'udp'): { session: ControlSession; legs: NullLegs } => {
    const legs = new NullLegs();
    const session = factory.create({ protocol, client: endpoint('198.51.100.2', 5060), server: endpoint('203.0.113.2', 5060), boundary: endpoint('203.0.113.1', 61000) }, legs);
    return { session, legs };
  };
  /** A message from the client at `at`, its task run. */
  const message = async (session: ControlSession, at: number): Promise<void> => {
    clock.now = at;
    if (session.info.protocol === 'udp') session.receiveDatagram('client-to-server', Buffer.from('BYE'));
    else session.receive('client-to-server', Buffer.from('BYE'));
    await settle();
  };
  /** Sweeps at `at`; true when the session is still open afterwards. */
  const openAfterSweep = (session: ControlSession, at: number): boolean => {
    clock.now = at;
    registry.sweep();
    return !session.closed;
  };
  return { clock, engine, registry, plugin, open, message, openAfterSweep };
}

describe('SessionRegistry.sweep', () => {
  it('closes a UDP session idle for the configured 120 s, not a millisecond earlier', async () => {
    const r = rig();
    const { session, legs } = r.open();
    await r.message(session, T0 + 10);
    expect(r.openAfterSweep(session, T0 + 10 + UDP_IDLE_MS - 1)).toBe(true);
    expect(r.openAfterSweep(session, T0 + 10 + UDP_IDLE_MS)).toBe(false);
    expect(session.endReason).toBe('idle');
    expect(legs.closed).toBe(1);
    expect(r.registry.ended).toEqual({ idle: 1 });
  });

  it("closes it after the plugin's shorter timeout, counted from the last message", async () => {
    const r = rig();
    const { session } = r.open();
    r.plugin.next = 5_000;
    await r.message(session, T0 + 10);
    expect(session.idleTimeoutMs).toBe(5_000);
    // A later message that leaves the timeout alone (undefined) keeps it, and restarts the count.
    r.plugin.next = undefined;
    await r.message(session, T0 + 3_000);
    expect(session.idleTimeoutMs).toBe(5_000);
    expect(r.openAfterSweep(session, T0 + 7_999)).toBe(true);
    expect(r.openAfterSweep(session, T0 + 8_000)).toBe(false);
    expect(r.registry.ended).toEqual({ idle: 1 });
  });

  it('goes back to the configured timeout when the plugin sets none (null)', async () => {
    const r = rig();
    const { session } = r.open();
    r.plugin.next = 5_000;
    await r.message(session, T0);
    r.plugin.next = null;
    await r.message(session, T0 + 1_000);
    expect(session.idleTimeoutMs).toBeUndefined();
    expect(r.openAfterSweep(session, T0 + 1_000 + 5_000)).toBe(true);
    expect(r.openAfterSweep(session, T0 + 1_000 + UDP_IDLE_MS)).toBe(false);
  });

  it('never keeps a session longer than configured, whatever the plugin set', async () => {
    const r = rig();
    const { session } = r.open();
    r.plugin.next = 86_400_000;
    await r.message(session, T0);
    expect(r.openAfterSweep(session, T0 + UDP_IDLE_MS - 1)).toBe(true);
    expect(r.openAfterSweep(session, T0 + UDP_IDLE_MS)).toBe(false);
  });

  it('applies to TCP sessions too, under their own configured timeout', async () => {
    const r = rig();
    const { session } = r.open('tcp');
    r.plugin.next = 60_000;
    await r.message(session, T0);
    expect(r.openAfterSweep(session, T0 + 59_999)).toBe(true);
    expect(r.openAfterSweep(session, T0 + 60_000)).toBe(false);
  });

  it('never closes a session for being idle while it has a live data channel', async () => {
    const r = rig();
    const { session } = r.open();
    r.plugin.next = 5_000;
    r.plugin.openChannel = true;
    await r.message(session, T0);
    expect(session.services.liveChannels).toBe(1);
    expect(r.openAfterSweep(session, T0 + UDP_IDLE_MS * 10)).toBe(true);
    r.engine.removeMappingsOf(session.info.id);
    expect(session.services.liveChannels).toBe(0);
    expect(r.openAfterSweep(session, T0 + UDP_IDLE_MS * 10)).toBe(false);
  });

  it('leaves other sessions to their own timeouts', async () => {
    const r = rig();
    const quiet = r.open().session;
    const busy = r.open().session;
    r.plugin.next = 5_000;
    await r.message(quiet, T0);
    r.plugin.next = undefined;
    await r.message(busy, T0);
    r.clock.now = T0 + 5_000;
    r.registry.sweep();
    expect([quiet.closed, busy.closed]).toEqual([true, false]);
    expect(r.registry.size).toBe(1);
  });
});
