import { formatEndpoint, ipFamily, port as toPort, type ControlChannelSpec, type Endpoint, type Framing, type IpAddress, type MessageDirection, type Port, type TransportProtocol } from '@algd/sdk';
import type { HostServices, TaskEnvelope, TaskOutcome } from '@algd/sdk/runtime';
import { pluginChanges } from '../config/config-diff';
import type { FailurePolicy, PluginSettings } from '../config/config-schema';
import type { Logger } from '../logging/logger';
import type { NatEngine } from '../nat-engine/nat-engine';
import type { RedirectRule } from '../nat-engine/translation/redirect-rule';
import type { ListenerPlacement } from '../nat-engine/drivers/packet-driver';
import { ListenerPorts } from './listener/listener-ports';
import type { UpstreamPorts } from './listener/upstream-ports';
import { TcpControlListener } from './listener/tcp-control-listener';
import { DatagramRelay } from './relay/datagram-relay';
import type { PublicPortLedger } from './resources/public-port-ledger';
import type { ListenerCounter, OriginalDestinationLookup, UpstreamRouter } from './session/session-factory';
import type { SessionPlugin } from './session/session-plugin';
import type { SessionRegistry } from './session/session-registry';
import { CircuitBreaker } from './worker-pool/circuit-breaker';
import { PluginPool, PluginTaskError, type PluginDescription } from './worker-pool/plugin-pool';

/** Where a plugin comes from. */
export interface PluginSource {
  /** The module to load in the workers. */
  readonly entry: string;
  readonly builtin: boolean;
  /** The npm package (discovered plugins). */
  readonly packageName?: string;
}

/**
 * `enabled`: capturing. `disabled`: switched off by configuration or the
 * administrator. `tripped`: switched off by the circuit breaker until its
 * cooldown ends or an administrator enables it. `failed`: could not be
 * loaded.
 */
export type PluginState = 'enabled' | 'disabled' | 'tripped' | 'failed';

export interface PluginInstanceDeps {
  readonly engine: NatEngine;
  readonly registry: SessionRegistry;
  readonly ledger: PublicPortLedger;
  readonly listenerPorts: ListenerPorts;
  /** The addresses listeners bind: 127.0.0.1, and a private adapter's IPv6 address when there is one. */
  readonly listenAddresses: () => readonly IpAddress[];
  readonly lookup: OriginalDestinationLookup;
  /** Where captured connections go (published servers); default their original destination. */
  readonly route?: UpstreamRouter;
  /** True when (protocol, port) is published: its redirects also capture connections from the public side. */
  readonly isPublished?: (protocol: TransportProtocol, port: number) => boolean;
  readonly keepaliveMs: number;
  /** Local ports for upstream TCP connections when the driver needs them from listenerPorts. */
  readonly upstreamPorts?: UpstreamPorts;
  readonly log: Logger;
  readonly now?: () => number;
}

/** One captured (protocol, port) with its listener and redirects. */
interface Capture {
  readonly protocol: TransportProtocol;
  readonly port: Port;
  readonly listenerPort: number;
  readonly addresses: readonly IpAddress[];
  readonly servers: (TcpControlListener | DatagramRelay)[];
  /** Empty while the breaker holds the plugin off. */
  redirects: RedirectRule[];
}

/** The status of one plugin. */
export interface PluginStatus {
  readonly name: string;
  readonly version: string | undefined;
  readonly builtin: boolean;
  readonly package: string | undefined;
  readonly state: PluginState;
  readonly error: string | undefined;
  readonly captures: readonly { readonly protocol: TransportProtocol; readonly port: number; readonly listener: number }[];
  readonly sessions: number;
  readonly tasks: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly workerRestarts: number;
  readonly breaker: { readonly state: string; readonly trips: number };
  readonly counters: Readonly<Record<string, number>>;
  /** Bytes of the messages the plugin changed, as forwarded. */
  readonly bytesRewritten: number;
  /** Tasks waiting for a free worker now. */
  readonly queueDepth: number;
}

/**
 * One plugin on the host: its worker pool, its circuit breaker, the
 * listeners and engine redirects of its control channels, its counters.
 * Sessions reach the plugin through the {@link SessionPlugin} face.
 */
