import { satisfies, validRange } from 'semver';

/**
 * The plugin API version this SDK implements (semver). Minor versions add
 * to the API; a major version may remove or change it. A plugin states the
 * range it needs in `apiVersion` and the host refuses to load it when none
 * of the API versions it implements ({@link SDK_API_VERSIONS}) is in that
 * range.
 */
export const SDK_API_VERSION = '0.4.0';

/**
 * Every plugin API version this SDK implements in full, oldest first, the
 * last being {@link SDK_API_VERSION}. Each one only adds to the one before
 * (0.2.0: `renewDataChannel`; 0.3.0: `notify` filters; 0.4.0:
 * `removeDataChannel`'s `closeConnections` and `setIdleTimeout`), so a
 * plugin written for an earlier one runs unchanged. Semver's caret keeps a 0.x minor apart (`^0.1.0` does not
 * accept 0.2.0); this list is how the promise "minor versions add" is
 * kept for such plugins.
 */
export const SDK_API_VERSIONS: readonly string[] = Object.freeze(['0.1.0', '0.2.0', '0.3.0', '0.4.0']);

/**
 * True when `range` (a semver range such as `^0.1.0`) accepts `version`;
 * without `version`, when it accepts any API version this SDK implements
 * in full ({@link SDK_API_VERSIONS}): what the host asks of a plugin.
 * A range of a later API (`^0.3.0`, `^1.0.0`) is refused.
 */
export function apiVersionSatisfies(range: string, version?: string): boolean {
  if (!isApiVersionRange(range)) return false;
  const versions = version === undefined ? SDK_API_VERSIONS : [version];
  return versions.some((v) => satisfies(v, range, { includePrerelease: true }));
}

/** True when `range` is a valid semver range. An empty range (which semver reads as "any") is not: a plugin must say what it needs. */
export function isApiVersionRange(range: string): boolean {
  return typeof range === 'string' && range.trim() !== '' && validRange(range) !== null;
}
