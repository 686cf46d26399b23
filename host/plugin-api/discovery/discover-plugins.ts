import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { apiVersionSatisfies, isApiVersionRange, SDK_API_VERSIONS } from '@algd/sdk';

/** The keyword that marks an npm package as an algd plugin. */
export const PLUGIN_KEYWORD = 'algd-plugin';

const PLUGIN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A plugin package found in the plugins folder. */
export interface DiscoveredPlugin {
  /** The plugin name (configuration key): the manifest's `name`, else the package name without scope and `algd-plugin-` prefix. */
  readonly name: string;
  /** The npm package name. */
  readonly packageName: string;
  readonly packageVersion: string;
  readonly dir: string;
  /** Absolute path of the module to load (the manifest's `entry`). */
  readonly entry: string;
  /** The manifest's API range. */
  readonly apiVersion: string;
}

/** A package that looked like a plugin but cannot be loaded, and why. */
export interface RefusedPlugin {
  readonly dir: string;
  readonly reason: string;
}

export interface DiscoveryResult {
  readonly plugins: DiscoveredPlugin[];
  readonly refused: RefusedPlugin[];
}

/**
 * Finds third-party plugins in a folder: each subfolder (and each
 * `@scope/name` subfolder, so a `node_modules` folder works too) holding a
 * package.json with the keyword `algd-plugin` and an `algd` manifest:
 *
 * ```json
 * { "keywords": ["algd-plugin"], "algd": { "name": "tftp", "entry": "dist/index.js", "apiVersion": "^0.1.0" } }
 * ```
 *
 * `name` is optional (default: the package name without its scope and an
 * `algd-plugin-` prefix); the module's definition must carry the same name.
 *
 * Packages without the keyword are ignored. A plugin package with a
 * missing or bad manifest, an entry outside its folder, or an API range
 * this host does not satisfy is refused with the reason; discovery itself
 * never throws for a package's content. A missing folder is an error.
 */
export function discoverPlugins(folder: string): DiscoveryResult {
  const plugins: DiscoveredPlugin[] = [];
  const refused: RefusedPlugin[] = [];
  for (const dir of candidateDirs(resolve(folder))) {
    const outcome = inspect(dir);
    if (outcome === undefined) continue;
    if ('reason' in outcome) refused.push(outcome);
    else plugins.push(outcome);
  }
  return { plugins, refused };
}

function candidateDirs(folder: string): string[] {
  const dirs: string[] = [];
  for (const name of readdirSync(folder).sort()) {
    const dir = join(folder, name);
    if (!isDir(dir)) continue;
    if (name.startsWith('@')) {
      for (const sub of readdirSync(dir).sort()) if (isDir(join(dir, sub))) dirs.push(join(dir, sub));
    } else if (!name.startsWith('.')) {
      dirs.push(dir);
    }
  }
  return dirs;
}

function inspect(dir: string): DiscoveredPlugin | RefusedPlugin | undefined {
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { dir, reason: `package.json is not valid JSON: ${(err as Error).message}` };
  }
  if (typeof pkg !== 'object' || pkg === null) return { dir, reason: 'package.json is not an object' };
  const keywords = Array.isArray(pkg['keywords']) ? pkg['keywords'] : [];
  if (!keywords.includes(PLUGIN_KEYWORD)) return undefined;
  const name = typeof pkg['name'] === 'string' ? pkg['name'] : dir;
  const manifest = pkg['algd'] as { name?: unknown; entry?: unknown; apiVersion?: unknown } | undefined;
  if (typeof manifest !== 'object' || manifest === null) return { dir, reason: `${name}: package.json has the "${PLUGIN_KEYWORD}" keyword but no "algd" manifest ({ "entry", "apiVersion" })` };
  const pluginName = manifest.name ?? name.replace(/^@[^/]+\//, '').replace(/^algd-plugin-/, '');
  if (typeof pluginName !== 'string' || !PLUGIN_NAME.test(pluginName)) return { dir, reason: `${name}: algd.name must be a lower-case plugin name` };
  if (typeof manifest.entry !== 'string' || manifest.entry === '') return { dir, reason: `${name}: algd.entry must name the plugin module` };
  if (typeof manifest.apiVersion !== 'string' || !isApiVersionRange(manifest.apiVersion)) return { dir, reason: `${name}: algd.apiVersion must be a semver range` };
  if (!apiVersionSatisfies(manifest.apiVersion)) return { dir, reason: `${name}: needs plugin API ${manifest.apiVersion}; this host implements ${SDK_API_VERSIONS.join(', ')}` };
  const entry = resolve(dir, manifest.entry);
  const rel = relative(dir, entry);
  if (rel.startsWith('..') || isAbsolute(rel)) return { dir, reason: `${name}: algd.entry ${manifest.entry} is outside the package` };
  try {
    if (!statSync(entry).isFile()) return { dir, reason: `${name}: algd.entry ${manifest.entry} is not a file` };
  } catch {
    return { dir, reason: `${name}: algd.entry ${manifest.entry} does not exist (is the package built?)` };
  }
  return { name: pluginName, packageName: name, packageVersion: typeof pkg['version'] === 'string' ? pkg['version'] : '0.0.0', dir, entry, apiVersion: manifest.apiVersion };
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
