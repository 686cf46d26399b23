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
    expect(cfg.logLevel).toBe('info');
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
    ['a port out of range', { ...valid, listenerPorts: { from: 3000, to: 70000 } }, 'listenerPorts.to:'],
    ['a reversed range', { ...valid, listenerPorts: { from: 5000, to: 3000 } }, 'listenerPorts: "from" must not be greater than "to"'],
    ['overlapping ranges', { ...valid, mappingPorts: { from: 4000, to: 6000 } }, 'mappingPorts: overlaps listenerPorts 3000-5000'],
    ['an unknown key', { ...valid, listnerPorts: {} }, 'listnerPorts: unknown key'],
    ['an unknown adapter key', { ...valid, adapters: [{ ...valid.adapters[0], mtu: 1500 }, valid.adapters[1]] }, 'adapters[0].mtu: unknown key'],
    ['a non-boolean enabled', { ...valid, plugins: { ftp: { enabled: 'yes' } } }, 'plugins.ftp.enabled:'],
    ['a missing admin socket', { ...valid, adminSocket: undefined }, 'adminSocket:'],
    ['duplicate adapters', { ...valid, adapters: [...valid.adapters, { name: 'eth1', type: 'boundary' }] }, 'adapters[2].name: duplicate adapter "eth1" (also adapters[0])'],
    ['no private adapter', { ...valid, adapters: [valid.adapters[1]] }, 'adapters: at least one adapter of type "private" is required'],
    ['no public adapter', { ...valid, adapters: [valid.adapters[0]] }, 'adapters: at least one adapter of type "boundary" or "firewalled" is required'],
    ['a bad configured address', { ...valid, adapters: [{ ...valid.adapters[0], addresses: ['198.51.100.300'] }, valid.adapters[1]] }, 'adapters[0].addresses[0]: not an IP address'],
  ])('rejects %s, naming the path', (_what, cfg, expected) => {
    const problems = problemsOf(cfg);
    expect(problems.some((p) => p.startsWith(expected))).toBe(true);
  });

  it('reports a JSON syntax error and an unreadable file', () => {
    expect(() => parseConfig('{ "driver": ', 'x.json')).toThrow(/invalid configuration x\.json:\n {2}- not valid JSON/);
    const dir = mkdtempSync(join(tmpdir(), 'algd-config-'));
    expect(() => loadConfig(join(dir, 'missing.json'))).toThrow(/cannot read file: ENOENT/);
    const file = join(dir, 'algd.json');
    writeFileSync(file, JSON.stringify(valid));
    expect(loadConfig(file).adminSocket).toBe('/run/algd/algd.sock');
  });
});
