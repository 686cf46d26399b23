import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TransportProtocol } from '@algd/sdk';
import { NO_PORT_IN_USE_PROBE, type PortInUseProbe } from './port-in-use-probe';

export interface LinuxProcPortProbeOptions {
  /** Where the socket tables are. Default `/proc/net` (tests point it at fixtures). */
  readonly procNetDir?: string;
  /** How long one reading of the tables is trusted, in ms. Default 1000. */
  readonly cacheMs?: number;
  /** Millisecond clock. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Linux: the local ports of every socket in `/proc/net/{tcp,tcp6,udp,udp6}`,
 * whatever its state and address (conservative: a listener on 127.0.0.1
 * still rules the port out).
 *
 * A reading is fresh for `cacheMs`. A question about a reading up to twice
 * as old is answered from it while a new reading is taken in the
 * background (the kernel builds the tables in the read, off the event
 * loop), so under a steady rate of reservations none waits for the tables,
 * which on a busy gateway hold thousands of connections (TIME_WAIT
 * included) and took 10-20 ms to read and parse. The first question about a
 * protocol, the first after {@link invalidate}, and one about an older
 * reading (a quiet gateway) read the tables synchronously. A socket opened
 * since the reading answered from (at most 2 × `cacheMs` ago, plus the time
 * a background reading takes) can be missed, which the short window makes
 * acceptable. Files that do not exist (IPv6 disabled) count
 * as empty; other errors of a synchronous read propagate, those of a
 * background reading keep the previous one (the next question tries again).
 */
export class LinuxProcPortProbe implements PortInUseProbe {
  private readonly procNetDir: string;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly ports: Record<TransportProtocol, Uint8Array> = { tcp: new Uint8Array(65536), udp: new Uint8Array(65536) };
  private readonly readAt: Record<TransportProtocol, number> = { tcp: -Infinity, udp: -Infinity };
  /** The background reading in flight, per protocol. */
  private readonly refreshing: Record<TransportProtocol, Promise<void> | undefined> = { tcp: undefined, udp: undefined };
  /** Bumped by each synchronous reading and invalidate(): a background reading started before one is dropped. */
  private generation = 0;

  constructor(opts: LinuxProcPortProbeOptions = {}) {
    this.procNetDir = opts.procNetDir ?? '/proc/net';
    this.cacheMs = opts.cacheMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  isInUse(protocol: TransportProtocol, port: number): boolean {
    const now = this.now();
    const age = now - this.readAt[protocol];
    if (age >= 2 * this.cacheMs) this.read(protocol, now);
    else if (age >= this.cacheMs && this.refreshing[protocol] === undefined) this.refresh(protocol, now);
    return this.ports[protocol][port] === 1;
  }

  /** Forgets the cached reading: the next question reads the tables again, synchronously. */
  invalidate(): void {
    this.generation++;
    this.readAt.tcp = -Infinity;
    this.readAt.udp = -Infinity;
  }

  /** Resolves when no background reading is in flight (tests). */
  async settled(): Promise<void> {
    await Promise.all([this.refreshing.tcp, this.refreshing.udp]);
  }

  private read(protocol: TransportProtocol, now: number): void {
    this.generation++;
    const tables = [protocol, `${protocol}6`].map((file) => readIfExists(join(this.procNetDir, file)));
    this.apply(protocol, tables, now);
  }

  /** Takes a new reading in the background; the current one answers meanwhile. */
  private refresh(protocol: TransportProtocol, startedAt: number): void {
    const generation = this.generation;
    const reading = Promise.all([protocol, `${protocol}6`].map((file) => readIfExistsAsync(join(this.procNetDir, file)))).then(
      (tables) => {
        if (generation === this.generation) this.apply(protocol, tables, startedAt);
      },
      () => undefined,
    );
    this.refreshing[protocol] = reading.finally(() => {
      this.refreshing[protocol] = undefined;
    });
  }

  private apply(protocol: TransportProtocol, tables: readonly (Buffer | undefined)[], readAt: number): void {
    const ports = this.ports[protocol];
    ports.fill(0);
    for (const table of tables) if (table !== undefined) addLocalPorts(table, ports);
    this.readAt[protocol] = readAt;
  }
}

/**
 * The probe for this platform: `/proc` on Linux; elsewhere, for now, none.
 * Windows will need its own, over iphlpapi's GetExtendedTcpTable and
 * GetExtendedUdpTable (through koffi, like the WinDivert driver); until
 * then mappings there may collide with local sockets.
 */
export function createOsPortProbe(platform: NodeJS.Platform = process.platform): PortInUseProbe {
  return platform === 'linux' ? new LinuxProcPortProbe() : NO_PORT_IN_USE_PROBE;
}

const COLON = 0x3a;
const NEWLINE = 0x0a;
const SPACE = 0x20;

/**
 * Marks the local port of each socket line of a table, read from the
 * bytes (no string per line): a line is `  12: 0100007F:1F90 00000000:0000
 * 0A ...`, so the local port is the 4 hex digits after the second colon
 * and followed by a space. The header line has no such colon and is
 * skipped, as is anything malformed.
 */
function addLocalPorts(table: Uint8Array, into: Uint8Array): void {
  let i = 0;
  const n = table.length;
  while (i < n) {
    let end = table.indexOf(NEWLINE, i);
    if (end < 0) end = n;
    const first = table.indexOf(COLON, i);
    const second = first < 0 || first >= end ? -1 : table.indexOf(COLON, first + 1);
    if (second >= 0 && second + 5 < end && table[second + 5] === SPACE) {
      let port = 0;
      for (let k = second + 1; k <= second + 4; k++) {
        const d = hexDigit(table[k]!);
        if (d < 0) {
          port = -1;
          break;
        }
        port = port * 16 + d;
      }
      if (port >= 0) into[port] = 1;
    }
    i = end + 1;
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function readIfExists(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function readIfExistsAsync(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
