/**
 * `@algd/sdk`: everything a plugin for the algd application-level gateway
 * host may use. Plugins import nothing else from algd. The test kit is
 * `@algd/sdk/testing`.
 *
 * @packageDocumentation
 */

export * from './api-version';
export * from './net';
export * from './control-channel';
export * from './plugin';
export * from './context';
export * from './session';
export * from './data-channel';
export * from './port-reservation';
export * from './verdict';
export * from './logger';
export * from './framing/framing';
export * from './framing/line-framer';
export * from './framing/sip-message-framer';
export * from './framing/create-framer';
export * from './address/ftp-host-port';
export * from './address/eprt';
export * from './address/host-port';
