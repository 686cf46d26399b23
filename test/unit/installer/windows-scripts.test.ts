import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installPlan, uninstallPlan } from '../../../installer/windows/service-plan';

/**
 * PowerShell cannot run here, so the scripts are checked statically: their
 * param() blocks against the parameter tables of installer/README.md, and
 * every plan field they read against what service-plan.js returns.
 */
const installer = join(__dirname, '..', '..', '..', 'installer');
const readme = readFileSync(join(installer, 'README.md'), 'utf8');
const scriptText = (name: string) => readFileSync(join(installer, 'windows', name), 'utf8');

interface Param {
  name: string;
  type: string;
  mandatory: boolean;
  default?: string;
}

/** The parameters of a script's top-level `param( ... )` block: `[attrs][type]$Name = default`, one per line. */
function paramBlock(script: string): Param[] {
  const block = /^param\(\n([\s\S]*?)\n\)$/m.exec(script);
  if (block === null) throw new Error('no param( ... ) block');
  return block[1]!.split('\n').map((line) => {
    const m = /^ {2}(\[Parameter\(Mandatory = \$true\)\])?\[(string|string\[\]|switch)\]\$([A-Za-z]+)(?: = (.+?))?,?$/.exec(line);
    if (m === null) throw new Error(`unexpected parameter line: ${line}`);
    return { name: m[3]!, type: m[2]!, mandatory: m[1] !== undefined, ...(m[4] === undefined ? {} : { default: m[4] }) };
  });
}

/** Rows of the README table under `### <title>`: parameter, type, default. */
function documented(title: string): { name: string; type: string; default: string }[] {
  const section = readme.split(`### ${title}\n`)[1];
  if (section === undefined) throw new Error(`README has no section "${title}"`);
  const rows = section.trim().split('\n\n')[0]!.split('\n').slice(2);
  return rows.map((row) => {
    const cells = row.split(' | ').map((c) => c.replace(/^\| /, '').trim());
    return { name: cells[0]!.replace(/^`-(.*)`$/, '$1'), type: cells[1]!, default: cells[2]! };
  });
}

/** A PowerShell default as the README writes it. */
function shownDefault(p: Param): string | undefined {
  if (p.mandatory) return 'required';
  if (p.type === 'switch') return 'off';
  if (p.default === undefined) return undefined;
  if (p.default === "''") return undefined; // computed by the script; the README says how
  if (p.default === '@()') return 'none';
  const list = /^@\((.*)\)$/.exec(p.default);
  if (list !== null) return list[1]!.split(', ').map((s) => '`' + s.replace(/'/g, '') + '`').join(', ');
  return '`' + p.default.replace(/^'(.*)'$/, '$1') + '`';
}

describe.each([
  ['install.ps1', 'install.ps1 parameters'],
  ['uninstall.ps1', 'uninstall.ps1 parameters'],
])('%s', (script, section) => {
  const params = paramBlock(scriptText(script));
  const docs = documented(section);

  it('declares exactly the documented parameters, in the documented order, with their types', () => {
    expect(params.map((p) => [p.name, p.type])).toEqual(docs.map((d) => [d.name, d.type]));
  });

  it('has the documented defaults', () => {
    for (const p of params) {
      const shown = shownDefault(p);
      const doc = docs.find((d) => d.name === p.name)!;
      if (shown === undefined) expect([p.name, doc.default]).not.toEqual([p.name, 'none']);
      else expect([p.name, doc.default]).toEqual([p.name, shown]);
    }
  });

  it('stops on errors and checks administrator rights', () => {
    const text = scriptText(script);
    expect(text).toContain("$ErrorActionPreference = 'Stop'");
    expect(text).toContain('IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)');
    expect(text).toContain('$ExitOk = 0; $ExitFailed = 1; $ExitUsage = 2; $ExitPrerequisite = 3');
  });
});

describe('plan fields the scripts read', () => {
  const plan = installPlan({
    serviceName: 'algd',
    installDir: 'C:\\algd',
    nodePath: 'C:\\node\\node.exe',
    configPath: 'C:\\algd.json',
    logDir: 'C:\\logs',
  });
  const used = (script: string) => [...new Set([...scriptText(script).matchAll(/\$plan\.([A-Za-z]+)/g)].map((m) => m[1]!))].sort();

  it('install.ps1 reads only fields of the install plan', () => {
    const fields = used('install.ps1');
    expect(fields.length).toBeGreaterThan(5);
    expect(fields.filter((f) => !(f in plan) && f !== 'error')).toEqual([]);
  });

  it('uninstall.ps1 reads only fields of the uninstall plan', () => {
    const fields = used('uninstall.ps1');
    expect(fields.length).toBeGreaterThan(3);
    expect(fields.filter((f) => !(f in uninstallPlan({ serviceName: 'algd', installDir: 'C:\\algd' })) && f !== 'error')).toEqual([]);
  });

  it('install.ps1 checks each WinDivert file the plan names before anything is written', () => {
    const text = scriptText('install.ps1');
    expect(plan.winDivertFiles).toEqual(['C:\\node\\WinDivert.dll', 'C:\\node\\WinDivert64.sys']);
    expect(text.indexOf('foreach ($f in $plan.winDivertFiles)')).toBeGreaterThan(0);
    expect(text.indexOf('foreach ($f in $plan.winDivertFiles)')).toBeLessThan(text.indexOf('Copy-Item'));
  });
});
