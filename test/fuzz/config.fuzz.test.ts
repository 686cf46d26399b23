/**
 * Configuration parsing under random input: any text, any JSON, and valid
 * configurations with one value replaced by a random one. A configuration
 * is either accepted or refused with a ConfigError naming each problem;
 * nothing else is ever thrown, and an accepted one reads back the same.
 */

import fc from 'fast-check';
import { ConfigError, parseConfig } from '../../host/config/load-config';
import { FUZZ_TEST_TIMEOUT_MS, fuzzParams } from './fuzz-settings';

jest.setTimeout(FUZZ_TEST_TIMEOUT_MS);

const VALID = {
  driver: 'nfqueue',
  adapters: [{ name: 'priv0', type: 'private' }, { name: 'pub0', type: 'boundary' }],
  adminSocket: '/run/algd/algd.sock',
  listenerPorts: { from: 3000, to: 3999 },
  nfqueue: { queueNum: 4200, maxLen: 4096, failOpen: true },
  plugins: { ftp: { enabled: true, ports: { tcp: [21, 2121] }, options: { minDataPort: 1024 } }, sip: { enabled: false } },
  sessions: { maxSessions: 100 },
};

/** Accepted (and stable when read back) or a ConfigError with its problems listed; anything else fails the property. */
function parsesOrRefuses(text: string): 'accepted' | 'refused' {
  try {
    const config = parseConfig(text);
    expect(parseConfig(JSON.stringify(config))).toEqual(config);
    return 'accepted';
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) expect(typeof p).toBe('string');
    return 'refused';
  }
}

/** Every path to a value in a JSON document. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [prefix, ...keys.flatMap((k) => paths((value as Record<string | number, unknown>)[k], [...prefix, k]))];
}

function replaced(doc: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  at[path[path.length - 1]!] = value;
  return copy;
}

describe('parseConfig', () => {
  it('the base configuration of these tests is valid (so the mutations start from an accepted one)', () => {
    expect(parsesOrRefuses(JSON.stringify(VALID))).toBe('accepted');
  });

  it('any text: accepted or a ConfigError', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json()), (text) => {
      parsesOrRefuses(text);
    }), fuzzParams(500));
  });

  it('a valid configuration with one value replaced (numbers out of range, wrong types, unknown keys): accepted or a ConfigError', () => {
    const all = paths(VALID);
    const value = fc.oneof(
      fc.jsonValue(),
      fc.constantFrom(-1, 0, 65536, 2 ** 53, 1e308, -0, 0.5, '', 'x'.repeat(5000), '../../etc/passwd', null, [], {}, { __proto__: { polluted: true } }),
    );
    let refused = 0;
    fc.assert(fc.property(fc.constantFrom(...all), value, fc.boolean(), (path, v, asNewKey) => {
      const doc = asNewKey ? replaced(VALID, [...path.slice(0, -1), 'unknownKey'], v) : replaced(VALID, path, v);
      if (parsesOrRefuses(JSON.stringify(doc)) === 'refused') refused++;
    }), fuzzParams(500));
    expect(refused).toBeGreaterThan(0);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
