import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlgdProcess, runAlgd } from '../support/algd-process';

describe('algd command line (memory driver)', () => {
  let dir: string;
  let configFile: string;
  let socket: string;
  const running: AlgdProcess[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'algd-cli-'));
    socket = join(dir, 'run', 'algd.sock');
    configFile = join(dir, 'algd.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        driver: 'memory',
        adapters: [
          { name: 'priv0', type: 'private', addresses: ['198.51.100.1'] },
          { name: 'pub0', type: 'boundary', addresses: ['203.0.113.1'] },
        ],
        plugins: { ftp: { enabled: true }, sip: { enabled: false } },
        adminSocket: socket,
      }),
    );
  });

  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function start(): AlgdProcess {
    const p = new AlgdProcess(['start', '--config', configFile]);
    running.push(p);
    return p;
  }

  it('config check accepts a valid file and names the offending key of a bad one', () => {
    const ok = runAlgd(['config', 'check', configFile]);
    expect(ok).toMatchObject({ code: 0, stdout: `${configFile}: valid\n` });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ driver: 'memory', adapters: [{ name: 'x', type: 'outside' }], adminSocket: socket }));
    const r = runAlgd(['config', 'check', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`invalid configuration ${bad}:`);
    expect(r.stderr).toContain('adapters[0].type: must be one of "private", "boundary", "firewalled"');
  });

  it('start with a bad configuration exits 2 and installs nothing', () => {
    writeFileSync(configFile, JSON.stringify({ driver: 'memory', adapters: [], adminSocket: socket }));
    const r = runAlgd(['start', '--config', configFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('adapters:');
    expect(existsSync(socket)).toBe(false);
  });

  it('status --json answers while running, start refuses a second instance, SIGTERM cleans up and exits 0', async () => {
    const algd = start();
    await algd.waitForLog(/running/);
    expect(statSync(socket).mode & 0o777).toBe(0o600);

    const status = runAlgd(['status', '--json', '--config', configFile]);
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ service: 'algd', driver: 'memory', pid: algd.child.pid, listenerPorts: { from: 3000, to: 5000 } });
    expect(doc.driverStats).toEqual({ received: 0, accepted: 0, dropped: 0, modified: 0, errors: 0 });
    const plugins = doc.plugins as { name: string; state: string; builtin: boolean; captures: { protocol: string; port: number; listener: number }[] }[];
    expect(plugins.map((p) => [p.name, p.state, p.builtin, p.captures.map((c) => `${c.protocol}/${c.port}`)])).toEqual([
      ['ftp', 'enabled', true, ['tcp/21']],
      ['sip', 'disabled', true, []],
      ['rtsp', 'enabled', true, ['tcp/554']],
    ]);
    // Each capture has its own loopback listener in the configured range.
    for (const c of plugins.flatMap((p) => p.captures)) expect(c.listener).toBeGreaterThanOrEqual(3000);
    expect(doc.sessions).toEqual([]);
    expect(doc.adapters).toEqual([
      { name: 'priv0', type: 'private', addresses: ['198.51.100.1'], present: false },
      { name: 'pub0', type: 'boundary', addresses: ['203.0.113.1'], present: false },
    ]);

    const disabled = runAlgd(['plugins', 'disable', 'rtsp', '--config', configFile]);
    expect(disabled).toMatchObject({ code: 0, stdout: 'rtsp: disabled\n' });
    const enabled = runAlgd(['plugins', 'enable', 'rtsp', '--config', configFile]);
    expect(enabled).toMatchObject({ code: 0, stdout: 'rtsp: enabled, capturing tcp/554\n' });
    const unknown = runAlgd(['plugins', 'enable', 'gopher', '--config', configFile]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no plugin named "gopher" (known: ftp, sip, rtsp)');

    const second = runAlgd(['start', '--config', configFile]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('another algd is running');

    expect(await algd.stop('SIGTERM')).toBe(0);
    expect(existsSync(socket)).toBe(false);
    expect(algd.stderr).toMatch(/SIGTERM received, stopping[\s\S]*algd stopped/);
    const after = runAlgd(['status', '--json', '--config', configFile]);
    expect(after.code).toBe(3);
    expect(after.stdout).toBe('');
  });

  it('SIGINT stops it too, and a stale socket left by a crashed run is replaced', async () => {
    const crashed = start();
    await crashed.waitForLog(/running/);
    await crashed.stop('SIGKILL');
    expect(existsSync(socket)).toBe(true);

    const algd = start();
    await algd.waitForLog(/running/);
    expect(runAlgd(['status', '--config', configFile]).stdout).toMatch(/^algd .* driver memory/);
    expect(await algd.stop('SIGINT')).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });

  it('a second SIGTERM while stopping does not cut the cleanup short', async () => {
    const algd = start();
    await algd.waitForLog(/running/);
    algd.child.kill('SIGTERM');
    expect(await algd.stop('SIGTERM')).toBe(0);
    expect(existsSync(socket)).toBe(false);
    expect(algd.stderr).toMatch(/algd stopped/);
  });

  it('an unavailable driver is a clear start failure that leaves nothing behind', () => {
    writeFileSync(configFile, JSON.stringify({ driver: 'windivert', adapters: [{ name: 'a', type: 'private' }, { name: 'b', type: 'boundary' }], adminSocket: socket }));
    const r = runAlgd(['start', '--config', configFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('windivert');
    expect(existsSync(socket)).toBe(false);
  });
});
