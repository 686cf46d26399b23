/**
 * `net.ipv4.conf.<iface>.route_localnet` on private adapters, set while
 * algd runs and put back as it was found.
 *
 * Why: the engine redirects a client's connection to a listener on
 * 127.0.0.1 before routing; without route_localnet the kernel drops a packet
 * from a real interface addressed to 127/8 as a martian, and refuses to
 * route the listener's replies (source 127.0.0.1) out of that interface.
 * IPv6 has no such switch (::1 never leaves lo): IPv6 listeners use the
 * gateway's own private address instead.
 *
 * Crash safety: the values found are written to a state file before
 * anything is changed. A run that finds such a file (the previous one was
 * killed) puts those values back first, so the original values survive any
 * number of crashes. The file is per network namespace (its inode number is
 * in the name): /run is shared by every namespace of the machine.
 */

import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CONF_DIR = '/proc/sys/net/ipv4/conf';

interface StateFile {
  readonly pid: number;
  /** Interface name → the value found before algd changed it. */
  readonly routeLocalnet: Record<string, string>;
}

export interface RouteLocalnetOptions {
  /** Directory of the state file (default /run/algd). */
  readonly stateDir: string;
  /** Where the per-interface sysctls are (tests); default /proc/sys/net/ipv4/conf. */
  readonly confDir?: string;
  /** Distinguishes network namespaces sharing `stateDir`; default the inode of /proc/self/ns/net. */
  readonly namespaceId?: string;
}

export class RouteLocalnet {
  readonly stateFile: string;
  private readonly confDir: string;
  private applied = false;
  /** Interface → the value found before algd changed it (what the state file holds). */
  private recorded: Record<string, string> = {};

  constructor(opts: RouteLocalnetOptions) {
    this.confDir = opts.confDir ?? CONF_DIR;
    const ns = opts.namespaceId ?? `net${statSync('/proc/self/ns/net').ino}`;
    this.stateFile = join(opts.stateDir, `route-localnet.${ns}.json`);
  }

  /**
   * Puts back what a killed run recorded, if it left a state file, and
   * removes the file. Returns the interfaces restored.
   */
  recover(): string[] {
    const state = this.readState();
    if (state === undefined) return [];
    const restored = this.write(state.routeLocalnet);
    rmSync(this.stateFile, { force: true });
    return restored;
  }

  /**
   * Records the current values of `ifaces`, then sets route_localnet=1 on
   * each. Interfaces without IPv4 configuration are skipped. Called again
   * (a reload), it adds interfaces not recorded yet and keeps the values
   * first found for the others.
   */
  enable(ifaces: readonly string[]): void {
    const found: Record<string, string> = {};
    for (const iface of ifaces) {
      if (iface in this.recorded) continue;
      const value = this.read(iface);
      if (value !== undefined) found[iface] = value;
    }
    if (Object.keys(found).length === 0) return;
    const all = { ...this.recorded, ...found };
    mkdirSync(join(this.stateFile, '..'), { recursive: true, mode: 0o755 });
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ pid: process.pid, routeLocalnet: all } satisfies StateFile)}\n`, { mode: 0o600 });
    renameSync(tmp, this.stateFile);
    this.recorded = all;
    this.applied = true;
    this.write(Object.fromEntries(Object.keys(found).map((iface) => [iface, '1'])));
  }

  /** Puts the recorded values back and removes the state file. Idempotent; a no-op when enable() changed nothing. */
  restore(): string[] {
    if (!this.applied) return [];
    this.applied = false;
    this.recorded = {};
    return this.recover();
  }

  private readState(): StateFile | undefined {
    let text: string;
    try {
      text = readFileSync(this.stateFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const state = JSON.parse(text) as StateFile;
    if (typeof state?.routeLocalnet !== 'object' || state.routeLocalnet === null) throw new Error(`${this.stateFile}: not an algd route_localnet state file`);
    return state;
  }

  private read(iface: string): string | undefined {
    try {
      return readFileSync(join(this.confDir, safeName(iface), 'route_localnet'), 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Writes each value; interfaces that have gone are skipped. Returns those written. */
  private write(values: Record<string, string>): string[] {
    const done: string[] = [];
    for (const [iface, value] of Object.entries(values)) {
      if (!/^[01]$/.test(value)) continue;
      try {
        writeFileSync(join(this.confDir, safeName(iface), 'route_localnet'), value);
        done.push(iface);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return done;
  }
}

/** An interface name as a path component: never `..` or a slash (Linux names cannot hold either). */
function safeName(iface: string): string {
  if (iface === '' || iface === '.' || iface === '..' || iface.includes('/')) throw new RangeError(`not an interface name: ${JSON.stringify(iface)}`);
  return iface;
}
