// @ts-check
'use strict';
/**
 * Everything install.ps1 and uninstall.ps1 write or run, computed in one
 * place: the WinSW service definition (XML), the registry commands (per-plugin
 * Enable flags), the Event Log source registration, and the file locations.
 * The scripts only check the machine, run this with Node (which algd needs
 * anyway) and carry out the plan; so the plan is what the unit tests check
 * (test/unit/installer), since PowerShell cannot run there.
 *
 * Plain JavaScript on purpose: it runs from an unpacked algd folder with the
 * Node that runs algd, without a build step. Types: service-plan-types.d.ts; declarations for TypeScript callers: service-plan.d.ts.
 *
 * Command line: `node service-plan.js install|uninstall` reads its parameters
 * as JSON from the environment variable ALGD_SERVICE_PLAN (no quoting
 * through PowerShell's native-command argument passing) and prints the plan
 * as JSON; a bad parameter prints `{"error": "..."}` and exits 2.
 */

const { win32 } = require('node:path');

/** The registry key of algd's settings; plugin-registry.ts reads Plugins\<name> under it. */
const REGISTRY_KEY = 'HKLM\\SOFTWARE\\algd';
const PLUGINS_KEY = `${REGISTRY_KEY}\\Plugins`;
/** Where Windows keeps the sources of the Application log. */
const EVENT_SOURCES_KEY = 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application';
const DEFAULT_EVENT_SOURCE = 'algd';

/** Windows service names: a letter, then letters, digits, `_`, `-` (no spaces, no `/` or `\`, which SCM forbids). */
const SERVICE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,79}$/;
/** Plugin names as the configuration accepts them (host/config/config-schema.ts). */
const PLUGIN_NAME = /^[a-z0-9][a-z0-9._-]*$/;
/** Event sources as algd's Event Log transport accepts them (host/logging/event-log-transport.ts). */
const EVENT_SOURCE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
/**
 * An absolute local path `X:\...`, without `"` (it is quoted in the service's
 * command line), control characters, or a trailing `\` (which would escape
 * that closing quote), and none of the characters Windows forbids in names.
 */
