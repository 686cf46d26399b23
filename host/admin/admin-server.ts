import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { ADMIN_KEY_BYTES, adminKeyFileFor, MAX_ADMIN_REQUEST_BYTES, type AdminRequest, type AdminResponse } from './admin-protocol';

/** Handles one admin command; its result is sent back as JSON. */
export type AdminHandler = (args: Record<string, unknown>) => unknown;

/** Another process answers on the admin socket: a second algd must not start. */
export class AdminSocketInUseError extends Error {
  override readonly name = 'AdminSocketInUseError';
}

/** The service side of the admin API. */
export class AdminServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly handlers = new Map<string, AdminHandler>();
  private readonly key = randomBytes(ADMIN_KEY_BYTES);
  /** The file holding the admin key (see admin-protocol.ts). */
  readonly keyFile: string;
  /** Requests refused for a missing or wrong key. */
  refused = 0;

  constructor(readonly path: string, keyFile = adminKeyFileFor(path)) {
    this.keyFile = keyFile;
  }

  /** Registers the handler for `command`. */
  handle(command: string, handler: AdminHandler): void {
    this.handlers.set(command, handler);
  }

  /** Listens on the socket; removes a stale socket left by a crashed run, refuses a live one. */
  async listen(): Promise<void> {
    if (process.platform !== 'win32') {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
      await removeStaleSocket(this.path);
    }
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Created with umask 077 so there is no window in which others may connect.
      const oldMask = process.umask(0o077);
      server.listen(this.path, () => {
        process.umask(oldMask);
        server.off('error', reject);
        resolve();
      });
    });
    if (process.platform !== 'win32') chmodSync(this.path, 0o600);
    // Only once listening: a second instance that fails to listen must not replace the running one's key.
    mkdirSync(dirname(this.keyFile), { recursive: true, mode: 0o700 });
    writeFileSync(this.keyFile, `${this.key.toString('hex')}\n`, { mode: 0o600 });
    chmodSync(this.keyFile, 0o600);
    this.server = server;
  }

  /** Stops listening, ends open connections and removes the socket file. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.keyFile, { force: true });
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_ADMIN_REQUEST_BYTES) {
        this.reply(socket, { ok: false, error: 'request too large' });
        socket.end();
        return;
      }
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        void this.dispatch(line).then((response) => this.reply(socket, response));
      }
    });
  }

  private async dispatch(line: string): Promise<AdminResponse> {
    let request: AdminRequest;
    try {
      request = JSON.parse(line) as AdminRequest;
    } catch {
      return { ok: false, error: 'request is not JSON' };
    }
    if (!this.keyMatches(request?.key)) {
      this.refused++;
      return { ok: false, error: `not authorised: the request lacks the admin key in ${this.keyFile} (readable by administrators only)` };
    }
    const handler = typeof request?.command === 'string' ? this.handlers.get(request.command) : undefined;
    if (!handler) return { ok: false, error: `unknown command ${JSON.stringify(request?.command)}` };
    try {
      return { ok: true, result: await handler(request.args ?? {}) };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private keyMatches(key: unknown): boolean {
    if (typeof key !== 'string' || !/^[0-9a-f]+$/.test(key)) return false;
    const given = Buffer.from(key, 'hex');
    return given.length === this.key.length && timingSafeEqual(given, this.key);
  }

  private reply(socket: Socket, response: AdminResponse): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new AdminSocketInUseError(`another algd is running: ${path} answers`);
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
