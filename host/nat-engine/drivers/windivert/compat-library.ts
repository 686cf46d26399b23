/**
 * Where the WinDivert compat library (compat/, WinDivert's API over
 * NFQUEUE) is built, and building it: for tests and the lab, which run the
 * Windows driver path on Linux. Never used by the Windows service.
 */

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const BUILD_SCRIPT = join('host', 'nat-engine', 'drivers', 'windivert', 'compat', 'build.sh');

/** The repository root: the nearest ancestor of this file holding the compat build script (works from `dist/` and from source). */
function repositoryRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, BUILD_SCRIPT))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`cannot find ${BUILD_SCRIPT} above ${__dirname}`);
}

/** `<repository>/dist/compat/libwindivert-compat.so`, built or not. */
export function compatLibraryPath(): string {
  return resolve(repositoryRoot(), 'dist', 'compat', 'libwindivert-compat.so');
}

/** Runs compat/build.sh (gcc, libnetfilter-queue-dev) and returns the library's path. Throws with the compiler's output on failure. */
export function buildCompatLibrary(timeoutMs = 120_000): string {
  const root = repositoryRoot();
  const out = execFileSync('sh', [join(root, BUILD_SCRIPT), dirname(compatLibraryPath())], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  return out.trim().split('\n').pop()!;
}
