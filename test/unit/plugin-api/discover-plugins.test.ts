import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { SDK_API_VERSIONS } from '@algd/sdk';
import { discoverPlugins, PLUGIN_KEYWORD } from '../../../host/plugin-api/discovery/discover-plugins';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'algd-discovery-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Writes `files` (path relative to the plugins folder → content; objects as JSON). */
function write(files: Record<string, string | object>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
}

/** A plugin package.json: the keyword, and a manifest unless `algd` says otherwise. */
function pkg(name: string | undefined, algd: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): object {
  return { ...(name === undefined ? {} : { name }), keywords: ['network', PLUGIN_KEYWORD], ...(algd === undefined ? {} : { algd }), ...extra };
}

const manifest = (extra: Record<string, unknown> = {}) => ({ entry: 'dist/index.js', apiVersion: '^0.1.0', ...extra });

describe('discoverPlugins', () => {
  it('finds plugin packages, names them from the manifest or the package name, scoped folders included', () => {
    write({
      'alpha/package.json': pkg('some-package', manifest({ name: 'alpha' }), { version: '1.2.3' }),
      'alpha/dist/index.js': '',
      'algd-plugin-x/package.json': pkg('algd-plugin-x', manifest()),
      'algd-plugin-x/dist/index.js': '',
      '@scope/algd-plugin-y/package.json': pkg('@scope/algd-plugin-y', manifest({ entry: './lib/main.js', apiVersion: '>=0.1.0 <1.0.0' }), { version: '0.0.1' }),
      '@scope/algd-plugin-y/lib/main.js': '',
    });
    expect(discoverPlugins(root)).toStrictEqual({
      plugins: [
        { name: 'y', packageName: '@scope/algd-plugin-y', packageVersion: '0.0.1', dir: join(root, '@scope', 'algd-plugin-y'), entry: join(root, '@scope', 'algd-plugin-y', 'lib', 'main.js'), apiVersion: '>=0.1.0 <1.0.0' },
        { name: 'x', packageName: 'algd-plugin-x', packageVersion: '0.0.0', dir: join(root, 'algd-plugin-x'), entry: join(root, 'algd-plugin-x', 'dist', 'index.js'), apiVersion: '^0.1.0' },
        { name: 'alpha', packageName: 'some-package', packageVersion: '1.2.3', dir: join(root, 'alpha'), entry: join(root, 'alpha', 'dist', 'index.js'), apiVersion: '^0.1.0' },
      ],
      refused: [],
    });
  });

  it('ignores packages without the keyword, folders without package.json, hidden folders and plain files', () => {
    write({
      'lodash/package.json': { name: 'lodash', keywords: ['util'], algd: manifest() },
      'lodash/dist/index.js': '',
      'no-keywords/package.json': { name: 'no-keywords', algd: manifest() },
      'keywords-not-a-list/package.json': { name: 'k', keywords: PLUGIN_KEYWORD, algd: manifest() },
      'empty/README.md': 'nothing here',
      '.cache/package.json': pkg('hidden', manifest()),
      '.cache/dist/index.js': '',
      'plugin.js': '',
      '@scope/not-a-plugin/package.json': { name: '@scope/not-a-plugin' },
      '@scope/file.js': '',
      'array/package.json': '[]',
    });
    expect(discoverPlugins(root)).toStrictEqual({ plugins: [], refused: [] });
  });

  it('resolves a relative folder', () => {
    write({ 'algd-plugin-x/package.json': pkg('algd-plugin-x', manifest()), 'algd-plugin-x/dist/index.js': '' });
    const found = discoverPlugins(relative(process.cwd(), root));
    expect(found.plugins.map((p) => [p.dir, p.entry])).toEqual([[join(root, 'algd-plugin-x'), join(root, 'algd-plugin-x', 'dist', 'index.js')]]);
  });

  const BAD_JSON = '{ "name": "broken", ';
  const badJsonMessage = ((): string => {
    try {
      JSON.parse(BAD_JSON);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('the bad JSON parsed');
  })();

  it.each<[string, Record<string, string | object>, string]>([
    ['a keyword without a manifest', { 'p/package.json': pkg('no-manifest', undefined) }, 'no-manifest: package.json has the "algd-plugin" keyword but no "algd" manifest ({ "entry", "apiVersion" })'],
    ['a manifest that is not an object', { 'p/package.json': pkg('text-manifest', undefined, { algd: 'dist/index.js' }) }, 'text-manifest: package.json has the "algd-plugin" keyword but no "algd" manifest ({ "entry", "apiVersion" })'],
    ['bad JSON', { 'p/package.json': BAD_JSON }, `package.json is not valid JSON: ${badJsonMessage}`],
    ['a package.json that is null', { 'p/package.json': 'null' }, 'package.json is not an object'],
    ['an apiVersion that is no range', { 'p/package.json': pkg('algd-plugin-v', manifest({ apiVersion: 'latest-and-greatest' })), 'p/dist/index.js': '' }, 'algd-plugin-v: algd.apiVersion must be a semver range'],
    ['no apiVersion', { 'p/package.json': pkg('algd-plugin-v', manifest({ apiVersion: undefined })), 'p/dist/index.js': '' }, 'algd-plugin-v: algd.apiVersion must be a semver range'],
    ['an apiVersion that is a number', { 'p/package.json': pkg('algd-plugin-v', manifest({ apiVersion: 1 })), 'p/dist/index.js': '' }, 'algd-plugin-v: algd.apiVersion must be a semver range'],
    ['an unsatisfied range', { 'p/package.json': pkg('algd-plugin-v', manifest({ apiVersion: '^2.0.0' })), 'p/dist/index.js': '' }, `algd-plugin-v: needs plugin API ^2.0.0; this host implements ${SDK_API_VERSIONS.join(', ')}`],
    ['an entry outside the package', { 'p/package.json': pkg('algd-plugin-e', manifest({ entry: '../x.js' })), 'x.js': '' }, 'algd-plugin-e: algd.entry ../x.js is outside the package'],
    ['an absolute entry elsewhere', { 'p/package.json': pkg('algd-plugin-e', manifest({ entry: '/etc/hostname' })) }, 'algd-plugin-e: algd.entry /etc/hostname is outside the package'],
    ['an entry that climbs out and back in', { 'p/package.json': pkg('algd-plugin-e', manifest({ entry: 'dist/../../p2/x.js' })), 'p2/x.js': '' }, 'algd-plugin-e: algd.entry dist/../../p2/x.js is outside the package'],
    ['a missing entry file', { 'p/package.json': pkg('algd-plugin-e', manifest({ entry: 'dist/missing.js' })) }, 'algd-plugin-e: algd.entry dist/missing.js does not exist (is the package built?)'],
    ['an entry that is a folder', { 'p/package.json': pkg('algd-plugin-e', manifest({ entry: 'dist' })), 'p/dist/index.js': '' }, 'algd-plugin-e: algd.entry dist is not a file'],
    ['an empty entry', { 'p/package.json': pkg('algd-plugin-e', manifest({ entry: '' })) }, 'algd-plugin-e: algd.entry must name the plugin module'],
    ['no entry', { 'p/package.json': pkg('algd-plugin-e', manifest({ entry: undefined })) }, 'algd-plugin-e: algd.entry must name the plugin module'],
    ['a bad manifest name', { 'p/package.json': pkg('algd-plugin-n', manifest({ name: 'Bad Name' })), 'p/dist/index.js': '' }, 'algd-plugin-n: algd.name must be a lower-case plugin name'],
    ['a manifest name that is a number', { 'p/package.json': pkg('algd-plugin-n', manifest({ name: 7 })), 'p/dist/index.js': '' }, 'algd-plugin-n: algd.name must be a lower-case plugin name'],
    ['a derived name that is not lower case', { 'p/package.json': pkg('@scope/algd-plugin-Upper', manifest()), 'p/dist/index.js': '' }, '@scope/algd-plugin-Upper: algd.name must be a lower-case plugin name'],
    ['a derived name that is too long', { 'p/package.json': pkg(`algd-plugin-${'n'.repeat(65)}`, manifest()), 'p/dist/index.js': '' }, `algd-plugin-${'n'.repeat(65)}: algd.name must be a lower-case plugin name`],
  ])('refuses %s with the reason', (_what, files, reason) => {
    write(files);
    expect(discoverPlugins(root)).toStrictEqual({ plugins: [], refused: [{ dir: join(root, 'p'), reason }] });
  });

  it('names a package without a name by its folder, and refuses the name derived from it', () => {
    write({ 'p/package.json': pkg(undefined, manifest()), 'p/dist/index.js': '' });
    const dir = join(root, 'p');
    expect(discoverPlugins(root)).toStrictEqual({ plugins: [], refused: [{ dir, reason: `${dir}: algd.name must be a lower-case plugin name` }] });
  });

  it('accepts a 64-character name, the longest allowed', () => {
    const name = `a${'-'.repeat(62)}z`;
    write({ 'p/package.json': pkg('whatever', manifest({ name })), 'p/dist/index.js': '' });
    expect(discoverPlugins(root).plugins.map((p) => p.name)).toEqual([name]);
  });

  it('lists good and refused packages together, in folder order, and never throws for content', () => {
    write({
      'b-good/package.json': pkg('algd-plugin-b', manifest()),
      'b-good/dist/index.js': '',
      'a-bad/package.json': pkg('algd-plugin-a', manifest({ apiVersion: '^9.0.0' })),
      '@s/c-bad/package.json': '{',
      'd-other/package.json': { name: 'd' },
    });
    const found = discoverPlugins(root);
    expect(found.plugins.map((p) => p.name)).toEqual(['b']);
    expect(found.refused.map((r) => relative(root, r.dir))).toEqual([join('@s', 'c-bad'), 'a-bad']);
  });

  it('throws for a missing folder', () => {
    let error: unknown;
    try {
      discoverPlugins(join(root, 'missing'));
    } catch (err) {
      error = err;
    }
    expect((error as NodeJS.ErrnoException | undefined)?.code).toBe('ENOENT');
    expect((error as Error).message).toContain(join(root, 'missing'));
  });
});
