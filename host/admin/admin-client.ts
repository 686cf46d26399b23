import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { adminKeyFileFor, type AdminRequest, type AdminResponse } from './admin-protocol';

/** The service is not reachable on its admin socket (not running, or no permission). */
export class ServiceUnreachableError extends Error {
  override readonly name = 'ServiceUnreachableError';
}

/** Sends one request to the running service and resolves with its response. */
export function adminRequest(path: string, request: AdminRequest, timeoutMs = 5000): Promise<AdminResponse> {
  let key: string;
  try {
    key = readFileSync(adminKeyFileFor(path), 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'algd is not running' : code === 'EACCES' || code === 'EPERM' ? 'only administrators may use the admin API' : 'cannot read the admin key';
    return Promise.reject(new ServiceUnreachableError(`${why} (${adminKeyFileFor(path)}: ${code ?? (err as Error).message})`));
  }
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ServiceUnreachableError(`no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify({ ...request, key })}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buffered.slice(0, newline)) as AdminResponse);
      } catch {
        reject(new ServiceUnreachableError(`malformed answer from ${path}`));
      }
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ServiceUnreachableError(`algd is not running (${path}: ${err.code ?? err.message})`));
    });
  });
}