const WINDOWS_PATH = /^[A-Za-z]:\\(?:[^\\/:*?"<>|\x00-\x1f]+\\)*[^\\/:*?"<>|\x00-\x1f]+$/;

class PlanError extends Error {}

/**
 * @param {string} what
 * @param {unknown} value
 * @returns {string}
 */
function windowsPath(what, value) {
  if (typeof value !== 'string' || !WINDOWS_PATH.test(value)) {
    throw new PlanError(`${what}: ${JSON.stringify(value)} is not an absolute Windows path (X:\\folder\\..., no quotes, no trailing backslash)`);
  }
  return value;
}

/**
 * @param {unknown} value
 * @returns {string}
 */
function serviceName(value) {
  if (typeof value !== 'string' || !SERVICE_NAME.test(value)) {
    throw new PlanError(`ServiceName: ${JSON.stringify(value)} is not a service name (a letter, then letters, digits, "_" or "-", at most 80)`);
  }
  return value;
}

/**
 * @param {unknown} value
 * @returns {string}
 */
function eventSource(value) {
  if (typeof value !== 'string' || !EVENT_SOURCE.test(value)) {
    throw new PlanError(`EventLogSource: ${JSON.stringify(value)} is not an event source name (letters, digits, space . _ -, at most 64)`);
  }
  return value;
}

/**
 * XML character data and attribute values.
 * @param {string} s
 */
function xml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/**
 * The configuration's value for a setting the installer also takes as a
 * parameter: they must agree, or the installer would check one folder and
 * algd load from another.
 * @template T
 * @param {string} parameter
 * @param {string} configKey
 * @param {T | undefined} fromParams
 * @param {T | undefined} fromConfig
 * @param {T} fallback
 * @returns {T}
 */
function agreed(parameter, configKey, fromParams, fromConfig, fallback) {
  if (fromParams !== undefined && fromConfig !== undefined && String(fromParams).toLowerCase() !== String(fromConfig).toLowerCase()) {
    throw new PlanError(`${parameter} ${JSON.stringify(fromParams)} differs from ${configKey} ${JSON.stringify(fromConfig)} in the configuration: make them the same, or leave ${parameter} out`);
  }
  return fromParams ?? fromConfig ?? fallback;
}

/**
 * @param {import('./service-plan-types').InstallParams} p
 * @returns {import('./service-plan-types').InstallPlan}
 */
function installPlan(p) {
  const name = serviceName(p.serviceName);
  const installDir = windowsPath('InstallDir', p.installDir);
  const nodePath = windowsPath('NodePath', p.nodePath);
  const configPath = windowsPath('ConfigPath', p.configPath);
  const logDir = windowsPath('LogDir', p.logDir);
  const config = p.config ?? {};
  if (config.driver !== undefined && config.driver !== 'windivert') {
    throw new PlanError(`the configuration's driver is "${config.driver}": a Windows service needs "windivert"`);
  }
  const winDivertPath = windowsPath(
    'WinDivertPath',
    agreed('WinDivertPath', 'windivert.path', p.winDivertPath, config.windivert?.path, win32.dirname(nodePath)),
  );
  const source = eventSource(agreed('EventLogSource', 'logging.eventLog.source', p.eventLogSource, config.logging?.eventLog?.source, DEFAULT_EVENT_SOURCE));

  const plugins = p.plugins ?? {};
  for (const plugin of Object.keys(plugins)) {
    if (!PLUGIN_NAME.test(plugin)) throw new PlanError(`plugin ${JSON.stringify(plugin)}: plugin names are lower-case letters, digits, ".", "_", "-"`);
    if (typeof plugins[plugin] !== 'boolean') throw new PlanError(`plugin ${plugin}: enabled must be true or false`);
  }

  const serviceDir = win32.join(installDir, 'service');
  const algdScript = win32.join(installDir, 'dist', 'host', 'cli', 'algd.js');
  // WinSW finds its definition by its own file name: <name>.exe reads <name>.xml next to it.
  const wrapperExe = win32.join(serviceDir, `${name}.exe`);
  const wrapperXml = win32.join(serviceDir, `${name}.xml`);

  const serviceXml = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!-- Written by algd\'s installer/windows/install.ps1; run it again rather than editing this file. -->',
    '<service>',
    `  <id>${xml(name)}</id>`,
    `  <name>${xml(name)} (application-level gateway)</name>`,
    '  <description>algd: FTP, SIP and RTSP through the NAT of Internet Connection Sharing. Rewrites the addresses in their control connections and opens the data channels they announce.</description>',
    `  <executable>${xml(nodePath)}</executable>`,
    `  <arguments>"${xml(algdScript)}" start --config "${xml(configPath)}"</arguments>`,
    `  <workingdirectory>${xml(installDir)}</workingdirectory>`,
    '  <startmode>Automatic</startmode>',
    // WinDivert is a WFP callout driver: the Base Filtering Engine must run first.
    '  <depend>BFE</depend>',
    // Ctrl+C reaches algd (SIGINT) first, so it removes its filter and mappings before anything is killed.
    '  <stopparentprocessfirst>true</stopparentprocessfirst>',
    '  <stoptimeout>30 sec</stoptimeout>',
    '  <onfailure action="restart" delay="5 sec"/>',
    '  <onfailure action="restart" delay="30 sec"/>',
    '  <onfailure action="restart" delay="120 sec"/>',
    '  <resetfailure>1 hour</resetfailure>',
    `  <logpath>${xml(logDir)}</logpath>`,
    '  <log mode="roll-by-size">',
    '    <sizeThreshold>10240</sizeThreshold>',
    '    <keepFiles>5</keepFiles>',
    '  </log>',
    '</service>',
    '',
  ].join('\r\n');

  /** @type {import('./service-plan-types').Command[]} */
  const registry = [
    // The Plugins key exists even with no flags, so the service's reg.exe query finds it.
    { exe: 'reg.exe', args: ['add', PLUGINS_KEY, '/f', '/reg:64'] },
    ...Object.keys(plugins)
      .sort()
      .map((plugin) => ({ exe: 'reg.exe', args: ['add', `${PLUGINS_KEY}\\${plugin}`, '/v', 'Enable', '/t', 'REG_DWORD', '/d', plugins[plugin] ? '1' : '0', '/f', '/reg:64'] })),
  ];
  // eventcreate registers the source the way algd's Event Log transport (eventcreate) needs it: a source
  // registered by .NET's CreateEventSource instead would make every later eventcreate fail.
  const eventLog = [{ exe: 'eventcreate.exe', args: ['/L', 'APPLICATION', '/SO', source, '/T', 'INFORMATION', '/ID', '1', '/D', `${name} service installed`] }];
  // The admin API's key lives here (host/admin/admin-protocol.ts): Node cannot limit a named pipe to
  // Administrators, so the folder's access list does. S-1-5-32-544 is Administrators, S-1-5-18 SYSTEM.
  const keyDir = win32.join(windowsPath('ProgramData', p.programData ?? process.env['ProgramData'] ?? 'C:\\ProgramData'), 'algd');
  const keyDirAccess = [{ exe: 'icacls.exe', args: [keyDir, '/inheritance:r', '/grant:r', '*S-1-5-32-544:(OI)(CI)F', '*S-1-5-18:(OI)(CI)F'] }];

  return {
    serviceName: name,
    serviceDir,
    wrapperExe,
    wrapperXml,
    serviceXml,
    algdScript,
    winDivertPath,
    winDivertFiles: [win32.join(winDivertPath, 'WinDivert.dll'), win32.join(winDivertPath, 'WinDivert64.sys')],
    eventLogSource: source,
    logDir,
    registry,
    eventLog,
    keyDir,
    keyDirAccess,
  };
}

