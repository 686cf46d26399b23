import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The algd package's root folder: the nearest folder above `from` whose package.json is named `algd` (works from sources and from dist/). */
export function packageRoot(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'algd') return dir;
    if (dirname(dir) === dir) throw new Error(`no algd package.json above ${from}`);
  }
}

/** The algd package version. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The built `algd` command, for starting the service as a child process (the lab does). */
export function algdEntryPoint(): string {
  return join(packageRoot(), 'dist', 'host', 'cli', 'algd.js');
}
