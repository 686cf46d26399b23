import { adminRequest, ServiceUnreachableError } from '../admin/admin-client';
import type { AdminRequest } from '../admin/admin-protocol';
import type { AlgdConfig } from '../config/config-schema';
import { ExitCode } from './exit-codes';

/**
 * Sends one request to the running service and prints its result with
 * `print`. The exit code says how it went: `notRunning` when nothing answers
 * on the admin socket, `failure` (message on stderr) when the service
 * refused the request.
 */
export async function callService<T>(config: AlgdConfig, request: AdminRequest, print: (result: T) => string): Promise<ExitCode> {
  let response;
  try {
    response = await adminRequest(config.adminSocket, request);
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
  process.stdout.write(print(response.result as T));
  return ExitCode.ok;
}
