/**
 * The peers of bench/plugin-host.ts, in a child process of their own so
 * that the measured process holds only the plugin host's sockets and
 * sessions. Forked with one role:
 *
 * - `server`: echo servers on 127.0.0.2 (each chunk is written back at once).
 * - `client`: TCP clients, either a few long-lived connections timing
 *   sequential line round trips, or many connections that each send one
 *   line, wait for its echo and then stay open, idle.
 *
 * The parent drives a child with IPC requests `{ id, op, ... }` and gets
 * `{ id, ok, ... }` back. Every wait is bounded; the child exits when the
 * parent goes away.
 */

import { connect, createServer, type Server, type Socket } from 'node:net';

export interface PeerRequest {
  readonly id: number;
  readonly op: string;
  readonly [k: string]: unknown;
}

export interface PeerStats {
  readonly sockets: number;
  readonly rss: number;
}

/** One echo failed or timed out. */
class EchoError extends Error {}

const role = process.argv[2];
if (role !== 'client' && role !== 'server') {
  process.stderr.write('usage: plugin-host-peers.js client|server\n');
  process.exit(2);
}

const sockets = new Set<Socket>();
const servers: Server[] = [];

function track(s: Socket): void {
  sockets.add(s);
  s.once('close', () => sockets.delete(s));
}

// ---------------------------------------------------------------- server

async function listen(port: number): Promise<void> {
  const server = createServer({ noDelay: true }, (sock) => {
    track(sock);
    sock.on('error', () => undefined);
    sock.on('data', (d) => sock.write(d));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.2', port, backlog: 4096, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  servers.push(server);
}

// ---------------------------------------------------------------- client

/** A client connection whose echo of `expect` bytes can be awaited. */
class EchoClient {
  private got = 0;
  private want = 0;
  private wake: ((err?: Error) => void) | undefined;

  private constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.got += d.length;
      if (this.wake && this.got >= this.want) {
        const w = this.wake;
        this.wake = undefined;
        w();
      }
    });
    sock.on('close', () => this.wake?.(new EchoError('connection closed before the echo')));
  }

  static open(host: string, port: number, local: { address?: string; port?: number }, timeoutMs: number): Promise<EchoClient> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host, port, noDelay: true, ...(local.address ? { localAddress: local.address } : {}), ...(local.port ? { localPort: local.port } : {}) });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new EchoError(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once('error', (err) => {
        clearTimeout(timer);
        sock.destroy();
        reject(err);
      });
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        sock.on('error', () => undefined);
        track(sock);
        resolve(new EchoClient(sock));
      });
    });
  }

  /** Writes `line` and resolves when as many bytes came back. */
  echo(line: Buffer, timeoutMs: number): Promise<void> {
    this.want = this.got + line.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        reject(new EchoError(`no echo within ${timeoutMs} ms`));
      }, timeoutMs);
      this.wake = (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      this.sock.write(line);
    });
  }
}

const timed = new Map<string, EchoClient>();

/**
 * Sequential round trips on one connection: their times and their starts,
 * in microseconds (the starts on the machine's monotonic clock, which the
 * parent reads too).
 */
async function roundTrips(key: string, count: number, line: Buffer): Promise<{ samples: number[]; starts: number[] }> {
  const c = timed.get(key);
  if (!c) throw new Error(`no connection ${key}`);
  const samples: number[] = new Array(count);
  const starts: number[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await c.echo(line, 5_000);
    samples[i] = Number(process.hrtime.bigint() - t0) / 1e3;
    starts[i] = Number(t0) / 1e3;
  }
  return { samples, starts };
}

/** Opens one connection per local port; each sends `line`, waits for its echo and stays open. */
async function openMany(host: string, port: number, localAddress: string, localPorts: readonly number[], concurrency: number, line: Buffer): Promise<{ opened: number; failed: { port: number; error: string }[] }> {
  let next = 0;
  let opened = 0;
  const failed: { port: number; error: string }[] = [];
  const lane = async (): Promise<void> => {
    while (next < localPorts.length) {
      const p = localPorts[next++]!;
      try {
        const c = await EchoClient.open(host, port, { address: localAddress, port: p }, 10_000);
        try {
          await c.echo(line, 10_000);
          opened++;
        } catch (err) {
          c.sock.destroy();
          throw err;
        }
      } catch (err) {
        failed.push({ port: p, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, localPorts.length) }, lane));
  return { opened, failed };
}

// ---------------------------------------------------------------- IPC

async function closeAll(): Promise<void> {
  const all = [...sockets];
  for (const s of all) s.destroy();
  timed.clear();
  await new Promise<void>((resolve) => {
    const t0 = Date.now();
    const check = (): void => (sockets.size === 0 || Date.now() - t0 > 10_000 ? resolve() : void setTimeout(check, 20));
    check();
  });
}

async function handle(req: PeerRequest): Promise<Record<string, unknown>> {
  switch (req.op) {
    case 'listen':
      await listen(req['port'] as number);
      return {};
    case 'open': {
      const c = await EchoClient.open(req['host'] as string, req['port'] as number, { address: req['localAddress'] as string | undefined, port: req['localPort'] as number | undefined }, 10_000);
      timed.set(req['key'] as string, c);
      return { local: `${c.sock.localAddress}:${c.sock.localPort}` };
    }
    case 'roundTrips':
      return roundTrips(req['key'] as string, req['count'] as number, Buffer.from(req['line'] as string, 'latin1'));
    case 'openMany':
      return openMany(req['host'] as string, req['port'] as number, req['localAddress'] as string, req['localPorts'] as number[], req['concurrency'] as number, Buffer.from(req['line'] as string, 'latin1'));
    case 'closeAll':
      await closeAll();
      return {};
    case 'stats':
      return { sockets: sockets.size, rss: process.memoryUsage().rss } satisfies PeerStats;
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

process.on('message', (req: PeerRequest) => {
  handle(req).then(
    (r) => process.send?.({ ...r, id: req.id, ok: true }),
    (err: unknown) => process.send?.({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
// The parent went away (or ended the bench): nothing to keep.
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, ok: true, ready: role });
