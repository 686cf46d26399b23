/**
 * Per-plugin enable flags from the Windows registry, the way the Windows ALG
 * service keeps them (one key per plugin with an `Enable` DWORD):
 *
 *   HKLM\SOFTWARE\algd\Plugins\<name>   Enable   REG_DWORD   0x1
 *
 * A plugin with such a key is switched by it, whatever `plugins.<name>.enabled`
 * says in the configuration file; a plugin without one keeps the file's
 * setting. The installer (installer/windows) writes these keys.
 *
 * Read through `reg.exe query ... /s` rather than a native binding: nothing
 * to compile, and the output is plain text the parser below checks line by
 * line. `/reg:64` reads the 64-bit view even from a 32-bit Node, where
 * SOFTWARE would otherwise be redirected to WOW6432Node.
 */

import { runCommand } from '../../os/run-command';

export const PLUGINS_KEY = 'HKLM\\SOFTWARE\\algd\\Plugins';
/** The same key as reg.exe prints it (full hive name). */
const PLUGINS_KEY_PRINTED = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins';
export const ENABLE_VALUE = 'Enable';
export const REG_QUERY_ARGV: readonly string[] = ['reg.exe', 'query', PLUGINS_KEY, '/s', '/reg:64'];

/** Plugin names as the configuration accepts them (config-schema.ts). */
const PLUGIN_NAME = /^[a-z0-9][a-z0-9._-]*$/;

export interface RegistryRunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}
export type RegistryRunner = (argv: readonly string[]) => Promise<RegistryRunResult>;

export interface PluginRegistryFlags {
  /** Plugin name → its `Enable` value (non-zero: enabled). */
  readonly flags: Record<string, boolean>;
  /** Keys and values that were present but not usable, one sentence each, for the log. */
  readonly problems: readonly string[];
}

/** One value line of `reg query`: four spaces, name, four spaces, type, and (unless empty) four spaces and the data. */
const VALUE_LINE = /^ {4}(.+?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$/;
const DWORD_DATA = /^0x([0-9a-fA-F]{1,8})$/;

/**
 * Parses the output of `reg.exe query HKLM\SOFTWARE\algd\Plugins /s`.
 * Pure; every line is either blank, a key header, or a value of the current
 * key. Only `Enable` values of REG_DWORD type on direct subkeys of Plugins
 * count; anything else there is reported in `problems` and ignored.
 */
export function parseRegQueryOutput(output: string): PluginRegistryFlags {
  const flags: Record<string, boolean> = {};
  const problems: string[] = [];
  /** The plugin whose key the following value lines belong to; null for the Plugins key itself or a deeper key. */
  let plugin: string | null = null;
  let keyPath = '';
  for (const line of output.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    if (line.startsWith('HKEY_')) {
      keyPath = line.trimEnd();
      plugin = pluginOfKey(keyPath, problems);
      continue;
    }
    const value = VALUE_LINE.exec(line);
    if (value === null) {
      problems.push(`unexpected line in reg.exe output: ${JSON.stringify(line)}`);
      continue;
    }
    const [, name, type, data = ''] = value as unknown as [string, string, string, string | undefined];
    // Value names are case-insensitive in the registry, as key names are.
    if (plugin === null || name.toLowerCase() !== ENABLE_VALUE.toLowerCase()) continue;
    const dword = type === 'REG_DWORD' ? DWORD_DATA.exec(data.trim()) : null;
    if (dword === null) {
      problems.push(`${keyPath}\\${name} is ${type} ${data.trim()}, not a REG_DWORD: ignored`);
      continue;
    }
    flags[plugin] = parseInt(dword[1]!, 16) !== 0;
  }
  return { flags, problems };
}

/** The plugin a key header names, or null (the Plugins key itself, a deeper key, a bad name or another key). */
function pluginOfKey(keyPath: string, problems: string[]): string | null {
  const prefix = `${PLUGINS_KEY_PRINTED}\\`;
  if (keyPath.toLowerCase() === PLUGINS_KEY_PRINTED.toLowerCase()) return null;
  if (!keyPath.toLowerCase().startsWith(prefix.toLowerCase())) {
    problems.push(`unexpected key in reg.exe output: ${keyPath}`);
    return null;
  }
  const rest = keyPath.slice(prefix.length);
  if (rest.includes('\\')) return null; // a plugin's subkey: not ours to read
  // Registry key names are case-insensitive; configuration names are lower case.
  const name = rest.toLowerCase();
  if (!PLUGIN_NAME.test(name)) {
    problems.push(`${keyPath}: "${rest}" is not a plugin name (lower-case letters, digits, ".", "_", "-"): ignored`);
    return null;
  }
  return name;
}

/** reg.exe's message when the key does not exist (English Windows; the exit code 1 alone is ambiguous). */
const KEY_MISSING = /unable to find the specified registry key/i;

async function runRegExe(argv: readonly string[]): Promise<RegistryRunResult> {
  return runCommand(argv, { timeoutMs: 10_000 });
}

/**
 * Reads the per-plugin `Enable` flags. No Plugins key means no overrides
 * (an empty record). Any other reg.exe failure throws: a registry that says
 * "disabled" must not be silently ignored. `warn` gets each ignored entry.
 */
export async function readPluginEnableFlags(
  run: RegistryRunner = runRegExe,
  warn: (message: string) => void = () => undefined,
): Promise<Record<string, boolean>> {
  const result = await run(REG_QUERY_ARGV);
  if (result.code !== 0) {
    if (result.code === 1 && KEY_MISSING.test(result.stderr)) return {};
    throw new Error(`cannot read plugin flags from ${PLUGINS_KEY}: reg.exe exit code ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
  }
  const { flags, problems } = parseRegQueryOutput(result.stdout);
  for (const p of problems) warn(`plugin registry: ${p}`);
  return flags;
}
