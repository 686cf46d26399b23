import type { LabProcess } from '../../host/lab/lab-process';

/**
 * Runs `body` once `harness` (a helper process in a lab host) prints
 * `ready`; the harness is killed if `body` fails, so whatever it holds (a
 * queue, rules) is free for the next test.
 */
export async function runHarness<T>(harness: LabProcess, ready: RegExp, timeoutMs: number, body: (h: LabProcess) => Promise<T>): Promise<T> {
  try {
    await harness.waitForOutput(ready, timeoutMs, 'stdout');
    return await body(harness);
  } finally {
    if (harness.running) await harness.kill();
  }
}

/** Sends `stop` to a harness and returns the JSON of its `RESULT` line; it must exit 0 with nothing on stderr. */
export async function stopHarness<R>(harness: LabProcess, timeoutMs: number): Promise<R> {
  harness.write('stop\n');
  const m = await harness.waitForOutput(/^RESULT (.*)$/m, timeoutMs, 'stdout');
  expect((await harness.waitForExit(timeoutMs)).code).toBe(0);
  expect(harness.stderr).toBe('');
  return JSON.parse(m[1]!) as R;
}
