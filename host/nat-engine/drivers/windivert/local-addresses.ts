/**
 * The gateway's own addresses and the interface index of each, so the
 * driver can tell whether a translated packet is still local (see the
 * "loopback replies" part of windivert-driver.ts).
 *
 * Read from `os.networkInterfaces()` (adapter names there are the same
 * aliases the index resolver takes) on first use, and again when a lookup
 * misses and the last read is older than {@link REFRESH_INTERVAL_MS}, so an
 * address gained later (DHCP) is found without reading the table per packet.
 */

import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

import type { InterfaceIndexResolver } from './interface-index';

/** How stale the table may be before a miss triggers a re-read. */
export const REFRESH_INTERVAL_MS = 5_000;

/** Local address lookups the driver needs. */
export interface LocalAddressBook {
  /**
   * The interface index of the adapter holding the address in
   * `buf[offset, offset + length)` (4 or 16 bytes), or undefined when it is
   * not an address of this machine. Loopback addresses give the loopback
   * interface's index.
   */
  ifIdxOf(buf: Uint8Array, offset: number, length: 4 | 16): number | undefined;
}

type InterfaceTable = () => NodeJS.Dict<NetworkInterfaceInfo[]>;

export class OsLocalAddresses implements LocalAddressBook {
  private table = new Map<string, number>();
  private readAt = -Infinity;

  constructor(
    private readonly resolve: InterfaceIndexResolver,
    private readonly interfaces: InterfaceTable = networkInterfaces,
    private readonly now: () => number = Date.now,
  ) {}

  ifIdxOf(buf: Uint8Array, offset: number, length: 4 | 16): number | undefined {
    const key = Buffer.from(buf.buffer, buf.byteOffset + offset, length).toString('hex');
    const hit = this.table.get(key);
    if (hit !== undefined || this.now() - this.readAt < REFRESH_INTERVAL_MS) return hit;
    this.refresh();
    return this.table.get(key);
  }

  /** Re-reads the addresses; adapters whose index cannot be resolved are left out. */
  refresh(): void {
    const table = new Map<string, number>();
    for (const [name, infos] of Object.entries(this.interfaces())) {
      let idx: number | undefined;
      try {
        idx = this.resolve(name);
      } catch {
        continue;
      }
      for (const info of infos ?? []) {
        const key = addressKey(info.address);
        if (key !== undefined) table.set(key, idx);
      }
    }
    this.table = table;
    this.readAt = this.now();
  }
}

/** The hex of an address's bytes (`c0a80001` for 192.168.0.1), as keys of the table. */
export function addressKey(text: string): string | undefined {
  const bare = text.split('%')[0]!;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bare)) return Buffer.from(bare.split('.').map(Number)).toString('hex');
  if (!bare.includes(':')) return undefined;
  const [head, tail] = bare.split('::') as [string, string | undefined];
  const words = (s: string | undefined): string[] => (s ? s.split(':') : []);
  const h = words(head);
  const t = words(tail);
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  return groups.map((g) => g.padStart(4, '0').toLowerCase()).join('');
}
