/**
 * Drives a plugin through the SDK test kit with a random conversation and
 * records everything observable, so property tests can compare runs and
 * check what no plugin may ever do.
 */

import type { PluginDefinition, TransportProtocol } from '@algd/sdk';
import { PluginTestSession, type PluginTestSessionOptions } from '@algd/sdk/testing';
import { cutAt } from './streams';

/** One step of a conversation: a peer sends bytes, cut into chunks at `cuts` (TCP only). */
export interface Step {
  readonly from: 'client' | 'server';
  readonly bytes: Uint8Array;
  readonly cuts: readonly number[];
}

/** What a conversation left behind. */
export interface Observed {
  readonly toServer: string;
  readonly toClient: string;
  readonly counters: Record<string, number>;
  readonly channels: readonly { readonly protocol: string; readonly direction: string; readonly private: string; readonly public: string; readonly remote: string; readonly openBeforeEnd: boolean; readonly openAfterEnd: boolean }[];
  readonly closed: boolean;
  /** Chunks delivered before the session closed. */
  readonly delivered: number;
}

const show = (e: { address: string; port?: number } | undefined): string => (e === undefined ? '-' : `${e.address}:${e.port ?? '*'}`);

/**
 * Runs the steps (whole, or chunked at their cut points when `split`), stops
 * delivering once the session is closed, then ends the session. A handler
 * that throws rejects here: that is a plugin crash, and fails the property.
 */
export async function converse<O, S>(plugin: PluginDefinition<O, S>, setup: PluginTestSessionOptions, steps: readonly Step[], split: boolean): Promise<Observed> {
  const t = new PluginTestSession(plugin, setup);
  const protocol: TransportProtocol = t.session.protocol;
  let delivered = 0;
  outer: for (const step of steps) {
    const chunks = split && protocol === 'tcp' ? cutAt(step.bytes, step.cuts) : [step.bytes];
    for (const chunk of chunks) {
      if (t.closed) break outer;
      if (chunk.length === 0 && protocol === 'udp') continue;
      await (step.from === 'client' ? t.clientSends(chunk) : t.serverSends(chunk));
      delivered++;
    }
  }
  const openBeforeEnd = t.dataChannels.map((c) => c.open);
  const closed = t.closed;
  if (!t.closed) await t.end();
  return {
    toServer: t.server.received.toString('latin1'),
    toClient: t.client.received.toString('latin1'),
    counters: { ...t.counters },
    channels: t.dataChannels.map((c, i) => ({
      protocol: c.protocol, direction: c.request.direction, private: show(c.private), public: show(c.public), remote: show(c.request.remote),
      openBeforeEnd: openBeforeEnd[i]!, openAfterEnd: c.open,
    })),
    closed,
    delivered,
  };
}

/** Checks what holds for every plugin: counters are positive integers, every channel ended with the session, and a private endpoint is a session peer. */
export function expectPluginInvariants(o: Observed, peers: readonly string[]): void {
  for (const [name, n] of Object.entries(o.counters)) {
    expect(name).toMatch(/^[a-z0-9][a-z0-9-]*$/);
    expect(Number.isSafeInteger(n) && n > 0).toBe(true);
  }
  for (const c of o.channels) {
    expect(c.openAfterEnd).toBe(false);
    expect(peers).toContain(c.private.slice(0, c.private.lastIndexOf(':')));
  }
}
