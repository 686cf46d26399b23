import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { installPlan, PLUGINS_KEY, runCli, uninstallPlan, type InstallParams } from '../../../installer/windows/service-plan';
import { PLUGINS_KEY as SERVICE_READS_KEY } from '../../../host/service/windows/plugin-registry';

const repo = join(__dirname, '..', '..', '..');
const planScript = join(repo, 'installer', 'windows', 'service-plan.js');

const params: InstallParams = {
  serviceName: 'algd',
  installDir: 'C:\\Program Files\\algd',
  nodePath: 'C:\\Program Files\\nodejs\\node.exe',
  configPath: 'C:\\ProgramData\\algd\\algd.json',
  logDir: 'C:\\ProgramData\\algd\\logs',
  plugins: { sip: false, ftp: true, rtsp: true },
  config: { driver: 'windivert' },
};

describe('Windows service plan: the WinSW definition', () => {
  it('is exactly this for the default parameters (CRLF, UTF-8)', () => {
    expect(installPlan(params).serviceXml).toBe(
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!-- Written by algd's installer/windows/install.ps1; run it again rather than editing this file. -->",
        '<service>',
        '  <id>algd</id>',
        '  <name>algd (application-level gateway)</name>',
        '  <description>algd: FTP, SIP and RTSP through the NAT of Internet Connection Sharing. Rewrites the addresses in their control connections and opens the data channels they announce.</description>',
        '  <executable>C:\\Program Files\\nodejs\\node.exe</executable>',
        '  <arguments>"C:\\Program Files\\algd\\dist\\host\\cli\\algd.js" start --config "C:\\ProgramData\\algd\\algd.json"</arguments>',
        '  <workingdirectory>C:\\Program Files\\algd</workingdirectory>',
        '  <startmode>Automatic</startmode>',
        '  <depend>BFE</depend>',
        '  <stopparentprocessfirst>true</stopparentprocessfirst>',
        '  <stoptimeout>30 sec</stoptimeout>',
        '  <onfailure action="restart" delay="5 sec"/>',
        '  <onfailure action="restart" delay="30 sec"/>',
        '  <onfailure action="restart" delay="120 sec"/>',
        '  <resetfailure>1 hour</resetfailure>',
        '  <logpath>C:\\ProgramData\\algd\\logs</logpath>',
        '  <log mode="roll-by-size">',
        '    <sizeThreshold>10240</sizeThreshold>',
        '    <keepFiles>5</keepFiles>',
        '  </log>',
        '</service>',
        '',
      ].join('\r\n'),
    );
  });

  it('escapes XML in paths (& and \' are allowed in Windows names) and names the wrapper after the service', () => {
    const plan = installPlan({ ...params, serviceName: 'algd-test', installDir: 'D:\\R&D gw\\algd', configPath: "D:\\R&D gw\\it's.json" });
    expect(plan.serviceXml).toContain('  <id>algd-test</id>\r\n  <name>algd-test (application-level gateway)</name>\r\n');
    expect(plan.serviceXml).toContain('  <arguments>"D:\\R&amp;D gw\\algd\\dist\\host\\cli\\algd.js" start --config "D:\\R&amp;D gw\\it&apos;s.json"</arguments>\r\n');
    expect(plan.serviceXml).toContain('  <workingdirectory>D:\\R&amp;D gw\\algd</workingdirectory>\r\n');
    expect(plan).toMatchObject({
      serviceDir: 'D:\\R&D gw\\algd\\service',
      wrapperExe: 'D:\\R&D gw\\algd\\service\\algd-test.exe',
      wrapperXml: 'D:\\R&D gw\\algd\\service\\algd-test.xml',
      algdScript: 'D:\\R&D gw\\algd\\dist\\host\\cli\\algd.js',
    });
  });
});

