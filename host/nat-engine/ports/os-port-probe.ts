import { readFileSync } from 'node:fs';
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

/** A table line: `  12: 0100007F:1F90 00000000:0000 0A ...`; the local port is the 4 hex digits after the local address. */
const LOCAL_PORT = /^\s*\d+:\s+[0-9A-Fa-f]+:([0-9A-Fa-f]{4})\s/;

/**
 * Linux: the local ports of every socket in `/proc/net/{tcp,tcp6,udp,udp6}`,
 * whatever its state and address (conservative: a listener on 127.0.0.1
 * still rules the port out).
 *
 * A reading is cached for `cacheMs`, so a burst of reservations (a SIP
 * call setting up several media streams) reads the files once; a socket
 * opened within that window can be missed, which the short window makes
 * acceptable. Files that do not exist (IPv6 disabled) count as empty;
 * other read errors propagate.
 */
export class LinuxProcPortProbe implements PortInUseProbe {
  private readonly procNetDir: string;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly ports: Record<TransportProtocol, Uint8Array> = { tcp: new Uint8Array(65536), udp: new Uint8Array(65536) };
  private readonly readAt: Record<TransportProtocol, number> = { tcp: -Infinity, udp: -Infinity };

  constructor(opts: LinuxProcPortProbeOptions = {}) {
    this.procNetDir = opts.procNetDir ?? '/proc/net';
    this.cacheMs = opts.cacheMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  isInUse(protocol: TransportProtocol, port: number): boolean {
    const now = this.now();
    if (now - this.readAt[protocol] >= this.cacheMs) this.read(protocol, now);
    return this.ports[protocol][port] === 1;
  }

  /** Forgets the cached reading: the next question reads the tables again. */
  invalidate(): void {
    this.readAt.tcp = -Infinity;
    this.readAt.udp = -Infinity;
  }

  private read(protocol: TransportProtocol, now: number): void {
    const ports = this.ports[protocol];
    ports.fill(0);
    for (const file of [protocol, `${protocol}6`]) {
      const text = readIfExists(join(this.procNetDir, file));
      if (text !== undefined) addLocalPorts(text, ports);
    }
    this.readAt[protocol] = now;
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

function addLocalPorts(table: string, into: Uint8Array): void {
  for (const line of table.split('\n')) {
    const m = LOCAL_PORT.exec(line);
    if (m !== null) into[parseInt(m[1]!, 16)] = 1;
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
