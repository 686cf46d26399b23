/**
 * The admin API protocol: one JSON request per line, one JSON response per
 * line, over a Unix socket readable only by root (Linux) or a named pipe
 * (Windows). Never a TCP port.
 *
 * Every request carries the service's admin key: random bytes the service
 * writes at start to a file only administrators can read (mode 0600 next
 * to the socket on Linux; on Windows in %ProgramData%\algd, which the
 * installer restricts to Administrators and SYSTEM). Node cannot set a
 * named pipe's access list, and Windows lets everyone open a pipe for
 * reading by default: the key is what limits the API to administrators.
 */

import { win32 } from 'node:path';

/** A request from the CLI. */
export interface AdminRequest {
  readonly command: string;
  readonly args?: Record<string, unknown>;
  /** The admin key (hex); the client adds it. */
  readonly key?: string;
}

/** The service's answer to one request. */
export type AdminResponse = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: string };

/** Upper bound on one request line; the admin API never needs more. */
export const MAX_ADMIN_REQUEST_BYTES = 64 * 1024;

/** Where the service keeps the admin key for the socket or pipe at `socketPath`. */
export function adminKeyFileFor(socketPath: string, platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  if (platform !== 'win32') return `${socketPath}.key`;
  const pipe = win32.basename(socketPath).replace(/[^A-Za-z0-9._-]/g, '_');
  return win32.join(env['ProgramData'] ?? 'C:\\ProgramData', 'algd', `${pipe}.key`);
}

/** Bytes of randomness in the admin key. */
export const ADMIN_KEY_BYTES = 32;
