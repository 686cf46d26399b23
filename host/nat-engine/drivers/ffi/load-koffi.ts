/**
 * koffi, required on first use rather than at import: a host that never
 * opens an FFI driver (the memory driver, tests) must not fail to start
 * because koffi's native package is missing for its platform. Shared by the
 * nfqueue and windivert drivers.
 */

import { FfiUnavailableError } from './ffi-unavailable-error';

// koffi's typings are an ES module's; the CommonJS build it ships has the same shape.
export type Koffi = typeof import('koffi', { with: { 'resolution-mode': 'import' } });

let cached: Koffi | undefined;

/** The koffi module; throws {@link FfiUnavailableError} when it cannot be loaded. */
export function loadKoffi(): Koffi {
  if (cached) return cached;
  try {
    cached = require('koffi') as Koffi;
  } catch (err) {
    throw new FfiUnavailableError(`koffi (the FFI module) cannot be loaded: ${(err as Error).message}`, { cause: err });
  }
  return cached;
}

/** The absolute path koffi resolves to, for worker threads evaluated from source. */
export function koffiModulePath(): string {
  return require.resolve('koffi');
}

let errnoNames: Map<number, string> | undefined;

/** `ENOBUFS (105)` for 105: errno values in messages, by name. */
export function describeErrno(errno: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, value] of Object.entries(loadKoffi().os.errno)) if (!errnoNames.has(value)) errnoNames.set(value, name);
  }
  return `${errnoNames.get(errno) ?? 'errno'} (${errno})`;
}