export class PluginInstance implements SessionPlugin {
  state: PluginState;
  error: string | undefined;
  private pool: PluginPool | undefined;
  private description: PluginDescription | undefined;
  private readonly captures: Capture[] = [];
  private breaker: CircuitBreaker;
  private readonly counters: Record<string, number> = {};
  private bytesRewritten = 0;
  private trips = 0;
  /** Task counts of pools a reload replaced, so status counters never go backwards. */
  private readonly retired = { tasks: 0, workerRestarts: 0, failures: {} as Record<string, number> };

  constructor(
    readonly name: string,
    readonly source: PluginSource,
    private settings: PluginSettings,
    private readonly deps: PluginInstanceDeps,
  ) {
    this.state = 'disabled';
    this.breaker = new CircuitBreaker({ ...settings.breaker, now: deps.now });
  }

  // ---- SessionPlugin ------------------------------------------------------

  get onFailure(): FailurePolicy {
    return this.settings.onFailure;
  }

  get maxDataChannels(): number {
    return this.settings.maxDataChannelsPerSession;
  }

  get wantsEvents(): boolean {
    return this.description?.handlers.events === true;
  }

  handles(direction: MessageDirection): boolean {
    const h = this.description?.handlers;
    return h !== undefined && (direction === 'client-to-server' ? h.client : h.server);
  }

  framing(protocol: TransportProtocol): Framing | undefined {
    return this.description?.controlChannels.find((c) => c.protocol === protocol)?.framing;
  }

  async run(envelope: TaskEnvelope, services: HostServices): Promise<TaskOutcome> {
    const pool = this.pool;
    if (!pool) throw new Error(`plugin ${this.name} is not loaded`);
    try {
      const outcome = await pool.run(envelope, services);
      this.breaker.recordSuccess();
      return outcome;
    } catch (err) {
      // Tasks cut short by the host's own shutdown are not the plugin's fault.
      if (err instanceof PluginTaskError && err.kind === 'closed') throw err;
      if (this.breaker.recordFailure() && this.state === 'enabled') this.trip();
      throw err;
    }
  }

  addCounters(counters: Readonly<Record<string, number>>): void {
    for (const [k, v] of Object.entries(counters)) {
      if (typeof v === 'number' && Number.isFinite(v)) this.counters[k] = (this.counters[k] ?? 0) + v;
    }
  }

  countRewritten(bytes: number): void {
    this.bytesRewritten += bytes;
  }

  // ---- life cycle -----------------------------------------------------------

  /** True once the worker pool is up. */
  get loaded(): boolean {
    return this.pool !== undefined;
  }

  /** Loads the plugin into its worker pool. On failure the plugin is `failed` with the reason; nothing throws. */
  async load(): Promise<void> {
    this.state = 'disabled';
    this.error = undefined;
    try {
      this.pool = await this.openPool(this.settings);
      this.description = this.pool.description;
    } catch (err) {
      this.state = 'failed';
      this.error = (err as Error).message;
      this.deps.log.error(`plugin ${this.name} not loaded: ${this.error}`, { plugin: this.name });
    }
  }

  /** A worker pool of the plugin built with `settings`; throws when the plugin cannot be loaded with them. */
  private async openPool(settings: PluginSettings): Promise<PluginPool> {
    const pool = await PluginPool.open({
      entry: this.source.entry,
      options: settings.options,
      maxThreads: settings.maxThreads,
      maxOldGenerationSizeMb: settings.maxMemoryMb,
      taskTimeoutMs: settings.taskTimeoutMs,
      log: (level, message, fields) => this.deps.log.log(level, message, { plugin: this.name, ...fields }),
    });
    if (pool.description.name !== this.name) {
      await pool.close();
      throw new Error(`the module at ${this.source.entry} defines plugin "${pool.description.name}", expected "${this.name}"`);
    }
    return pool;
  }

