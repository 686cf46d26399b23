import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../../host/config/load-config';

const valid = {
  driver: 'nfqueue',
  adapters: [
    { name: 'eth1', type: 'private' },
    { name: 'eth0', type: 'boundary' },
  ],
  listenerPorts: { from: 3000, to: 5000 },
  plugins: { ftp: { enabled: true }, sip: { enabled: true }, rtsp: { enabled: false } },
  adminSocket: '/run/algd/algd.sock',
};

function problemsOf(cfg: unknown): readonly string[] {
  try {
    parseConfig(JSON.stringify(cfg), 'algd.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('configuration was accepted');
}

describe('configuration', () => {
  it('accepts the documented example and fills in defaults', () => {
    const cfg = parseConfig(JSON.stringify(valid));
    expect(cfg.driver).toBe('nfqueue');
    expect(cfg.mappingPorts).toEqual({ from: 61000, to: 64999 });
    expect(cfg.logging).toEqual({ level: 'info', console: { format: 'auto' } });
    expect(cfg.metrics).toBeUndefined();
    expect(cfg.plugins.rtsp!.enabled).toBe(false);
  });

  it('defaults listenerPorts to 3000-5000 and a plugin to enabled', () => {
    const { listenerPorts: _omit, ...rest } = valid;
    const cfg = parseConfig(JSON.stringify({ ...rest, plugins: { ftp: {} } }));
    expect(cfg.listenerPorts).toEqual({ from: 3000, to: 5000 });
    expect(cfg.plugins.ftp!.enabled).toBe(true);
  });

  it.each<[string, unknown, string]>([
    ['an unknown driver', { ...valid, driver: 'pcap' }, 'driver: must be one of "nfqueue", "windivert", "memory"'],
    ['a bad adapter type', { ...valid, adapters: [valid.adapters[0], { name: 'eth0', type: 'public' }] }, 'adapters[1].type: must be one of "private", "boundary", "firewalled"'],
    ['a port out of range', { ...valid, listenerPorts: { from: 3000, to: 70000 } }, 'listenerPorts.to: Too big: expected number to be <=65535'],
    ['a reversed range', { ...valid, listenerPorts: { from: 5000, to: 3000 } }, 'listenerPorts: "from" must not be greater than "to"'],
    ['overlapping ranges', { ...valid, mappingPorts: { from: 4000, to: 6000 } }, 'mappingPorts: overlaps listenerPorts 3000-5000'],
    ['an unknown key', { ...valid, listnerPorts: {} }, 'listnerPorts: unknown key'],
    ['an unknown adapter key', { ...valid, adapters: [{ ...valid.adapters[0], mtu: 1500 }, valid.adapters[1]] }, 'adapters[0].mtu: unknown key'],
    ['a non-boolean enabled', { ...valid, plugins: { ftp: { enabled: 'yes' } } }, 'plugins.ftp.enabled: Invalid input: expected boolean, received string'],
    ['a missing admin socket', { ...valid, adminSocket: undefined }, 'adminSocket: required'],
    ['duplicate adapters', { ...valid, adapters: [...valid.adapters, { name: 'eth1', type: 'boundary' }] }, 'adapters[2].name: duplicate adapter "eth1" (also adapters[0])'],
    ['no private adapter', { ...valid, adapters: [valid.adapters[1]] }, 'adapters: at least one adapter of type "private" is required'],
    ['no public adapter', { ...valid, adapters: [valid.adapters[0]] }, 'adapters: at least one adapter of type "boundary" or "firewalled" is required'],
    ['a missing driver', { ...valid, driver: undefined }, 'driver: required'],
    ['an empty adapter list', { ...valid, adapters: [] }, 'adapters: Too small: expected array to have >=1 items'],
    ['a non-integer port', { ...valid, mappingPorts: { from: 61000.5, to: 62000 } }, 'mappingPorts.from: Invalid input: expected int, received number'],
    ['a bad plugin name', { ...valid, plugins: { FTP: {} } }, 'plugins.FTP: plugin names are lower-case words'],
    ['an unknown plugin key', { ...valid, plugins: { ftp: { enable: true } } }, 'plugins.ftp.enable: unknown key'],
    ['a capture port out of range', { ...valid, plugins: { ftp: { ports: { tcp: [21, 0] } } } }, 'plugins.ftp.ports.tcp[1]: Too small: expected number to be >=1'],
    ['an empty capture port list', { ...valid, plugins: { ftp: { ports: { tcp: [] } } } }, 'plugins.ftp.ports.tcp: Too small: expected array to have >=1 items'],
    ['an unknown failure policy', { ...valid, plugins: { sip: { onFailure: 'retry' } } }, 'plugins.sip.onFailure: must be one of "close", "passthrough"'],
    ['a too short task timeout', { ...valid, plugins: { sip: { taskTimeoutMs: 5 } } }, 'plugins.sip.taskTimeoutMs: Too small: expected number to be >=10'],
    ['a bad breaker threshold', { ...valid, plugins: { rtsp: { breaker: { threshold: 0 } } } }, 'plugins.rtsp.breaker.threshold: Too small: expected number to be >=1'],
    ['an unknown log level', { ...valid, logging: { level: 'trace' } }, 'logging.level: must be one of "error", "warn", "info", "debug"'],
    ['an unknown old-style log level', { ...valid, logLevel: 'verbose' }, 'logLevel: must be one of "error", "warn", "info", "debug"'],
    ['an unknown console format', { ...valid, logging: { console: { format: 'xml' } } }, 'logging.console.format: must be one of "auto", "text", "json"'],
    ['a log file without a path', { ...valid, logging: { file: { maxFiles: 3 } } }, 'logging.file.path: required'],
    ['a log file size of zero', { ...valid, logging: { file: { path: '/var/log/algd.log', maxSizeMb: 0 } } }, 'logging.file.maxSizeMb: Too small: expected number to be >=1'],
    ['an unknown logging key', { ...valid, logging: { syslog: true } }, 'logging.syslog: unknown key'],
    ['a public metrics address', { ...valid, metrics: { address: '0.0.0.0', port: 9464 } }, 'metrics.address: must be one of "127.0.0.1", "::1"'],
    ['metrics without a port', { ...valid, metrics: {} }, 'metrics.port: required'],
    ['a metrics port inside listenerPorts', { ...valid, metrics: { port: 4000 } }, 'metrics.port: inside listenerPorts, which algd hands out'],
    ['a metrics port inside mappingPorts', { ...valid, metrics: { port: 62000 } }, 'metrics.port: inside mappingPorts, which algd hands out'],
    ['a bad nfqueue option', { ...valid, nfqueue: { queueNum: -1 } }, 'nfqueue.queueNum: Too small: expected number to be >=0'],
    ['a bad published server', { ...valid, publish: [{ protocol: 'tcp', port: 21, server: 'ftp.example' }] }, 'publish[0].server: not an IP address'],
    ['a file that is not an object', [valid], '(root): Invalid input: expected object, received array'],
    ['a bad configured address', { ...valid, adapters: [{ ...valid.adapters[0], addresses: ['198.51.100.300'] }, valid.adapters[1]] }, 'adapters[0].addresses[0]: not an IP address'],
  ])('rejects %s, naming the path', (_what, cfg, expected) => {
    const problems = problemsOf(cfg);
    // The whole message, so each error's wording is pinned, not only its path.
    expect(problems).toContain(expected);
  });

  it('reports a JSON syntax error and an unreadable file', () => {
    expect(() => parseConfig('{ "driver": ', 'x.json')).toThrow(/invalid configuration x\.json:\n {2}- \(root\): not valid JSON/);
    const dir = mkdtempSync(join(tmpdir(), 'algd-config-'));
    expect(() => loadConfig(join(dir, 'missing.json'))).toThrow(/\(file\): cannot read file: ENOENT/);
    const file = join(dir, 'algd.json');
    writeFileSync(file, JSON.stringify(valid));
    expect(loadConfig(file).adminSocket).toBe('/run/algd/algd.sock');
  });

  it('fills in logging and metrics defaults, and takes the old logLevel when logging.level is absent', () => {
    const cfg = parseConfig(JSON.stringify({ ...valid, logLevel: 'debug', logging: { file: { path: '/var/log/algd/algd.log' }, eventLog: {} }, metrics: { port: 9464 } }));
    expect(cfg.logging).toEqual({ level: 'debug', console: { format: 'auto' }, file: { path: '/var/log/algd/algd.log', maxSizeMb: 10, maxFiles: 5 }, eventLog: { source: 'algd' } });
    expect(cfg.metrics).toEqual({ address: '127.0.0.1', port: 9464 });
    expect(parseConfig(JSON.stringify({ ...valid, logLevel: 'debug', logging: { level: 'warn' } })).logging.level).toBe('warn');
  });

  it('lists every problem of a file at once, each with its path', () => {
    expect(problemsOf({ ...valid, driver: 'pcap', listenerPorts: { from: 3000, to: 70000 }, plugins: { ftp: { enabled: 'yes', color: 1 } } })).toEqual([
      'driver: must be one of "nfqueue", "windivert", "memory"',
      'listenerPorts.to: Too big: expected number to be <=65535',
      'plugins.ftp.enabled: Invalid input: expected boolean, received string',
      'plugins.ftp.color: unknown key',
    ]);
  });
});
