/**
 * The admin API protocol: one JSON request per line, one JSON response per
 * line, over a Unix socket readable only by root (Linux) or a named pipe
 * (Windows). Never a TCP port.
 */

/** A request from the CLI. */
export interface AdminRequest {
  readonly command: string;
  readonly args?: Record<string, unknown>;
}

/** The service's answer to one request. */
export type AdminResponse = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: string };

/** Upper bound on one request line; the admin API never needs more. */
export const MAX_ADMIN_REQUEST_BYTES = 64 * 1024;