describe('Windows service plan: registry, Event Log, WinDivert', () => {
  it('writes the Plugins key and one Enable DWORD per named plugin, in name order, in the 64-bit view', () => {
    expect(installPlan(params).registry).toEqual([
      { exe: 'reg.exe', args: ['add', 'HKLM\\SOFTWARE\\algd\\Plugins', '/f', '/reg:64'] },
      { exe: 'reg.exe', args: ['add', 'HKLM\\SOFTWARE\\algd\\Plugins\\ftp', '/v', 'Enable', '/t', 'REG_DWORD', '/d', '1', '/f', '/reg:64'] },
      { exe: 'reg.exe', args: ['add', 'HKLM\\SOFTWARE\\algd\\Plugins\\rtsp', '/v', 'Enable', '/t', 'REG_DWORD', '/d', '1', '/f', '/reg:64'] },
      { exe: 'reg.exe', args: ['add', 'HKLM\\SOFTWARE\\algd\\Plugins\\sip', '/v', 'Enable', '/t', 'REG_DWORD', '/d', '0', '/f', '/reg:64'] },
    ]);
  });

  it('writes the key the service reads', () => {
    expect(PLUGINS_KEY).toBe(SERVICE_READS_KEY);
  });

  it('registers the Event Log source through eventcreate, as algd writes to it', () => {
    expect(installPlan(params).eventLog).toEqual([
      { exe: 'eventcreate.exe', args: ['/L', 'APPLICATION', '/SO', 'algd', '/T', 'INFORMATION', '/ID', '1', '/D', 'algd service installed'] },
    ]);
    expect(installPlan({ ...params, config: { logging: { eventLog: { source: 'algd gateway' } } } }).eventLogSource).toBe('algd gateway');
  });

  it("limits %ProgramData%\\algd, where the admin key lives, to Administrators and SYSTEM by their SIDs", () => {
    const plan = installPlan({ ...params, programData: 'D:\\Data' });
    expect(plan.keyDir).toBe('D:\\Data\\algd');
    expect(plan.keyDirAccess).toEqual([
      { exe: 'icacls.exe', args: ['D:\\Data\\algd', '/inheritance:r', '/grant:r', '*S-1-5-32-544:(OI)(CI)F', '*S-1-5-18:(OI)(CI)F'] },
    ]);
  });

  it('looks for WinDivert next to node.exe by default, as algd does, else where the configuration or the parameter says', () => {
    expect(installPlan(params).winDivertFiles).toEqual(['C:\\Program Files\\nodejs\\WinDivert.dll', 'C:\\Program Files\\nodejs\\WinDivert64.sys']);
    expect(installPlan({ ...params, config: { windivert: { path: 'C:\\WinDivert-2.2.2-A\\x64' } } }).winDivertFiles).toEqual([
      'C:\\WinDivert-2.2.2-A\\x64\\WinDivert.dll',
      'C:\\WinDivert-2.2.2-A\\x64\\WinDivert64.sys',
    ]);
    expect(installPlan({ ...params, winDivertPath: 'E:\\wd' }).winDivertPath).toBe('E:\\wd');
    // Paths compare as Windows compares them: case-insensitively.
    expect(installPlan({ ...params, winDivertPath: 'e:\\WD', config: { windivert: { path: 'E:\\wd' } } }).winDivertPath).toBe('e:\\WD');
  });

  it('removes the algd key and the Event Log source on uninstall, each only when it exists', () => {
    expect(uninstallPlan({ serviceName: 'algd', installDir: 'C:\\Program Files\\algd' })).toEqual({
      serviceName: 'algd',
      serviceDir: 'C:\\Program Files\\algd\\service',
      wrapperExe: 'C:\\Program Files\\algd\\service\\algd.exe',
      wrapperXml: 'C:\\Program Files\\algd\\service\\algd.xml',
      registry: [
        { exe: 'reg.exe', args: ['delete', 'HKLM\\SOFTWARE\\algd', '/f', '/reg:64'], onlyIf: { exe: 'reg.exe', args: ['query', 'HKLM\\SOFTWARE\\algd', '/reg:64'] } },
        {
          exe: 'reg.exe',
          args: ['delete', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\algd', '/f', '/reg:64'],
          onlyIf: { exe: 'reg.exe', args: ['query', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\algd', '/reg:64'] },
        },
      ],
    });
  });
});

describe('Windows service plan: refused parameters', () => {
  it.each([
    [{ serviceName: 'my service' }, 'ServiceName: "my service" is not a service name (a letter, then letters, digits, "_" or "-", at most 80)'],
    [{ serviceName: '' }, 'ServiceName: "" is not a service name (a letter, then letters, digits, "_" or "-", at most 80)'],
    [{ installDir: 'algd' }, 'InstallDir: "algd" is not an absolute Windows path (X:\\folder\\..., no quotes, no trailing backslash)'],
    [{ installDir: 'C:\\algd\\' }, 'InstallDir: "C:\\\\algd\\\\" is not an absolute Windows path (X:\\folder\\..., no quotes, no trailing backslash)'],
    [{ configPath: 'C:\\a" --x "b.json' }, 'ConfigPath: "C:\\\\a\\" --x \\"b.json" is not an absolute Windows path (X:\\folder\\..., no quotes, no trailing backslash)'],
    [{ nodePath: '\\\\server\\share\\node.exe' }, 'NodePath: "\\\\\\\\server\\\\share\\\\node.exe" is not an absolute Windows path (X:\\folder\\..., no quotes, no trailing backslash)'],
    [{ logDir: 'C:\\logs\nx' }, 'LogDir: "C:\\\\logs\\nx" is not an absolute Windows path (X:\\folder\\..., no quotes, no trailing backslash)'],
    [{ plugins: { FTP: true } }, 'plugin "FTP": plugin names are lower-case letters, digits, ".", "_", "-"'],
    [{ eventLogSource: '/SO' }, 'EventLogSource: "/SO" is not an event source name (letters, digits, space . _ -, at most 64)'],
    [{ config: { driver: 'nfqueue' } }, 'the configuration\'s driver is "nfqueue": a Windows service needs "windivert"'],
    [
      { winDivertPath: 'C:\\wd', config: { windivert: { path: 'D:\\wd' } } },
      'WinDivertPath "C:\\\\wd" differs from windivert.path "D:\\\\wd" in the configuration: make them the same, or leave WinDivertPath out',
    ],
    [
      { eventLogSource: 'algd', config: { logging: { eventLog: { source: 'gateway' } } } },
      'EventLogSource "algd" differs from logging.eventLog.source "gateway" in the configuration: make them the same, or leave EventLogSource out',
    ],
  ] as [Partial<InstallParams>, string][])('%j', (change, message) => {
    expect(() => installPlan({ ...params, ...change })).toThrow(message);
  });
});

describe('service-plan.js command line (what install.ps1 runs)', () => {
  const run = (args: string[], plan: string | undefined) =>
    spawnSync(process.execPath, [planScript, ...args], { encoding: 'utf8', timeout: 10_000, env: { PATH: process.env['PATH'], ...(plan === undefined ? {} : { ALGD_SERVICE_PLAN: plan }) } });

  it('prints the install plan as JSON, from parameters in ALGD_SERVICE_PLAN', () => {
    const r = run(['install'], JSON.stringify(params));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(installPlan(params))));
  });

  it('prints the uninstall plan', () => {
    const r = run(['uninstall'], JSON.stringify({ serviceName: 'algd', installDir: 'C:\\algd' }));
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).wrapperExe).toBe('C:\\algd\\service\\algd.exe');
  });

  it.each([
    [['install'], undefined, 'ALGD_SERVICE_PLAN is not set'],
    [['install'], '{not json', 'ALGD_SERVICE_PLAN is not JSON: '],
    [['install'], '[]', 'ALGD_SERVICE_PLAN must be a JSON object'],
    [['install'], JSON.stringify({ ...params, serviceName: 'a b' }), 'ServiceName: "a b" is not a service name'],
    [['remove'], '{}', 'usage: node service-plan.js install|uninstall (parameters as JSON in ALGD_SERVICE_PLAN)'],
    [[], '{}', 'usage: node service-plan.js install|uninstall'],
  ] as [string[], string | undefined, string][])('%j with %s: exit 2 and a JSON error', (args, plan, message) => {
    const r = run(args, plan);
    expect(r.status).toBe(2);
    const out = JSON.parse(r.stdout) as { error: string };
    expect(out.error.startsWith(message)).toBe(true);
    // The same function the scripts' command line runs, in process.
    expect(runCli(args, plan === undefined ? {} : { ALGD_SERVICE_PLAN: plan })).toEqual({ code: 2, output: r.stdout });
  });
});

describe('service-plan.js types', () => {
  it('type-checks against its declarations (installer/tsconfig.json, checkJs)', () => {
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(repo, 'installer', 'tsconfig.json')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