  /**
   * Applies new settings (a configuration reload; `enabled` is the host's
   * business). New pool settings load a new pool first: if the plugin refuses
   * them (bad options) this throws and the plugin keeps running as it was.
   * The plugin's sessions keep going on the new pool (their state is plain
   * data), and tasks in flight finish on the old one, closed after the task
   * timeout. Changed ports are captured anew; sessions on a port no longer
   * captured end with its listener, the others are untouched.
   */
  async reconfigure(next: PluginSettings): Promise<void> {
    const changes = pluginChanges(this.settings, next);
    if (changes.includes('pool') && this.pool) {
      const old = this.pool;
      if (this.state === 'disabled') {
        // Not in use: the next enable loads a pool with the new settings.
        this.pool = undefined;
        await old.close();
      } else {
        const pool = await this.openPool(next);
        this.pool = pool;
        this.description = pool.description;
        this.retire(old, this.settings.taskTimeoutMs);
      }
    }
    this.settings = next;
    if (changes.includes('policy')) this.breaker = new CircuitBreaker({ ...next.breaker, now: this.deps.now });
    if (changes.includes('ports') && (this.state === 'enabled' || this.state === 'tripped')) await this.recapture();
  }

  /** Closes a replaced pool once its in-flight tasks have had their time; its counts stay in status. */
  private retire(old: PluginPool, graceMs: number): void {
    setTimeout(() => {
      const s = old.stats;
      this.retired.tasks += s.tasks;
      this.retired.workerRestarts += s.workerRestarts;
      for (const [k, v] of Object.entries(s.failures)) this.retired.failures[k] = (this.retired.failures[k] ?? 0) + v;
      void old.close();
    }, graceMs).unref();
  }

  /** The (protocol, port) pairs this plugin captures: configured ports over the plugin's defaults. */
  controlPorts(): { protocol: TransportProtocol; port: Port }[] {
    const channels: readonly ControlChannelSpec[] = this.description?.controlChannels ?? [];
    return channels.flatMap((c) => {
      const configured = this.settings.ports?.[c.protocol];
      return (configured ?? c.ports).map((p) => ({ protocol: c.protocol, port: toPort(p) }));
    });
  }

  /** Starts capturing: a listener or relay and engine redirects for each control port. */
  async enable(): Promise<void> {
    if (this.state === 'failed' || !this.pool) throw new Error(`plugin ${this.name} is not loaded${this.error ? `: ${this.error}` : ''}`);
    this.breaker.reset();
    if (this.state === 'tripped') for (const c of this.captures) this.redirect(c);
    else if (this.state !== 'enabled') await this.capture(this.controlPorts());
    this.state = 'enabled';
  }

  /** Stops capturing and closes the plugin's sessions (administrator's choice). */
  async disable(): Promise<void> {
    await this.release();
    this.deps.registry.closeAll('plugin-disabled', this.name);
    if (this.state !== 'failed') this.state = 'disabled';
  }

  /** Called about once a second: a tripped plugin whose cooldown is over captures again (half-open). */
  tick(): void {
    if (this.state === 'tripped' && this.breaker.state !== 'open') {
      this.deps.log.info(`plugin ${this.name}: cooldown over, capturing again`, { plugin: this.name });
      for (const c of this.captures) this.redirect(c);
      this.state = 'enabled';
    }
  }

  /** Stops everything: captures, sessions, workers. */
  async close(): Promise<void> {
    await this.release();
    this.deps.registry.closeAll('shutdown', this.name);
    await this.pool?.close();
    this.pool = undefined;
  }

  status(): PluginStatus {
    const stats = this.pool?.stats;
    return {
      name: this.name,
      version: this.description?.version,
      builtin: this.source.builtin,
      package: this.source.packageName,
      state: this.state,
      error: this.error,
      captures: this.captures.map((c) => ({ protocol: c.protocol, port: c.port, listener: c.listenerPort })),
      sessions: this.deps.registry.count(this.name),
      tasks: (stats?.tasks ?? 0) + this.retired.tasks,
      failures: sumCounts(stats?.failures ?? {}, this.retired.failures),
      workerRestarts: (stats?.workerRestarts ?? 0) + this.retired.workerRestarts,
      breaker: { state: this.breaker.state, trips: this.trips },
      counters: { ...this.counters },
      bytesRewritten: this.bytesRewritten,
      queueDepth: stats?.queueSize ?? 0,
    };
  }

  /** Adds to a listener's counters (connections it refused). */
  count(counter: ListenerCounter): void {
    this.counters[counter] = (this.counters[counter] ?? 0) + 1;
  }

  private trip(): void {
    this.trips++;
    this.state = 'tripped';
    this.deps.log.error(`plugin ${this.name} keeps failing: disabled by its circuit breaker (captured traffic goes through uninspected until it is re-enabled)`, { plugin: this.name });
    // New connections stop being captured (the listeners stay, so sessions
    // already running keep going under their failure policy).
    for (const c of this.captures) {
      for (const r of c.redirects) this.deps.engine.removeRedirect(r);
      c.redirects = [];
    }
  }

