/**
 * `@algd/sdk/runtime`: the contract's machinery shared by the algd host's
 * workers and the SDK's test kit. Plugins do not need it.
 *
 * @packageDocumentation
 */

export * from './host-services';
export * from './session-task';
export * from './run-task';
export * from './channel-notify';
export * from './session-limits';
