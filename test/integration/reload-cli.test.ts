import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlgdProcess, runAlgd } from '../support/algd-process';

jest.setTimeout(60_000);

/** `algd reload` and SIGHUP against the built `algd start` (memory driver). */
describe('algd reload and SIGHUP (memory driver)', () => {
  let dir: string;
  let configFile: string;
  /** A second, always valid file naming the same admin socket, for status queries while configFile is broken. */
  let statusFile: string;
  let socket: string;
  let algd: AlgdProcess | undefined;

  const write = (file: string, over: Record<string, unknown> = {}): void =>
    writeFileSync(
      file,
      JSON.stringify({
        driver: 'memory',
        adapters: [
          { name: 'priv0', type: 'private', addresses: ['198.51.100.1'] },
          { name: 'pub0', type: 'boundary', addresses: ['203.0.113.1'] },
        ],
        plugins: { ftp: { enabled: true }, sip: { enabled: false }, rtsp: { enabled: true } },
        adminSocket: socket,
        ...over,
      }),
    );

  const plugins = (): string[][] => {
    const r = runAlgd(['status', '--json', '--config', statusFile]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { plugins: { name: string; state: string; captures: { protocol: string; port: number }[] }[] };
    return doc.plugins.map((p) => [p.name, p.state, p.captures.map((c) => `${c.protocol}/${c.port}`).join(' ')]);
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'algd-reload-cli-'));
    socket = join(dir, 'run', 'algd.sock');
    configFile = join(dir, 'algd.json');
    statusFile = join(dir, 'status.json');
    write(configFile);
    write(statusFile);
    algd = new AlgdProcess(['start', '--config', configFile]);
    await algd.waitForLog(/running/);
  });

  afterEach(async () => {
    await algd?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGHUP reloads the file: a plugin is switched off and another re-ported; an invalid file is rejected with its errors and nothing changes', async () => {
    expect(plugins()).toEqual([
      ['ftp', 'enabled', 'tcp/21'],
      ['sip', 'disabled', ''],
      ['rtsp', 'enabled', 'tcp/554'],
    ]);
    write(configFile, { plugins: { ftp: { ports: { tcp: [21, 2121] } }, sip: { enabled: false }, rtsp: { enabled: false } } });
    algd!.child.kill('SIGHUP');
    await algd!.waitForLog(/configuration reloaded from .*: plugins\.ftp: ports; plugins\.rtsp: disable"/);
    expect(plugins()).toEqual([
      ['ftp', 'enabled', 'tcp/21 tcp/2121'],
      ['sip', 'disabled', ''],
      ['rtsp', 'disabled', ''],
    ]);
    // The memory driver cannot change its capture while running: the new port is reported, not hidden.
    expect(algd!.stderr).toContain('reload: capture tcp/2121 (the memory driver captures new control ports from the next start): changed, takes effect at the next start');

    writeFileSync(configFile, '{ "driver": "memory", "adapters": "eth0" }');
    algd!.child.kill('SIGHUP');
    await algd!.waitForLog(/reload rejected, the running configuration stays: adapters: Invalid input: expected array, received string; adminSocket: required/);
    expect(plugins()).toEqual([
      ['ftp', 'enabled', 'tcp/21 tcp/2121'],
      ['sip', 'disabled', ''],
      ['rtsp', 'disabled', ''],
    ]);
    // Still serving, and stops cleanly.
    expect(await algd!.stop('SIGTERM')).toBe(0);
  });

  it('algd reload applies the file through the admin socket and prints what changed and what needs a restart; exit codes 0, 2, 3', () => {
    write(configFile, { plugins: { ftp: { enabled: true }, sip: { enabled: true }, rtsp: { enabled: true } }, listenerPorts: { from: 3100, to: 3200 } });
    const r = runAlgd(['reload', '--config', configFile]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`reloaded ${configFile}: 1 change(s)\n  applied       plugins.sip: enable\n  needs restart listenerPorts\n  needs restart capture udp/5060 (the memory driver captures new control ports from the next start)\n  needs restart capture tcp/5060 (the memory driver captures new control ports from the next start)\n`);
    expect(plugins()).toEqual([
      ['ftp', 'enabled', 'tcp/21'],
      ['sip', 'enabled', 'udp/5060 tcp/5060'],
      ['rtsp', 'enabled', 'tcp/554'],
    ]);
    const status = JSON.parse(runAlgd(['status', '--json', '--config', statusFile]).stdout) as { listenerPorts: unknown; config: { reloads: number; needsRestart: string[] } };
    expect(status.listenerPorts).toEqual({ from: 3000, to: 5000 });
    expect(status.config.reloads).toBe(1);
    expect(status.config.needsRestart[0]).toBe('listenerPorts');

    // --json: the report as the admin API returns it; an unchanged file changes nothing.
    const again = runAlgd(['reload', '--json', '--config', configFile]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ source: configFile, rejected: false, changes: [], needsRestart: ['listenerPorts', 'capture udp/5060 (the memory driver captures new control ports from the next start)', 'capture tcp/5060 (the memory driver captures new control ports from the next start)'], errors: [] });

    // An invalid file: exit 2 with the errors, the service keeps its configuration.
    write(configFile, { plugins: { sip: { onFailure: 'retry' } } });
    const bad = runAlgd(['reload', '--config', configFile]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('plugins.sip.onFailure: must be one of "close", "passthrough"');
    expect(plugins()[1]).toEqual(['sip', 'enabled', 'udp/5060 tcp/5060']);
  });

  it('algd reload exits 3 when the service is not running', async () => {
    expect(await algd!.stop('SIGTERM')).toBe(0);
    const r = runAlgd(['reload', '--config', configFile]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('algd is not running');
  });
});
