import { adminRequest, ServiceUnreachableError } from '../admin/admin-client';
import type { AdminRequest } from '../admin/admin-protocol';
import type { AlgdConfig } from '../config/config-schema';
import { ExitCode } from './exit-codes';

export interface CallOptions<T> {
  /** How long the service may take to answer; default the admin client's. */
  readonly timeoutMs?: number;
  /** The exit code for a result the service returned (default ok). */
  readonly outcome?: (result: T) => ExitCode;
}

/**
 * Sends one request to the running service and prints its result with
 * `print`. The exit code says how it went: `notRunning` when nothing answers
 * on the admin socket, `failure` (message on stderr) when the service
 * refused the request, otherwise what `outcome` makes of the result.
 */
export async function callService<T>(config: AlgdConfig, request: AdminRequest, print: (result: T) => string, opts: CallOptions<T> = {}): Promise<ExitCode> {
  let response;
  try {
    response = await adminRequest(config.adminSocket, request, opts.timeoutMs);
  } catch (err) {
    if (err instanceof ServiceUnreachableError) {
      process.stderr.write(`algd: ${err.message}\n`);
      return ExitCode.notRunning;
    }
    throw err;
  }
  if (!response.ok) {
    process.stderr.write(`algd: ${response.error}\n`);
    return ExitCode.failure;
  }
  const result = response.result as T;
  process.stdout.write(print(result));
  return opts.outcome?.(result) ?? ExitCode.ok;
}
