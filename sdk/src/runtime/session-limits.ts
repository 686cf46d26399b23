/**
 * Checks of the API 0.4.0 calls that cross from a worker as plain data,
 * shared by the host and the test kit so both refuse the same things.
 */

/** The least and most a plugin may set as its session's idle timeout (`setIdleTimeout`), in ms. */
export const MIN_IDLE_TIMEOUT_MS = 1_000;
export const MAX_IDLE_TIMEOUT_MS = 86_400_000;

/** True for an idle timeout a plugin may set: a whole number of ms within the bounds. */
export function validIdleTimeout(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isInteger(ms) && ms >= MIN_IDLE_TIMEOUT_MS && ms <= MAX_IDLE_TIMEOUT_MS;
}

/** `removeDataChannel`'s options as they crossed from a worker: absent, or `{ closeConnections?: boolean }`. Throws naming what is wrong. */
export function removeOptions(options: unknown): { readonly closeConnections: boolean } {
  if (options === undefined) return { closeConnections: false };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new Error('removeDataChannel: options must be { closeConnections? }');
  const { closeConnections } = options as { closeConnections?: unknown };
  if (closeConnections !== undefined && typeof closeConnections !== 'boolean') throw new Error('removeDataChannel: closeConnections must be true or false');
  return { closeConnections: closeConnections === true };
}
