import { ipAddress, ipFamily, port as toPort, type AdapterInfo, type Endpoint, type IpAddress, type Port, type TransportProtocol } from '@algd/sdk';
import type { AlgdConfig, PluginSettings } from '../config/config-schema';
import { pluginSettingsSchema } from '../config/config-schema';
import type { Logger } from '../logging/logger';
import type { NatEngine } from '../nat-engine/nat-engine';
import { createOsPortProbe, PortPool } from '../nat-engine/ports';
import { discoverPlugins, type RefusedPlugin } from './discovery/discover-plugins';
import type { ListenerPlacement } from '../nat-engine/drivers/packet-driver';
import { ListenerPorts } from './listener/listener-ports';
import { UpstreamPorts } from './listener/upstream-ports';
import { listenAddressesFor, PluginInstance, type PluginSource, type PluginStatus } from './plugin-instance';
import type { DataChannelHub } from './resources/data-channel-hub';
import { PublicPortLedger } from './resources/public-port-ledger';
import { linuxRouteSource, type SourceAddressLookup } from './resources/route-lookup';
import type { UpstreamRoute } from './session/session-factory';
import { SessionRegistry, type SessionStatus } from './session/session-registry';

/** The built-in plugins, by name, and the package each is loaded from. */
export const BUILTIN_PLUGIN_PACKAGES: Readonly<Record<string, string>> = {
  ftp: '@algd/plugin-ftp',
  sip: '@algd/plugin-sip',
  rtsp: '@algd/plugin-rtsp',
};

export interface PluginHostOptions {
  readonly config: AlgdConfig;
  readonly engine: NatEngine;
  readonly hub: DataChannelHub;
  readonly adapters: () => readonly AdapterInfo[];
  readonly log: Logger;
  readonly sourceLookup?: SourceAddressLookup;
  /** What the packet driver needs from the listeners; default loopback listeners, upstream ports from the OS. */
  readonly placement?: ListenerPlacement;
  readonly now?: () => number;
}

/** What `algd status` shows of the plugin host. */
export interface PluginHostStatus {
  readonly plugins: PluginStatus[];
  readonly refused: RefusedPlugin[];
  readonly sessions: SessionStatus[];
  readonly sessionsEnded: Readonly<Record<string, number>>;
  readonly publicPortsHeld: number;
}

/**
 * The host side of the plugin contract: finds the plugins (built-ins and
 * the packages in `pluginsDir`), loads each into its own worker pool,
 * captures their control channels, and owns the sessions and the public
 * ports of their data channels. A plugin that cannot be loaded is reported
 * and left out; the host keeps running.
 */
export class PluginHost {
  readonly registry: SessionRegistry;
  private readonly instances = new Map<string, PluginInstance>();
  private readonly refused: RefusedPlugin[] = [];
  private readonly ledger: PublicPortLedger;
  private readonly listenerPorts: ListenerPorts;
  private readonly placement: ListenerPlacement;
  private readonly upstreamPorts: UpstreamPorts | undefined;
  /** Per-plugin settings: the configuration's at start, a reload's afterwards. */
  private readonly settings: Map<string, PluginSettings>;

  constructor(private readonly opts: PluginHostOptions) {
    const { config } = opts;
    this.settings = new Map(Object.entries(config.plugins));
    this.ledger = new PublicPortLedger(new PortPool(config.mappingPorts, { probe: createOsPortProbe() }));
    this.listenerPorts = new ListenerPorts(config.listenerPorts);
    this.placement = opts.placement ?? { ipv4: 'loopback', upstreamFromListenerPorts: false };
    this.upstreamPorts = this.placement.upstreamFromListenerPorts ? new UpstreamPorts(config.listenerPorts, this.listenerPorts) : undefined;
    this.registry = new SessionRegistry({
      engine: opts.engine,
      ledger: this.ledger,
      hub: opts.hub,
      sourceLookup: opts.sourceLookup ?? linuxRouteSource,
      inboundChannelsFromGateway: this.placement.inboundChannelsFromGateway === true,
      adapters: opts.adapters,
      log: opts.log,
      maxSessions: config.sessions.maxSessions,
      idleTimeoutMs: { tcp: config.sessions.tcpIdleTimeoutMs, udp: config.sessions.udpIdleTimeoutMs },
      now: opts.now,
    });
  }

  /** Finds and loads every plugin; those enabled in configuration start capturing. */
  async start(): Promise<void> {
    for (const [name, source] of this.sources()) {
      const instance = new PluginInstance(name, source, this.settingsFor(name), {
        engine: this.opts.engine,
        registry: this.registry,
        ledger: this.ledger,
        listenerPorts: this.listenerPorts,
        listenAddresses: () => listenAddressesFor(this.privateAddresses(), this.placement),
        upstreamPorts: this.upstreamPorts,
        lookup: (protocol, peer, listener) => this.opts.engine.originalDestination(protocol, peer, listener),
        route: (protocol, original) => this.route(protocol, original),
        isPublished: (protocol, port) => this.opts.config.publish.some((p) => p.protocol === protocol && p.port === port),
        keepaliveMs: this.opts.config.sessions.keepaliveMs,
        log: this.opts.log,
        now: this.opts.now,
      });
      this.instances.set(name, instance);
    }
    await Promise.all([...this.instances.values()].filter((p) => this.settingsFor(p.name).enabled).map((p) => p.load()));
    for (const p of this.instances.values()) {
      if (p.state === 'failed' || !this.settingsFor(p.name).enabled) continue;
      try {
        await p.enable();
      } catch (err) {
        p.state = 'failed';
        p.error = (err as Error).message;
        this.opts.log.error(`plugin ${p.name} cannot capture: ${p.error}`, { plugin: p.name });
      }
    }
  }

