/**
 * One nfqueue driver per network namespace. Two would fight over the same
 * chains (each open() removes what it takes for a crashed run's leftovers)
 * and the same sysctls. The lock is an abstract Unix socket: its name lives
 * in the network namespace (not the filesystem, which namespaces share), and
 * the kernel releases it when its process dies, kill -9 included, so a
 * stale lock cannot exist.
 */

import { createServer, type Server } from 'node:net';

export const NAMESPACE_LOCK_NAME = 'algd-nfqueue-driver';

export class NamespaceLockedError extends Error {
  override readonly name = 'NamespaceLockedError';
}

export interface NamespaceLock {
  release(): Promise<void>;
}

/** Takes the lock of this network namespace; rejects with {@link NamespaceLockedError} when another process holds it. */
export function acquireNamespaceLock(name = NAMESPACE_LOCK_NAME): Promise<NamespaceLock> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer((conn) => conn.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new NamespaceLockedError('another algd runs the nfqueue driver in this network namespace'));
      else reject(err);
    });
    server.listen(`\0${name}`, () => {
      // The queue keeps the process alive; the lock need not.
      server.unref();
      resolve({ release: () => new Promise((done) => server.close(() => done())) });
    });
  });
}