  private redirect(c: Capture): void {
    if (c.redirects.length > 0) return;
    const from = this.deps.isPublished?.(c.protocol, c.port) ? (['private', 'public'] as const) : (['private'] as const);
    c.redirects = c.addresses.map((address) => this.deps.engine.addRedirect({ protocol: c.protocol, port: c.port, listener: { address, port: toPort(c.listenerPort) }, owner: this.name, from }));
  }

  /** Captures what controlPorts() now says: keeps the captures still wanted, releases the others, adds the new ones. */
  private async recapture(): Promise<void> {
    const key = (c: { protocol: TransportProtocol; port: number }): string => `${c.protocol}/${c.port}`;
    const wanted = this.controlPorts();
    const keep = new Set(wanted.map(key));
    const gone = this.captures.filter((c) => !keep.has(key(c)));
    await this.release(gone);
    const have = new Set(this.captures.map(key));
    await this.capture(wanted.filter((w) => !have.has(key(w))));
  }

  private async capture(ports: readonly { protocol: TransportProtocol; port: Port }[]): Promise<void> {
    for (const { protocol, port } of ports) {
      const addresses = this.deps.listenAddresses();
      const servers: (TcpControlListener | DatagramRelay)[] = [];
      const { port: listenerPort } = await this.deps.listenerPorts.allocate(async (p) => {
        // One port number for every listen address, so the capture reads as one line in status.
        const made: (TcpControlListener | DatagramRelay)[] = [];
        try {
          for (const address of addresses) {
            const server = this.makeServer(protocol, { address, port: toPort(p) });
            await server.listen();
            made.push(server);
          }
        } catch (err) {
          await Promise.all(made.map((s) => s.close()));
          throw err;
        }
        servers.push(...made);
      });
      const c: Capture = { protocol, port, listenerPort, addresses, servers, redirects: [] };
      this.captures.push(c);
      // A tripped plugin gets its redirects back when the breaker lets it.
      if (this.state !== 'tripped') this.redirect(c);
      this.deps.log.info(`plugin ${this.name}: ${protocol} port ${port} -> listener ${addresses.map((a) => formatEndpoint({ address: a, port: toPort(listenerPort) })).join(', ')}`, { plugin: this.name });
    }
  }

  /** Ends captures (default all): redirects, listeners and their connections, listener ports. */
  private async release(which: readonly Capture[] = [...this.captures]): Promise<void> {
    const captures = which.filter((c) => this.captures.includes(c));
    for (const c of captures) this.captures.splice(this.captures.indexOf(c), 1);
    for (const c of captures) for (const r of c.redirects) this.deps.engine.removeRedirect(r);
    await Promise.all(captures.flatMap((c) => c.servers.map((s) => s.close())));
    for (const c of captures) this.deps.listenerPorts.release(c.listenerPort);
  }

  private makeServer(protocol: TransportProtocol, listen: Endpoint): TcpControlListener | DatagramRelay {
    const common = { listen, lookup: this.deps.lookup, route: this.deps.route, sessions: this.deps.registry.factoryFor(this), log: this.deps.log, count: (c: ListenerCounter) => this.count(c) };
    return protocol === 'tcp'
      ? new TcpControlListener({ ...common, keepaliveMs: this.deps.keepaliveMs, upstreamPorts: this.deps.upstreamPorts })
      : new DatagramRelay({ ...common, ledger: this.deps.ledger, upstreamPorts: this.deps.upstreamPorts });
  }
}

function sumCounts(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * The listen addresses for a gateway: for IPv4 127.0.0.1, or the first
 * private IPv4 address when the driver cannot reach loopback; for IPv6 the
 * first private IPv6 address (IPv6 has no route_localnet).
 */
export function listenAddressesFor(privateAddresses: readonly IpAddress[], placement: ListenerPlacement): IpAddress[] {
  const v4 = placement.ipv4 === 'loopback' ? ('127.0.0.1' as IpAddress) : privateAddresses.find((a) => ipFamily(a) === 4);
  const v6 = privateAddresses.find((a) => ipFamily(a) === 6);
  return [...(v4 ? [v4] : []), ...(v6 ? [v6] : [])];
}
