import { diffConfig, pluginChanges } from '../../../host/config/config-diff';
import { pluginSettingsSchema } from '../../../host/config/config-schema';
import { parseConfig } from '../../../host/config/load-config';

const base = {
  driver: 'nfqueue',
  adapters: [
    { name: 'eth1', type: 'private' },
    { name: 'eth0', type: 'boundary' },
  ],
  plugins: { ftp: { enabled: true }, sip: { enabled: true } },
  adminSocket: '/run/algd/algd.sock',
};
const defaults = pluginSettingsSchema.parse({});
const cfg = (over: Record<string, unknown>) => parseConfig(JSON.stringify({ ...base, ...over }));

describe('configuration diff for live reload', () => {
  it('finds nothing to do in an unchanged file', () => {
    expect(diffConfig(cfg({}), cfg({}), defaults)).toEqual({ needsRestart: [], plugins: [], logLevel: undefined });
  });

  it('sorts plugin changes: on/off, ports, pool settings, policies', () => {
    const d = diffConfig(
      cfg({}),
      cfg({ plugins: { ftp: { enabled: false }, sip: { ports: { udp: [5060, 5070] }, options: { x: 1 }, onFailure: 'passthrough' }, rtsp: { enabled: false } } }),
      defaults,
    );
    expect(d.plugins.map((p) => [p.name, p.changes])).toEqual([
      ['ftp', ['disable']],
      ['sip', ['ports', 'pool', 'policy']],
      ['rtsp', ['disable']],
    ]);
    expect(d.needsRestart).toEqual([]);
  });

  it('a plugin the file no longer mentions goes back to its defaults (enabled)', () => {
    const d = diffConfig(cfg({ plugins: { ftp: { enabled: false } } }), cfg({ plugins: {} }), defaults);
    expect(d.plugins).toEqual([{ name: 'ftp', settings: defaults, changes: ['enable'] }]);
  });

  it('reports keys that need a restart, and the log level as live', () => {
    const d = diffConfig(
      cfg({}),
      cfg({ driver: 'windivert', adapters: [...base.adapters, { name: 'eth2', type: 'firewalled' }], listenerPorts: { from: 3000, to: 4000 }, mappingPorts: { from: 50000, to: 50100 }, adminSocket: '/tmp/x.sock', logging: { level: 'debug', file: { path: '/var/log/algd.log' } }, metrics: { port: 9464 } }),
      defaults,
    );
    expect(d.needsRestart).toEqual(['driver', 'adapters', 'listenerPorts', 'mappingPorts', 'adminSocket', 'metrics', 'logging.file']);
    expect(d.logLevel).toBe('debug');
    expect(d.plugins).toEqual([]);
  });

  it('the old logLevel spelling changing the level is a live change too', () => {
    expect(diffConfig(cfg({}), cfg({ logLevel: 'warn' }), defaults).logLevel).toBe('warn');
  });

  it('tells the breaker and the data-channel cap (policies) from the task timeout and memory (pool)', () => {
    const s = (over: Record<string, unknown>) => pluginSettingsSchema.parse(over);
    expect(pluginChanges(s({}), s({ breaker: { threshold: 2 } }))).toEqual(['policy']);
    expect(pluginChanges(s({}), s({ maxDataChannelsPerSession: 4 }))).toEqual(['policy']);
    expect(pluginChanges(s({}), s({ taskTimeoutMs: 500 }))).toEqual(['pool']);
    expect(pluginChanges(s({}), s({ maxMemoryMb: 128, maxThreads: 2 }))).toEqual(['pool']);
    expect(pluginChanges(s({ ports: { tcp: [21] } }), s({ ports: { tcp: [21] } }))).toEqual([]);
  });
});
