import { satisfies, validRange } from 'semver';

/**
 * The plugin API version this SDK implements (semver). Minor versions add
 * to the API; a major version may remove or change it. A plugin states the
 * range it needs in `apiVersion` and the host refuses to load it when its
 * own API version is outside that range.
 */
export const SDK_API_VERSION = '0.1.0';

/** True when `range` (a semver range such as `^0.1.0`) accepts `version` (default: this SDK's). */
export function apiVersionSatisfies(range: string, version: string = SDK_API_VERSION): boolean {
  return isApiVersionRange(range) && satisfies(version, range, { includePrerelease: true });
}

/** True when `range` is a valid semver range. An empty range (which semver reads as "any") is not: a plugin must say what it needs. */
export function isApiVersionRange(range: string): boolean {
  return typeof range === 'string' && range.trim() !== '' && validRange(range) !== null;
}
