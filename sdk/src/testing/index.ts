/**
 * `@algd/sdk/testing`: runs a plugin against a scripted conversation in
 * process (no root, network or workers) with the host's own framers, task
 * runner and service rules, and records what each side receives and which
 * data channels and port reservations the plugin asked for.
 *
 * @packageDocumentation
 */

export * from './plugin-test-session';
export * from './test-session-options';
export * from './peer-record';
export * from './in-memory-host-services';
export * from './recorded-data-channel';
export * from './recorded-reservation';
