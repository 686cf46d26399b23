import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHILD = join(__dirname, 'log-lines-child.js');

/** Runs the child that logs `count` lines to `file` and exits right after. */
function logInChild(count: number, file: string, mode: 'close', maxSizeMb = 10, maxFiles = 5): void {
  const r = spawnSync(process.execPath, [CHILD, String(count), file, mode, String(maxSizeMb), String(maxFiles)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`child exited ${r.status}: ${r.stderr.slice(-2000)}`);
}

function lines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('log file: flushed on exit, JSON lines with the session id, rotated by size', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'algd-log-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('has every one of N lines when the process exits right after closeLogger', () => {
    const file = join(dir, 'sub', 'algd.log');
    logInChild(20_000, file, 'close');
    const got = lines(file);
    expect(got).toHaveLength(20_000);
    expect(got.map((l) => l['i'])).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    expect(got[19_999]).toEqual({ level: 'info', message: 'line 19999', i: 19_999, session: 'ftp-7', plugin: 'ftp', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
  });

  it('rotates: the newest lines stay in the file, older ones shift to name1, name2, at most maxFiles files', () => {
    const file = join(dir, 'algd.log');
    // About 110 bytes a line: 3000 lines are ~330 kB against 0.05 MB files.
    logInChild(3000, file, 'close', 0.05, 3);
    expect(readdirSync(dir).sort()).toEqual(['algd.log', 'algd1.log', 'algd2.log']);
    const newest = lines(file);
    expect(newest[newest.length - 1]!['i']).toBe(2999);
    const previous = lines(join(dir, 'algd1.log'));
    expect(previous[previous.length - 1]!['i']).toBe((newest[0]!['i'] as number) - 1);
    for (const f of ['algd.log', 'algd1.log', 'algd2.log']) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(0.05 * 1024 * 1024 + 200);
  });
});
