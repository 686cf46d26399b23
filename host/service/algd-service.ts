import 'reflect-metadata';
import { inject, injectable } from 'tsyringe';
import type { AdminServer } from '../admin/admin-server';
import { diffConfig } from '../config/config-diff';
import type { AlgdConfig } from '../config/config-schema';
import { ConfigError } from '../config/load-config';
import type { Logger } from '../logging/logger';
import type { NatEngine } from '../nat-engine/nat-engine';
import type { DriverStats, PacketDriver } from '../nat-engine/drivers/packet-driver';
import { FlowOffloader, type OffloadStats } from '../nat-engine/offload/flow-offloader';
import { DEFAULT_PLUGIN_SETTINGS, type PluginHost, type PluginHostStatus } from '../plugin-api/plugin-host';
import type { Adapter } from './adapters';
import { captureSpecFromConfig } from './capture-spec-from-config';
import type { ConfigSource } from './config-source';
import { hasLiveCapture } from './live-capture';
import { packageVersion } from './package-info';
import { applyPluginFlags, type PluginFlagSource } from './plugin-flags';
import type { ReloadReport } from './reload-report';
import { TOKENS, type Startable } from './service-tokens';

/** How often flows and mappings are checked for expiry. */
const TICK_MS = 1000;

/** The status document `algd status --json` prints. */
export interface StatusDocument {
  service: 'algd';
  version: string;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  driver: string;
  driverStats: DriverStats;
  adapters: Adapter[];
  listenerPorts: { from: number; to: number };
  mappingPorts: { from: number; to: number };
  /** Ports of `mappingPorts` held now (relay sockets, data channels, reservations). */
  mappingPortsHeld: number;
  plugins: PluginHostStatus['plugins'];
  refusedPlugins: PluginHostStatus['refused'];
  sessions: PluginHostStatus['sessions'];
  sessionsEnded: PluginHostStatus['sessionsEnded'];
  /** Where the configuration comes from and what reloads left: keys that changed in the file but wait for a restart. */
  config: { source: string; reloads: number; lastReloadAt: string | undefined; needsRestart: string[] };
  /** The driver's kernel fast path; null when the driver has none or it is off. */
  offload: OffloadStats | null;
  engine: {
    flows: number;
    redirects: string[];
    mappings: { id: number; owner: string; mapping: string; active: boolean; liveFlows: number; uses: number }[];
    counters: ReturnType<NatEngine['counters']['snapshot']>;
  };
}

/**
 * The running gateway: drives the NAT engine, the packet driver, the plugin
 * host, the admin API and the metrics endpoint (all injected by the
 * composition root), reloads its configuration live, and on stop removes
 * everything it installed.
 */
@injectable()
export class AlgdService {
  private readonly version = packageVersion();
  private tickTimer: NodeJS.Timeout | undefined;
  private offloader: FlowOffloader | undefined;
  private startedAt = new Date();
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  /** The configuration in force: the start's, with what reloads applied. */
  private config: AlgdConfig;
  /** The control ports the driver captures. */
  private captured: string[] = [];
  private reloads = 0;
  private lastReloadAt: Date | undefined;
  private needsRestart: string[] = [];
  /** Reloads run one at a time, in order. */
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(
    @inject(TOKENS.config) config: AlgdConfig,
    @inject(TOKENS.configSource) private readonly source: ConfigSource,
    @inject(TOKENS.pluginFlags) private readonly pluginFlags: PluginFlagSource,
    @inject(TOKENS.driver) private readonly driver: PacketDriver,
    @inject(TOKENS.logger) private readonly logger: Logger,
    @inject(TOKENS.engine) readonly engine: NatEngine,
    @inject(TOKENS.pluginHost) readonly plugins: PluginHost,
    @inject(TOKENS.admin) private readonly admin: AdminServer,
    @inject(TOKENS.adapters) private readonly adapters: readonly Adapter[],
    @inject(TOKENS.metrics) private readonly metrics: Startable | null,
  ) {
    this.config = config;
    this.admin.handle('status', () => this.status());
    this.admin.handle('plugins-enable', (args) => this.plugins.enable(String(args['name'])));
    this.admin.handle('plugins-disable', (args) => this.plugins.disable(String(args['name'])));
    this.admin.handle('reload', () => this.reload());
  }

