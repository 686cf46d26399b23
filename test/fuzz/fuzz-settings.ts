/**
 * How long the property tests run. In CI (`npm test`) every property runs a
 * modest, fixed number of cases from a fixed seed, so a failure replays
 * exactly and the suite stays within a few seconds per property. The long
 * run (`npm run fuzz`) sets ALGD_FUZZ=long: many more cases, a random seed
 * printed first so any failure can be replayed with ALGD_FUZZ_SEED.
 *
 * Environment:
 * - ALGD_FUZZ=long: the long run (default runs 20000 per property, seed random);
 * - ALGD_FUZZ_RUNS: cases per property (overrides both defaults);
 * - ALGD_FUZZ_SEED: a seed to replay, or `random`;
 * - ALGD_FUZZ_SECONDS: stop a property after this long (long run default 60; CI 30, where running out of time fails the property).
 */

import fc from 'fast-check';

/** The CI seed; any fixed number would do, this one is the project's. */
const CI_SEED = 8_0421;

const LONG = process.env['ALGD_FUZZ'] === 'long';

function envNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
  return n;
}

function chooseSeed(): number {
  const text = process.env['ALGD_FUZZ_SEED'];
  if (text !== undefined && text !== '' && text !== 'random') {
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new Error(`ALGD_FUZZ_SEED must be an integer or "random", not ${JSON.stringify(text)}`);
    return n;
  }
  if (text === 'random' || LONG) return Math.floor(Math.random() * 0x7fffffff);
  return CI_SEED;
}

/** The seed of this test file's properties (one per file, printed in the long run). */
export const FUZZ_SEED = chooseSeed();

const RUNS = envNumber('ALGD_FUZZ_RUNS');
const SECONDS = envNumber('ALGD_FUZZ_SECONDS') ?? (LONG ? 60 : 30);

if (LONG || process.env['ALGD_FUZZ_SEED'] !== undefined) {
  process.stderr.write(`[fuzz] ${expect.getState().testPath ?? ''}: seed ${FUZZ_SEED} (replay with ALGD_FUZZ_SEED=${FUZZ_SEED}), ${RUNS ?? (LONG ? 20_000 : 'default')} runs per property\n`);
}

/**
 * fast-check parameters for one property: `ciRuns` cases in CI (keep it to
 * a few seconds), ALGD_FUZZ_RUNS or 20000 in the long run. The time bound
 * ends a long run early (reported, not failed); in CI, where the fixed run
 * count finishes well within it, running out of time fails the property.
 */
export function fuzzParams<T>(ciRuns: number): fc.Parameters<T> {
  return {
    seed: FUZZ_SEED,
    numRuns: RUNS ?? (LONG ? 20_000 : ciRuns),
    interruptAfterTimeLimit: SECONDS * 1000,
    markInterruptAsFailure: !LONG,
  };
}

/** Jest time limit for a property test: its time bound plus room for shrinking a failure. */
export const FUZZ_TEST_TIMEOUT_MS = (SECONDS + 60) * 1000;