/**
 * @param {import('./service-plan-types').UninstallParams} p
 * @returns {import('./service-plan-types').UninstallPlan}
 */
function uninstallPlan(p) {
  const name = serviceName(p.serviceName);
  const installDir = windowsPath('InstallDir', p.installDir);
  const source = eventSource(p.eventLogSource ?? DEFAULT_EVENT_SOURCE);
  const serviceDir = win32.join(installDir, 'service');
  return {
    serviceName: name,
    serviceDir,
    wrapperExe: win32.join(serviceDir, `${name}.exe`),
    wrapperXml: win32.join(serviceDir, `${name}.xml`),
    // Each delete only when its key exists (reg.exe fails on a missing key), so uninstalling twice is not an error.
    registry: [REGISTRY_KEY, `${EVENT_SOURCES_KEY}\\${source}`].map((key) => ({
      exe: 'reg.exe',
      args: ['delete', key, '/f', '/reg:64'],
      onlyIf: { exe: 'reg.exe', args: ['query', key, '/reg:64'] },
    })),
  };
}

/**
 * The command line: `install` or `uninstall`, parameters from ALGD_SERVICE_PLAN.
 * @param {readonly string[]} argv
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ code: number, output: string }}
 */
function runCli(argv, env) {
  try {
    const mode = argv[0];
    if (argv.length !== 1 || (mode !== 'install' && mode !== 'uninstall')) throw new PlanError('usage: node service-plan.js install|uninstall (parameters as JSON in ALGD_SERVICE_PLAN)');
    const raw = env['ALGD_SERVICE_PLAN'];
    if (raw === undefined || raw === '') throw new PlanError('ALGD_SERVICE_PLAN is not set');
    let params;
    try {
      params = JSON.parse(raw);
    } catch (err) {
      throw new PlanError(`ALGD_SERVICE_PLAN is not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new PlanError('ALGD_SERVICE_PLAN must be a JSON object');
    const plan = mode === 'install' ? installPlan(params) : uninstallPlan(params);
    return { code: 0, output: `${JSON.stringify(plan)}\n` };
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    return { code: 2, output: `${JSON.stringify({ error: err.message })}\n` };
  }
}

module.exports = { installPlan, uninstallPlan, runCli, PlanError, REGISTRY_KEY, PLUGINS_KEY };

if (require.main === module) {
  const { code, output } = runCli(process.argv.slice(2), process.env);
  process.stdout.write(output);
  process.exitCode = code;
}
