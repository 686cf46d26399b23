/**
 * What the benches share: integer settings from the environment, a lab
 * that is destroyed whatever happens (the body's end, a failure, a signal,
 * or the bench's time budget running out), and the process's exit.
 */

import { Lab, type LabOptions } from '../host/lab/lab';

/** `name` from the environment as an integer from `min` to `max`, else `dflt`. */
export function envInt(name: string, dflt: number, { min = 1, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {}): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  return n;
}

/**
 * Builds a lab, runs `body` in it and destroys it. A watchdog destroys the
 * lab and exits (code 3) after `budgetMs`; SIGINT and SIGTERM destroy it and
 * exit 130.
 */
export async function withBenchLab<T>(opts: LabOptions, budgetMs: number, progress: (line: string) => void, body: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.create(opts);
  let timedOut = false;
  const watchdog = setTimeout(() => {
    timedOut = true;
    progress(`the bench exceeded its ${budgetMs / 1000} s budget: destroying the lab and exiting`);
    void lab.destroy().finally(() => process.exit(3));
  }, budgetMs);
  const onSignal = (sig: NodeJS.Signals): void => {
    progress(`${sig}: destroying the lab`);
    void lab.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body(lab);
  } finally {
    clearTimeout(watchdog);
    if (!timedOut) await lab.destroy();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Runs a bench's `main` and exits with its code, or with `failureCode` and the error when it throws. */
export function runBench(main: () => Promise<number>, failureCode = 1): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(failureCode);
    },
  );
}
