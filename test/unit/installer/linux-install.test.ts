import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeIfTool } from '../../support/require-tool';

/**
 * installer/linux/install.sh, run for real: `unit` prints the unit it would
 * write, `--dry-run` what it would do; systemd-analyze checks the unit.
 * The script validates the configuration with the built algd (dist/).
 */
const repo = join(__dirname, '..', '..', '..');
const script = join(repo, 'installer', 'linux', 'install.sh');
const node = process.execPath;

let dir: string;
beforeAll(() => {
  // Under /tmp with mode 0755: the service's own user must be able to read the configuration.
  dir = mkdtempSync(join(tmpdir(), 'algd-installer-'));
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const baseConfig = {
  driver: 'nfqueue',
  adapters: [
    { name: 'eth1', type: 'private' },
    { name: 'eth0', type: 'boundary' },
  ],
  adminSocket: '/run/algd/algd.sock',
};
function writeConfig(name: string, content: unknown, mode = 0o644): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(file, mode);
  return file;
}

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(script, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The unit for `--prefix /opt/algd --node <this node> --config <config>`, with the given directory lines. */
function expectedUnit(config: string, runtimeDir: string, logs: string[]): string {
  return [
    '# algd, the application-level gateway, as a systemd service.',
    '# Written by /opt/algd/installer/linux/install.sh from installer/linux/algd.service.in;',
    '# run the installer again rather than editing this file.',
    '[Unit]',
    'Description=algd application-level gateway (FTP, SIP, RTSP through the NAT)',
    'Documentation=file:/opt/algd/README.md file:/opt/algd/installer/README.md',
    "# After the administrator's firewall, so algd's chains and table go on top of it.",
    'After=network-online.target nftables.service',
    'Wants=network-online.target',
    'StartLimitIntervalSec=10min',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${node} /opt/algd/dist/host/cli/algd.js start --config ${config}`,
    '# algd reloads its configuration on SIGHUP (what needs a restart is logged).',
    'ExecReload=kill -HUP $MAINPID',
    '# algd removes its rules, table and sysctl changes on SIGTERM; only the main',
    '# process gets it (its iptables/nft children are still at work then), and',
    '# everything left is killed only when the stop times out.',
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=30s',
    'Restart=on-failure',
    'RestartSec=5s',
    '# Exit code 2 is a bad configuration: restarting cannot fix it.',
    'RestartPreventExitStatus=2',
    '',
    '# A user of its own, made up for each run; the one capability algd uses:',
    '# netfilter rules and queues, conntrack, net.ipv4.conf.*.route_localnet,',
    '# a large receive buffer on the queue socket (SO_RCVBUFFORCE).',
    'DynamicUser=yes',
    'CapabilityBoundingSet=CAP_NET_ADMIN',
    'AmbientCapabilities=CAP_NET_ADMIN',
    'NoNewPrivileges=yes',
    '',
    '# The admin socket and the route_localnet state file. Kept across restarts:',
    '# after a crash, the next start restores route_localnet from that file.',
    `RuntimeDirectory=${runtimeDir}`,
    'RuntimeDirectoryMode=0755',
    'RuntimeDirectoryPreserve=yes',
    ...logs,
    'UMask=0077',
    '',
    '# Read-only everywhere else. Not ProtectKernelTunables: algd writes',
    '# /proc/sys/net/ipv4/conf/<private adapter>/route_localnet.',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'PrivateMounts=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'RemoveIPC=yes',
    '# Netlink for the queue, iptables, nft and conntrack; Unix for the admin',
    '# socket and the namespace lock; IPv4/IPv6 for the relayed connections.',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallErrorNumber=EPERM',
    "# Not MemoryDenyWriteExecute: Node's JIT needs writable executable memory.",
    '# Two sockets per control session, 20000 sessions by default.',
    'LimitNOFILE=65536',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

describe('install.sh unit: the systemd unit it writes', () => {
  it('is exactly this for a configuration without a log file', () => {
    const config = writeConfig('plain.json', baseConfig);
    const r = run('unit', '--prefix', '/opt/algd', '--node', node, '--config', config);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expectedUnit(config, 'algd', ['# No logging.file.path: algd logs to the journal only.']));
  });

  it('takes the runtime and log folders from the configuration', () => {
    const config = writeConfig('logged.json', { ...baseConfig, adminSocket: '/run/algd-gw/admin/algd.sock', logging: { file: { path: '/var/log/algd/gw/algd.log' } } });
    const r = run('unit', '--prefix', '/opt/algd', '--node', node, '--config', config);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expectedUnit(config, 'algd-gw/admin', ['# The log file of logging.file.path.', 'LogsDirectory=algd/gw', 'LogsDirectoryMode=0750']));
  });
});

describeIfTool('systemd-analyze', 'systemd-analyze on the generated unit', () => {
  const unitFile = (name: string, config: unknown): string => {
    const r = run('unit', '--prefix', '/opt/algd', '--node', node, '--config', writeConfig(`${name}.json`, config));
    expect(r.code).toBe(0);
    const unitDir = join(dir, name);
    mkdirSync(unitDir);
    const file = join(unitDir, 'algd.service');
    writeFileSync(file, r.stdout);
    return file;
  };
  const analyze = (...args: string[]) => spawnSync('systemd-analyze', args, { encoding: 'utf8', timeout: 60_000 });

  it.each([
    ['journal', baseConfig],
    ['logfile', { ...baseConfig, logging: { file: { path: '/var/log/algd/algd.log' } } }],
  ])('verify reports nothing on the unit (%s)', (name, config) => {
    const r = analyze('verify', '--man=no', unitFile(name, config));
    // verify exits 0 on warnings such as an unknown key: any output is a problem.
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('verify does report a broken unit (the check can fail)', () => {
    const file = unitFile('broken', baseConfig);
    writeFileSync(file, readFileSync(file, 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=strictly'));
    expect(analyze('verify', '--man=no', file).stderr).toContain('Failed to parse protect system value, ignoring: strictly');
  });

  it("security rates the unit's exposure at most 2.5 of 10", () => {
    const r = analyze('security', '--offline=true', '--threshold=25', '--no-pager', unitFile('security', baseConfig));
    expect(r.stdout).toMatch(/Overall exposure level for algd\.service: [0-2]\.\d OK/);
    expect(r.status).toBe(0);
  });
});

describe('install.sh command line', () => {
  const usageHint = "Try 'install.sh --help'.\n";

  it('--help prints the usage with the exit codes and exits 0', () => {
    const r = run('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: install\.sh install {3}\[--prefix DIR\] \[--config FILE\] \[--node PATH\] \[--no-start\] \[--dry-run\]\n/);
    expect(r.stdout).toContain('Exit codes: 0 done, 1 a step failed, 2 bad command line or configuration\n');
    expect(run('install', '--help')).toEqual(r);
  });

  it.each([
    [[], 'an action is required: install, uninstall or unit'],
    [['setup'], "unknown action 'setup'"],
    [['install', '--force'], "unknown option '--force'"],
    [['install', '--prefix'], '--prefix needs a value'],
    [['install', '--prefix', ''], '--prefix needs a value'],
    [['install', '--prefix=/opt/x'], "write '--prefix VALUE', not '--prefix=/opt/x'"],
    [['install', '--prefix', 'opt/algd'], "--prefix must be an absolute path of letters, digits and . _ / + - (got 'opt/algd')"],
    [['install', '--prefix', '/opt/my algd'], "--prefix must be an absolute path of letters, digits and . _ / + - (got '/opt/my algd')"],
    [['install', '--prefix', '/opt/$HOME'], "--prefix must be an absolute path of letters, digits and . _ / + - (got '/opt/$HOME')"],
    [['install', '--prefix', '/opt/../etc'], "--prefix must not contain . or .. segments (got '/opt/../etc')"],
    [['install', '--prefix', '/'], '--prefix must not be /'],
    [['uninstall', '--config', '/etc/algd/algd.json'], 'uninstall does not take --config'],
    [['unit', '--dry-run'], 'unit does not take --dry-run'],
  ])('%j: exit 2, says why', (args, message) => {
    const r = run(...args);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `install.sh: ${message}\n${usageHint}` });
  });

  it.each([
    ['a missing file', () => join(dir, 'missing.json'), (f: string) => `--config ${f} does not exist: write the configuration first (README.md, Configuration)`],
    ['a file others cannot read', () => writeConfig('secret.json', baseConfig, 0o600), (f: string) => `${f} is not readable by others (mode 600): the service runs as its own user (DynamicUser=yes); chmod o+r it`],
    [
      'an admin socket outside /run',
      () => writeConfig('sock.json', { ...baseConfig, adminSocket: '/var/lib/algd/algd.sock' }),
      () => 'adminSocket /var/lib/algd/algd.sock must be in a folder under /run (e.g. /run/algd/algd.sock): the service writes nowhere else',
    ],
    [
      'a log file outside /var/log',
      () => writeConfig('log.json', { ...baseConfig, logging: { file: { path: '/srv/algd.log' } } }),
      () => 'logging.file.path /srv/algd.log must be in a folder under /var/log (e.g. /var/log/algd/algd.log): the service writes nowhere else',
    ],
    ['another driver', () => writeConfig('wd.json', { ...baseConfig, driver: 'windivert' }), () => "the configuration's driver is 'windivert': the systemd service runs the nfqueue driver"],
    ['a home folder', () => '/root/algd.json', () => '--config /root/algd.json is under /home, /root or /run/user, which the service cannot see (ProtectHome=yes)'],
  ] as [string, () => string, (f: string) => string][])('a configuration that cannot work, %s: exit 2, says why', (_what, make, message) => {
    const file = make();
    const r = run('install', '--dry-run', '--node', node, '--config', file);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`install.sh: ${message(file)}\n`);
  });

  it('an invalid configuration: exit 2, with algd config check naming the key', () => {
    const file = writeConfig('invalid.json', { ...baseConfig, listenerPorts: { from: 5000, to: 3000 } });
    const r = run('install', '--dry-run', '--node', node, '--config', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('listenerPorts');
    expect(r.stderr.endsWith(`install.sh: the configuration ${file} is not valid (algd config check says why, above)\n`)).toBe(true);
  });

  it('a Node.js that is not there: exit 3', () => {
    expect(run('unit', '--node', '/usr/bin/no-such-node', '--config', writeConfig('n.json', baseConfig))).toEqual({
      code: 3,
      stdout: '',
      stderr: 'install.sh: --node /usr/bin/no-such-node is not an executable\n',
    });
  });
});

describe('install.sh --dry-run', () => {
  it('install: prints every step and the unit, changes nothing', () => {
    const config = writeConfig('dry.json', baseConfig);
    const prefix = join(dir, 'prefix');
    const r = run('install', '--dry-run', '--prefix', prefix, '--node', node, '--config', config, '--no-start');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const unit = readFileSync(join(repo, 'installer', 'linux', 'algd.service.in'), 'utf8'); // only to count its lines
    const lines = r.stdout.split('\n');
    const payload = ['package.json', 'README.md', 'dist', 'node_modules', 'sdk', 'plugins', 'installer'];
    expect(lines.slice(0, 13)).toEqual([
      'install.sh: dry run, nothing is changed',
      `would run: rm -rf ${prefix}`,
      `would run: mkdir -p ${prefix}`,
      ...payload.map((item) => `would run: cp -a ${repo}/${item} ${prefix}/`),
      `would run: touch ${prefix}/.algd-installed`,
      `would run: chmod 0755 ${prefix}/dist/host/cli/algd.js`,
      `would run: ln -sfn ${prefix}/dist/host/cli/algd.js /usr/local/bin/algd`,
    ]);
    expect(lines[13]).toBe('would write /etc/systemd/system/algd.service:');
    const unitLines = unit.split('\n').length - 1;
    expect(lines.slice(14, 14 + unitLines).join('\n') + '\n').toBe(
      expectedUnit(config, 'algd', ['# No logging.file.path: algd logs to the journal only.'])
        .replaceAll('/opt/algd', prefix)
        .split('\n')
        .map((l, i, all) => (i === all.length - 1 ? l : `  ${l}`))
        .join('\n'),
    );
    expect(lines.slice(14 + unitLines)).toEqual([
      'would run: systemctl daemon-reload',
      'would run: systemctl enable algd.service',
      `algd installed; status: algd status --config ${config}`,
      '',
    ]);
    expect(existsSync(prefix)).toBe(false);
  });

  it('install: refuses a prefix it did not write', () => {
    const prefix = join(dir, 'someone-elses');
    mkdirSync(prefix);
    const r = run('install', '--dry-run', '--prefix', prefix, '--node', node, '--config', writeConfig('p.json', baseConfig));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`install.sh: ${prefix} exists and was not written by this installer: choose another --prefix or remove it\n`);
  });

  it('uninstall: removes only a prefix install wrote', () => {
    const mine = join(dir, 'installed');
    mkdirSync(mine);
    writeFileSync(join(mine, '.algd-installed'), '');
    const unitPresent = existsSync('/etc/systemd/system/algd.service');
    const unitLines = unitPresent
      ? ['would run: systemctl disable --now algd.service', 'would run: rm -f /etc/systemd/system/algd.service', 'would run: systemctl daemon-reload']
      : ['no /etc/systemd/system/algd.service: no service to remove'];
    expect(run('uninstall', '--dry-run', '--prefix', mine)).toEqual({
      code: 0,
      stderr: '',
      stdout: ['install.sh: dry run, nothing is changed', ...unitLines, `would run: rm -rf ${mine}`, 'algd removed; the configuration and the logs are kept', ''].join('\n'),
    });
    const other = join(dir, 'someone-elses-too');
    mkdirSync(other);
    expect(run('uninstall', '--dry-run', '--prefix', other).stdout).toContain(`${other} was not written by this installer: left in place\n`);
    expect(existsSync(mine) && existsSync(other)).toBe(true);
  });
});
