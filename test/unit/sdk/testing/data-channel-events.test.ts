import { definePlugin, endpoint, port, type DataChannelEvent } from '@algd/sdk';
import { PluginTestSession } from '@algd/sdk/testing';

/** Opens one channel per client message (`notify` when the message says so) and records the events it gets. */
const watcher = definePlugin<undefined, { events: DataChannelEvent[] }>({
  name: 'watcher',
  version: '1.0.0',
  apiVersion: '^0.1.0',
  controlChannels: [{ protocol: 'udp', ports: [port(7000)] }],
  initialState: () => ({ events: [] }),
  async onClientMessage(msg, ctx) {
    await ctx.createDataChannel({
      protocol: 'udp',
      private: ctx.session.client,
      remote: { address: ctx.session.server.address },
      direction: 'inbound',
      persistent: msg.includes('persistent'),
      // "expiries": API 0.3.0's filter, only ended(expired).
      notify: msg.includes('expiries') ? { ended: ['expired'] } : msg.includes('notify'),
    });
    return { forward: null };
  },
  onDataChannelEvent(event, ctx) {
    ctx.state.events.push(event);
    ctx.count(`event-${event.kind}`);
  },
});

const SERVER_PEER = endpoint('203.0.113.2', 50000);

describe('data channel events in the test kit', () => {
  it('delivers used then ended(used) for a one-shot channel with notify, and closes it', async () => {
    const t = new PluginTestSession(watcher);
    await t.clientSends('notify');
    await t.dataChannelUsed(1, SERVER_PEER);
    expect(t.state?.events).toEqual([
      { kind: 'used', channel: 1, peer: SERVER_PEER },
      { kind: 'ended', channel: 1, reason: 'used' },
    ]);
    expect(t.counters).toEqual({ 'event-used': 1, 'event-ended': 1 });
    expect(t.dataChannels[0]).toMatchObject({ open: false, endReason: 'used' });
    await expect(t.dataChannelUsed(1, SERVER_PEER)).rejects.toThrow('data channel 1 is not open (used)');
  });

  it('keeps a persistent channel open when used and delivers ended when it expires', async () => {
    const t = new PluginTestSession(watcher);
    await t.clientSends('notify persistent');
    await t.dataChannelUsed(1, SERVER_PEER);
    await t.dataChannelUsed(1, endpoint('203.0.113.2', 50001));
    expect(t.dataChannels[0]?.open).toBe(true);
    await t.dataChannelEnded(1, 'expired');
    expect(t.state?.events.map((e) => e.kind)).toEqual(['used', 'used', 'ended']);
    expect(t.dataChannels[0]).toMatchObject({ open: false, endReason: 'expired' });
  });

  it('sends no events for a channel without notify, but still records its end', async () => {
    const t = new PluginTestSession(watcher);
    await t.clientSends('quiet');
    await t.dataChannelUsed(1, SERVER_PEER);
    expect(t.state?.events).toEqual([]);
    expect(t.dataChannels[0]).toMatchObject({ open: false, endReason: 'used' });
  });

  it('delivers only what a notify filter names, as the host does: ended(expired), not used', async () => {
    const t = new PluginTestSession(watcher);
    await t.clientSends('expiries persistent');
    await t.dataChannelUsed(1, SERVER_PEER);
    expect(t.state?.events).toEqual([]);
    await t.dataChannelEnded(1, 'expired');
    expect(t.state?.events).toEqual([{ kind: 'ended', channel: 1, reason: 'expired' }]);
  });

  it('refuses a peer that is not the channel remote and an unknown channel', async () => {
    const t = new PluginTestSession(watcher);
    await t.clientSends('notify');
    await expect(t.dataChannelUsed(1, endpoint('192.0.2.9', 1))).rejects.toThrow('data channel 1 only takes 203.0.113.2, not 192.0.2.9:1');
    await expect(t.dataChannelEnded(2, 'expired')).rejects.toThrow('the session has no data channel 2');
    expect(t.state?.events).toEqual([]);
  });
});
