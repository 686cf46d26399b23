import type { AlgdConfig } from '../config/config-schema';
import { AdminServer } from '../admin/admin-server';
import type { Logger } from '../logging/logger';
import { NatEngine } from '../nat-engine/nat-engine';
import type { DriverStats, PacketDriver } from '../nat-engine/drivers/packet-driver';
import { PluginHost, type PluginHostStatus } from '../plugin-api/plugin-host';
import { DataChannelHub } from '../plugin-api/resources/data-channel-hub';
import { resolveAdapters, type Adapter } from './adapters';
import { captureSpecFromConfig } from './capture-spec-from-config';
import { packageVersion } from './package-info';

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
  plugins: PluginHostStatus['plugins'];
  refusedPlugins: PluginHostStatus['refused'];
  sessions: PluginHostStatus['sessions'];
  sessionsEnded: PluginHostStatus['sessionsEnded'];
  engine: {
    flows: number;
    redirects: string[];
    mappings: { id: number; owner: string; mapping: string; active: boolean; liveFlows: number; uses: number }[];
    counters: ReturnType<NatEngine['counters']['snapshot']>;
  };
}

/**
 * The running gateway: owns the NAT engine, the packet driver and the admin
 * API, and on stop removes everything it installed.
 */
export class AlgdService {
  private readonly hub = new DataChannelHub();
  readonly engine: NatEngine;
  readonly plugins: PluginHost;
  private readonly admin: AdminServer;
  private readonly adapters: Adapter[];
  private readonly version = packageVersion();
  private tickTimer: NodeJS.Timeout | undefined;
  private startedAt = new Date();
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(
    private readonly config: AlgdConfig,
    private readonly driver: PacketDriver,
    private readonly logger: Logger,
  ) {
    this.engine = new NatEngine({ events: this.hub, timeouts: config.flowTimeouts });
    this.admin = new AdminServer(config.adminSocket);
    this.admin.handle('status', () => this.status());
    this.admin.handle('plugins-enable', (args) => this.plugins.enable(String(args['name'])));
    this.admin.handle('plugins-disable', (args) => this.plugins.disable(String(args['name'])));
    this.adapters = resolveAdapters(config.adapters);
    this.plugins = new PluginHost({ config, engine: this.engine, hub: this.hub, adapters: () => this.adapters, log: logger, placement: driver.listenerPlacement });
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
      await this.driver.open(captureSpecFromConfig(this.config, this.plugins.controlPorts()), this.engine);
    } catch (err) {
      await this.plugins.stop();
      this.engine.clear();
      await this.admin.close();
      throw err;
    }
    this.tickTimer = setInterval(() => {
      this.engine.tick();
      this.plugins.tick();
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
    // Sessions and listeners first, so nothing creates mappings while the driver goes.
    await this.plugins.stop();
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
      adapters: this.adapters,
      listenerPorts: this.config.listenerPorts,
      mappingPorts: this.config.mappingPorts,
      plugins: p.plugins,
      refusedPlugins: p.refused,
      sessions: p.sessions,
      sessionsEnded: p.sessionsEnded,
      engine: {
        flows: e.flowCount,
        redirects: e.listRedirects().map((r) => r.describe()),
        mappings: e.listMappings().map((m) => ({ id: m.id, owner: m.owner, mapping: m.describe(), active: m.active, liveFlows: m.liveFlows, uses: m.uses })),
        counters: e.counters.snapshot(),
      },
    };
  }
}