  /** The names of the plugins found at start (built-in and discovered). */
  names(): string[] {
    return [...this.instances.keys()];
  }

  /**
   * Applies a plugin's new settings (a configuration reload): switches it on
   * or off, re-ports it, replaces its pool or policies. Other plugins and
   * their sessions are not touched. Throws when the plugin refuses the new
   * settings (it then keeps its old ones and keeps running).
   */
  async reconfigure(name: string, next: PluginSettings): Promise<PluginStatus> {
    const p = this.get(name);
    if (!next.enabled) {
      if (p.state !== 'disabled' && p.state !== 'failed') await p.disable();
      await p.reconfigure(next);
    } else if (p.state === 'failed') {
      // A plugin that failed to load gets another try with the new settings.
      await p.reconfigure(next);
      await p.load();
      if (p.state === 'failed') throw new Error(`plugin ${name} not loaded: ${p.error}`);
      await p.enable();
    } else {
      await p.reconfigure(next);
      if (p.state === 'disabled') {
        if (!p.loaded) await p.load();
        await p.enable();
      }
    }
    this.settings.set(name, next);
    return p.status();
  }

  /** The control ports of the plugins enabled in configuration: what the packet driver must capture. */
  controlPorts(): { protocol: TransportProtocol; port: Port }[] {
    return [...this.instances.values()].filter((p) => this.settingsFor(p.name).enabled).flatMap((p) => p.controlPorts());
  }

  /** Sweeps idle sessions and lets tripped plugins try again. Called about once a second. */
  tick(): void {
    this.registry.sweep();
    for (const p of this.instances.values()) p.tick();
  }

  /** Enables a plugin (also re-enables one its circuit breaker tripped). */
  async enable(name: string): Promise<PluginStatus> {
    const p = this.get(name);
    if (!p.loaded) await p.load();
    await p.enable();
    return p.status();
  }

  /** Disables a plugin: it stops capturing and its sessions are closed. */
  async disable(name: string): Promise<PluginStatus> {
    const p = this.get(name);
    await p.disable();
    return p.status();
  }

  status(): PluginHostStatus {
    return {
      plugins: [...this.instances.values()].map((p) => p.status()),
      refused: [...this.refused],
      sessions: this.registry.status(),
      sessionsEnded: { ...this.registry.ended },
      publicPortsHeld: this.ledger.size,
    };
  }

  /** Closes every session, listener and worker pool. */
  async stop(): Promise<void> {
    await Promise.all([...this.instances.values()].map((p) => p.close()));
  }

  private get(name: string): PluginInstance {
    const p = this.instances.get(name);
    if (!p) throw new Error(`no plugin named "${name}" (known: ${[...this.instances.keys()].join(', ') || 'none'})`);
    return p;
  }

  /**
   * A connection to one of the gateway's public addresses on a published
   * port goes to the published server; one to another destination goes
   * there; one to a gateway address on a port nobody published is refused.
   */
  private route(protocol: TransportProtocol, original: Endpoint): UpstreamRoute | undefined {
    const publicAddresses = this.opts.adapters().filter((a) => a.type !== 'private').flatMap((a) => a.addresses);
    if (!publicAddresses.includes(original.address)) return { server: original, clientSide: 'private' };
    const p = this.opts.config.publish.find((x) => x.protocol === protocol && x.port === original.port && ipFamily(ipAddress(x.server)) === ipFamily(original.address));
    if (!p) return undefined;
    return { server: { address: ipAddress(p.server), port: toPort(p.serverPort ?? p.port) }, clientSide: 'public', publicAddress: original.address };
  }

  private settingsFor(name: string): PluginSettings {
    return this.settings.get(name) ?? DEFAULT_PLUGIN_SETTINGS;
  }

  private privateAddresses(): IpAddress[] {
    return this.opts.adapters().filter((a) => a.type === 'private').flatMap((a) => a.addresses).filter((a) => ipFamily(a) === 6 ? !a.startsWith('fe80:') : true);
  }

  private sources(): [string, PluginSource][] {
    const out: [string, PluginSource][] = Object.entries(BUILTIN_PLUGIN_PACKAGES).map(([name, pkg]) => [name, { entry: require.resolve(pkg), builtin: true, packageName: pkg }]);
    const dir = this.opts.config.pluginsDir;
    if (dir === undefined) return out;
    let found;
    try {
      found = discoverPlugins(dir);
    } catch (err) {
      this.refused.push({ dir, reason: `plugins folder unreadable: ${(err as Error).message}` });
      this.opts.log.error(`plugins folder ${dir} unreadable: ${(err as Error).message}`);
      return out;
    }
    for (const r of found.refused) {
      this.refused.push(r);
      this.opts.log.error(`plugin package refused: ${r.reason}`, { dir: r.dir });
    }
    for (const d of found.plugins) {
      if (out.some(([name]) => name === d.name)) {
        const r = { dir: d.dir, reason: `${d.packageName}: a plugin named "${d.name}" is already loaded` };
        this.refused.push(r);
        this.opts.log.error(`plugin package refused: ${r.reason}`, { dir: d.dir });
        continue;
      }
      out.push([d.name, { entry: d.entry, builtin: false, packageName: d.packageName }]);
    }
    return out;
  }
}

/** Settings of a plugin the configuration does not mention. */
export const DEFAULT_PLUGIN_SETTINGS: PluginSettings = pluginSettingsSchema.parse({});
