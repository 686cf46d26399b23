/**
 * `@algd/sdk`: everything a plugin for the algd application-level gateway
 * host may use. Plugins import nothing else from algd.
 *
 * @packageDocumentation
 */

/** The plugin API version this SDK implements (semver). */
export const SDK_API_VERSION = '0.1.0';

export * from './net';
export * from './control-channel';