  /** Starts the admin API first (so a second instance is refused before anything is installed), then the driver. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`cannot start a service that is ${this.state}`);
    for (const a of this.adapters) {
      if (!a.present) this.logger.warn(`adapter ${a.name} is not an interface of this machine`, { adapter: a.name });
    }
    await this.admin.listen();
    try {
      await this.plugins.start();
      const controlPorts = this.plugins.controlPorts();
      await this.driver.open(captureSpecFromConfig(this.config, controlPorts), this.engine);
      this.attachOffload();
      this.captured = controlPorts.map((c) => `${c.protocol}/${c.port}`);
      await this.metrics?.start();
    } catch (err) {
      this.engine.detachOffload();
      this.offloader?.stop();
      await this.driver.close();
      await this.plugins.stop();
      this.engine.clear();
      await this.admin.close();
      throw err;
    }
    this.tickTimer = setInterval(() => {
      this.engine.tick();
      this.plugins.tick();
      void this.offloader?.tick();
    }, TICK_MS);
    this.tickTimer.unref();
    this.startedAt = new Date();
    this.state = 'running';
    this.logger.info(`algd ${this.version} running`, { driver: this.driver.name, adminSocket: this.config.adminSocket, pid: process.pid });
  }

  /** Stops serving and removes what was installed: driver rules, mappings, the admin socket. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    if (this.tickTimer) clearInterval(this.tickTimer);
    await this.admin.close();
    await this.metrics?.stop();
    // Sessions and listeners first, so nothing creates mappings while the driver goes.
    await this.plugins.stop();
    // The driver's close removes every offloaded flow's rules at once.
    this.engine.detachOffload();
    this.offloader?.stop();
    await this.driver.close();
    this.engine.clear();
    this.state = 'stopped';
    this.logger.info('algd stopped');
  }

  status(): StatusDocument {
    const e = this.engine;
    const p = this.plugins.status();
    return {
      service: 'algd',
      version: this.version,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      driver: this.driver.name,
      driverStats: this.driver.stats,
      adapters: [...this.adapters],
      listenerPorts: this.config.listenerPorts,
      mappingPorts: this.config.mappingPorts,
      mappingPortsHeld: p.publicPortsHeld,
      offload: this.offloader?.stats ?? null,
      plugins: p.plugins,
      refusedPlugins: p.refused,
      sessions: p.sessions,
      sessionsEnded: p.sessionsEnded,
      config: { source: this.source.name, reloads: this.reloads, lastReloadAt: this.lastReloadAt?.toISOString(), needsRestart: [...this.needsRestart] },
      engine: {
        flows: e.flowCount,
        redirects: e.listRedirects().map((r) => r.describe()),
        mappings: e.listMappings().map((m) => ({ id: m.id, owner: m.owner, mapping: m.describe(), active: m.active, liveFlows: m.liveFlows, uses: m.uses })),
        counters: e.counters.snapshot(),
      },
    };
  }

  /** Hands bulk data-channel flows to the driver's kernel fast path, when it has one (nfqueue.offload). */
  private attachOffload(): void {
    const kernel = this.driver.offload;
    if (kernel === undefined) return;
    const engine = this.engine;
    this.offloader = new FlowOffloader(kernel, { touch: (flow) => engine.touchFlow(flow), log: (level, message) => this.logger.log(level, message) });
    engine.attachOffload(this.offloader, this.config.nfqueue.offload.minBytes);
  }

  /**
   * Reads the configuration again and applies what can change live: each
   * plugin's settings (on/off, capture ports, options, policies) and the
   * log level. Other changed keys are reported as needing a restart and
   * keep their running values. An invalid file changes nothing.
   */
  reload(): Promise<ReloadReport> {
    const run = this.reloading.then(() => this.reloadNow());
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<ReloadReport> {
    if (this.state !== 'running') throw new Error(`cannot reload a service that is ${this.state}`);
    const report = { source: this.source.name, rejected: false, changes: [] as string[], needsRestart: [] as string[], errors: [] as string[] };
    let next: AlgdConfig;
    try {
      next = applyPluginFlags(this.source.load(), await this.pluginFlags.read(), DEFAULT_PLUGIN_SETTINGS);
    } catch (err) {
      // A bad file, or plugin flags that cannot be read: nothing changes.
      const errors = err instanceof ConfigError ? [...err.problems] : [err instanceof Error ? err.message : String(err)];
      this.logger.error(`reload rejected, the running configuration stays: ${errors.join('; ')}`);
      return { ...report, rejected: true, errors };
    }
    const diff = diffConfig(this.config, next, DEFAULT_PLUGIN_SETTINGS);
    report.needsRestart.push(...diff.needsRestart);
    const plugins = { ...this.config.plugins };
    const known = new Set(this.plugins.names());
    for (const { name, settings, changes } of diff.plugins) {
      if (!known.has(name)) {
        // Plugins are found at start; a package added since is loaded by the next start.
        if (settings.enabled) report.needsRestart.push(`plugins.${name}`);
        plugins[name] = settings;
        continue;
      }
      try {
        await this.plugins.reconfigure(name, settings);
        plugins[name] = settings;
        report.changes.push(`plugins.${name}: ${changes.join(', ')}`);
      } catch (err) {
        report.errors.push(`plugins.${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    let logging = this.config.logging;
    if (diff.logLevel !== undefined) {
      this.logger.level = diff.logLevel;
      logging = { ...logging, level: diff.logLevel };
      report.changes.push(`logging.level: ${diff.logLevel}`);
    }
    report.needsRestart.push(...(await this.updateCapture()));
    this.config = { ...this.config, plugins, logging };
    this.needsRestart = report.needsRestart;
    this.reloads++;
    this.lastReloadAt = new Date();
    this.logger.info(`configuration reloaded from ${this.source.name}: ${report.changes.length ? report.changes.join('; ') : 'no live change'}`);
    for (const r of report.needsRestart) this.logger.warn(`reload: ${r}: changed, takes effect at the next start`);
    for (const e of report.errors) this.logger.error(`reload: ${e}; the plugin keeps its running settings`);
    return report;
  }

  /**
   * Tells the driver about control ports a reload added or removed. A driver
   * that cannot change its capture while running keeps the old one: the
   * ports it does not capture yet are returned, as needing a restart.
   */
  private async updateCapture(): Promise<string[]> {
    const controlPorts = this.plugins.controlPorts();
    const wanted = controlPorts.map((c) => `${c.protocol}/${c.port}`);
    const same = wanted.length === this.captured.length && wanted.every((w) => this.captured.includes(w));
    if (same) return [];
    if (hasLiveCapture(this.driver)) {
      await this.driver.updateCapture(captureSpecFromConfig(this.config, controlPorts));
      this.captured = wanted;
      return [];
    }
    return wanted.filter((w) => !this.captured.includes(w)).map((w) => `capture ${w} (the ${this.driver.name} driver captures new control ports from the next start)`);
  }
}
