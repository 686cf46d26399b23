import { formatEndpoint as fmt, type AdapterInfo, type SessionInfo } from '@algd/sdk';
import type { Logger } from '../../logging/logger';
import type { NatEngine } from '../../nat-engine/nat-engine';
import type { DataChannelHub } from '../resources/data-channel-hub';
import type { PublicPortLedger } from '../resources/public-port-ledger';
import type { SourceAddressLookup } from '../resources/route-lookup';
import { SessionServices } from '../resources/session-services';
import { ControlSession, type SessionLegs } from './control-session';
import type { NewSession, SessionFactory } from './session-factory';
import type { SessionPlugin } from './session-plugin';

export interface SessionRegistryOptions {
  readonly engine: NatEngine;
  readonly ledger: PublicPortLedger;
  readonly hub: DataChannelHub;
  readonly sourceLookup: SourceAddressLookup;
  /** The driver's ListenerPlacement.inboundChannelsFromGateway. */
  readonly inboundChannelsFromGateway?: boolean;
  readonly adapters: () => readonly AdapterInfo[];
  readonly log: Logger;
  readonly maxSessions: number;
  readonly idleTimeoutMs: { readonly tcp: number; readonly udp: number };
  readonly now?: () => number;
}

/** A session as `algd status` shows it. */
export interface SessionStatus {
  readonly id: string;
  readonly plugin: string;
  readonly protocol: 'tcp' | 'udp';
  readonly client: string;
  readonly server: string;
  readonly boundary: string;
  readonly ageSeconds: number;
  readonly idleSeconds: number;
  readonly bytes: { readonly clientToServer: number; readonly serverToClient: number };
  readonly passthrough: boolean;
  readonly dataChannels: readonly string[];
}

/**
 * Every live control session of the host. Hands out session ids, builds
 * each session's services, enforces the session cap, and closes idle
 * sessions, but never one that still has a live data channel (a long
 * transfer keeps its control session).
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, ControlSession>();
  private readonly now: () => number;
  private nextId = 1;
  /** Sessions ended, by reason. */
  readonly ended: Record<string, number> = {};

  constructor(private readonly opts: SessionRegistryOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The factory a plugin's listeners and relays create sessions with. */
  factoryFor(plugin: SessionPlugin): SessionFactory {
    return {
      canAccept: () => this.sessions.size < this.opts.maxSessions,
      create: (spec, legs) => this.create(plugin, spec, legs),
    };
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions of one plugin (all when omitted). */
  list(plugin?: string): ControlSession[] {
    const all = [...this.sessions.values()];
    return plugin === undefined ? all : all.filter((s) => s.info.plugin === plugin);
  }

  count(plugin: string): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.info.plugin === plugin) n++;
    return n;
  }

  /**
   * Closes idle sessions without live data channels. Called about once a
   * second. A session is idle after the configured timeout of its
   * protocol, or after the shorter one its plugin set (`setIdleTimeout`:
   * a plugin that knows the session holds nothing more, such as a SIP
   * phone socket whose last call ended, frees its public port early; it
   * can never keep a session longer than configured).
   */
  sweep(now = this.now()): void {
    for (const s of [...this.sessions.values()]) {
      const configured = s.info.protocol === 'tcp' ? this.opts.idleTimeoutMs.tcp : this.opts.idleTimeoutMs.udp;
      const limit = s.idleTimeoutMs === undefined ? configured : Math.min(configured, s.idleTimeoutMs);
      if (now - s.lastActivity >= limit && s.services.liveChannels === 0 && s.pending === 0) s.close('idle');
    }
  }

  /** Closes every session (of one plugin when given). */
  closeAll(reason: 'plugin-disabled' | 'shutdown', plugin?: string): void {
    for (const s of this.list(plugin)) s.close(reason);
  }

  status(now = this.now()): SessionStatus[] {
    return this.list().map((s) => ({
      id: s.info.id,
      plugin: s.info.plugin,
      protocol: s.info.protocol,
      client: fmt(s.info.client),
      server: fmt(s.info.server),
      boundary: fmt(s.info.boundary),
      ageSeconds: Math.round((now - s.startedAt) / 1000),
      idleSeconds: Math.round((now - s.lastActivity) / 1000),
      bytes: { clientToServer: s.bytes['client-to-server'], serverToClient: s.bytes['server-to-client'] },
      passthrough: s.passthrough,
      dataChannels: s.services.describeChannels(),
    }));
  }

  private create(plugin: SessionPlugin, spec: NewSession, legs: SessionLegs): ControlSession {
    const info: SessionInfo = {
      id: `${plugin.name}-${this.nextId++}`,
      plugin: plugin.name,
      protocol: spec.protocol,
      client: spec.client,
      server: spec.server,
      boundary: spec.boundary,
      clientSide: spec.clientSide ?? 'private',
      adapters: this.opts.adapters(),
    };
    // The services and the session refer to each other; the services' callbacks go through this holder.
    let session: ControlSession | undefined;
    const services = new SessionServices(info, {
      engine: this.opts.engine,
      ledger: this.opts.ledger,
      hub: this.opts.hub,
      sourceLookup: this.opts.sourceLookup,
      inboundChannelsFromGateway: this.opts.inboundChannelsFromGateway,
      maxDataChannels: plugin.maxDataChannels,
      publicAddress: spec.publicAddress,
      onEvent: (event) => session?.event(event),
      onChannelsChanged: (live) => session?.channelsChanged(live),
    });
    session = new ControlSession(info, plugin, services, legs, this.opts.log, this.now, (s) => this.sessionEnded(s));
    this.sessions.set(info.id, session);
    // Formatting the endpoints costs more than the rest of the line: only when debug lines are written.
    if (this.opts.log.isDebugEnabled()) this.opts.log.debug('session started', { session: info.id, plugin: plugin.name, client: fmt(info.client), server: fmt(info.server) });
    return session;
  }

  private sessionEnded(s: ControlSession): void {
    this.sessions.delete(s.info.id);
    const reason = s.endReason ?? 'closed';
    this.ended[reason] = (this.ended[reason] ?? 0) + 1;
    if (this.opts.log.isDebugEnabled()) this.opts.log.debug('session ended', { session: s.info.id, plugin: s.info.plugin, reason });
  }
}
