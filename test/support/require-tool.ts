/**
 * Tests that need an external tool (tshark, ip, …). A developer without the
 * tool gets a skipped suite; under ALGD_REQUIRE_ALL=1 (CI) a missing tool
 * is a failure, never a silent skip.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The absolute path of `toolName` on PATH, or undefined. */
export function findTool(toolName: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, toolName);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when the tool is on PATH and runs (`--version` exits 0). */
function toolWorks(toolName: string): boolean {
  const path = findTool(toolName);
  if (path === undefined) return false;
  const r = spawnSync(path, ['--version'], { stdio: 'ignore', timeout: 30_000 });
  return r.status === 0;
}

/**
 * `describe(title, fn)` when `toolName` is available; otherwise
 * `describe.skip`, or, under ALGD_REQUIRE_ALL=1, a suite whose only test
 * fails and says which tool is missing.
 */
export function describeIfTool(toolName: string, title: string, fn: () => void): void {
  if (toolWorks(toolName)) {
    describe(title, fn);
  } else if (process.env['ALGD_REQUIRE_ALL'] === '1') {
    describe(title, () => {
      it(`requires ${toolName}`, () => {
        throw new Error(`${toolName} is not installed (or does not run), and ALGD_REQUIRE_ALL=1 forbids skipping "${title}"`);
      });
    });
  } else {
    describe.skip(`${title} (skipped: ${toolName} not installed)`, fn);
  }
}
