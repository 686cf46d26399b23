import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { parseConfig } from '../../../host/config/load-config';
import type { CaptureSpec } from '../../../host/nat-engine/drivers/capture-spec';
import { MemoryDriver } from '../../../host/nat-engine/drivers/memory-driver';
import type { DriverStats, PacketDriver, PacketProcessor } from '../../../host/nat-engine/drivers/packet-driver';
import { composeService, createServiceContainer } from '../../../host/service/composition-root';
import { AlgdService } from '../../../host/service/algd-service';
import { TOKENS } from '../../../host/service/service-tokens';
import { freeClientPort, LogCollector } from '../../support/plugin-host-rig';

/** A driver that only records what the service asked of it. */
class RecordingDriver implements PacketDriver {
  readonly name = 'recording';
  readonly listenerPlacement = { ipv4: 'loopback', upstreamFromListenerPorts: false } as const;
  readonly calls: string[] = [];
  spec: CaptureSpec | undefined;
  processor: PacketProcessor | undefined;
  failOpen = false;
  readonly stats: DriverStats = { received: 7, accepted: 6, dropped: 1, modified: 2, errors: 0 };
  async open(spec: CaptureSpec, processor: PacketProcessor): Promise<void> {
    this.calls.push('open');
    if (this.failOpen) throw new Error('no queue for you');
    this.spec = spec;
    this.processor = processor;
  }
  async close(): Promise<void> {
    this.calls.push('close');
  }
}

describe('composition root', () => {
  let dir: string;
  const config = () =>
    parseConfig(
      JSON.stringify({
        driver: 'nfqueue',
        adapters: [
          { name: 'priv0', type: 'private', addresses: ['198.51.100.1'] },
          { name: 'pub0', type: 'boundary', addresses: ['203.0.113.1'] },
        ],
        plugins: { ftp: { enabled: false }, sip: { enabled: false }, rtsp: { enabled: false } },
        adminSocket: join(dir, 'algd.sock'),
      }),
    );

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'algd-root-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('injects a fake driver and logger: the service opens, reports and closes the injected driver and logs to the injected logger', async () => {
    const driver = new RecordingDriver();
    const logs = new LogCollector();
    const logger = winston.createLogger({ level: 'debug', transports: [logs] });
    // The configuration names nfqueue; the injected driver wins, so this runs anywhere without root.
    const { container, service } = await composeService({ config: config(), driver, logger });
    expect(container.resolve(TOKENS.driver)).toBe(driver);
    expect(container.resolve(TOKENS.logger)).toBe(logger);
    await service.start();
    try {
      expect(driver.calls).toEqual(['open']);
      // The engine the driver feeds is the one the container holds and the service reports.
      expect(driver.processor).toBe(container.resolve(TOKENS.engine));
      expect(driver.processor).toBe(service.engine);
      expect(driver.spec).toMatchObject({ controlPorts: [], listenerPorts: { from: 3000, to: 5000 }, adapters: [{ name: 'priv0', side: 'private', firewalled: false }, { name: 'pub0', side: 'public', firewalled: false }] });
      const status = service.status();
      expect(status.driver).toBe('recording');
      expect(status.driverStats).toEqual({ received: 7, accepted: 6, dropped: 1, modified: 2, errors: 0 });
      expect(status.config).toEqual({ source: '<in memory>', reloads: 0, lastReloadAt: undefined, needsRestart: [] });
      expect(logs.lines.map((l) => l.message)).toContainEqual(expect.stringMatching(/^algd .* running$/));
    } finally {
      await service.stop();
    }
    expect(driver.calls).toEqual(['open', 'close']);
    expect(logs.lines.map((l) => l.message)).toContain('algd stopped');
  });

  it('gives each service its own parts: no singleton is shared between two containers', async () => {
    const a = createServiceContainer({ config: config(), driver: new RecordingDriver(), logger: winston.createLogger({ transports: [new LogCollector()] }) });
    const b = createServiceContainer({ config: config(), driver: new RecordingDriver(), logger: winston.createLogger({ transports: [new LogCollector()] }) });
    for (const t of [TOKENS.engine, TOKENS.hub, TOKENS.pluginHost, TOKENS.admin, TOKENS.adapters, AlgdService] as const) {
      expect(a.resolve(t as typeof TOKENS.engine)).toBe(a.resolve(t as typeof TOKENS.engine));
      expect(a.resolve(t as typeof TOKENS.engine)).not.toBe(b.resolve(t as typeof TOKENS.engine));
    }
  });

  it('builds the driver the configuration names when none is injected, and no metrics endpoint when none is configured', () => {
    const c = createServiceContainer({ config: { ...config(), driver: 'memory' }, logger: winston.createLogger({ transports: [new LogCollector()] }) });
    expect(c.resolve(TOKENS.driver)).toBeInstanceOf(MemoryDriver);
    expect(c.resolve(TOKENS.metrics)).toBeNull();
  });

  it('plugin enable flags from outside the file (the Windows registry) override plugins.<name>.enabled before any part is built', async () => {
    const { container } = await composeService({
      config: config(),
      driver: new RecordingDriver(),
      logger: winston.createLogger({ transports: [new LogCollector()] }),
      pluginFlags: { read: async () => ({ ftp: true, tftp: false }) },
    });
    const effective = container.resolve(TOKENS.config);
    expect(effective.plugins['ftp']!.enabled).toBe(true);
    expect(effective.plugins['sip']!.enabled).toBe(false);
    expect(effective.plugins['tftp']!.enabled).toBe(false);
  });

  it('a driver that fails to open leaves nothing behind: the admin socket is gone and the error reaches the caller', async () => {
    const driver = new RecordingDriver();
    driver.failOpen = true;
    const { service } = await composeService({ config: config(), driver, logger: winston.createLogger({ transports: [new LogCollector()] }) });
    await expect(service.start()).rejects.toThrow('no queue for you');
    expect(existsSync(join(dir, 'algd.sock'))).toBe(false);
    expect(driver.calls).toEqual(['open', 'close']);
  });

  it('wires the metrics endpoint when metrics is configured: it serves while the service runs and is gone after stop', async () => {
    const port = await freeClientPort();
    const { container, service } = await composeService({ config: { ...config(), metrics: { address: '127.0.0.1', port } }, driver: new RecordingDriver(), logger: winston.createLogger({ transports: [new LogCollector()] }) });
    expect(container.resolve(TOKENS.metrics)).not.toBeNull();
    await service.start();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^algd_/m);
    } finally {
      await service.stop();
    }
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});
