/**
 * Which side a queued packet came from, by the interface index netfilter
 * reports: the driver knows adapters by name (configuration), the kernel
 * tells ifindexes. Indexes are read from sysfs of the network namespace the
 * process runs in, at open and again (at most once a second) when an
 * unknown index shows up, since an interface may be created or recreated
 * (a new ifindex) while algd runs.
 */

import { readFileSync } from 'node:fs';

import type { CaptureAdapter } from '../capture-spec';

export type AdapterSide = CaptureAdapter['side'];

/** The ifindex of `name` in this network namespace, or undefined when there is no such interface. */
export type IfindexReader = (name: string) => number | undefined;

const REFRESH_MS = 1000;

export function sysfsIfindex(name: string): number | undefined {
  if (name.includes('/') || name === '.' || name === '..') return undefined;
  try {
    const n = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export class InterfaceSides {
  private byIndex = new Map<number, CaptureAdapter>();
  private refreshedAt = -Infinity;

  constructor(
    private readonly adapters: readonly CaptureAdapter[],
    private readonly readIndex: IfindexReader = sysfsIfindex,
    private readonly now: () => number = Date.now,
  ) {
    this.refresh();
  }

  /** Adapters that had no interface of their name at the last look. */
  missing(): string[] {
    const present = new Set([...this.byIndex.values()].map((a) => a.name));
    return this.adapters.map((a) => a.name).filter((n) => !present.has(n));
  }

  /** The side of interface `ifindex`; undefined for 0 (none) and interfaces that are not adapters. */
  sideOf(ifindex: number): AdapterSide | undefined {
    if (ifindex === 0) return undefined;
    const adapter = this.byIndex.get(ifindex);
    if (adapter !== undefined || this.now() - this.refreshedAt < REFRESH_MS) return adapter?.side;
    this.refresh();
    return this.byIndex.get(ifindex)?.side;
  }

  private refresh(): void {
    this.refreshedAt = this.now();
    const byIndex = new Map<number, CaptureAdapter>();
    for (const a of this.adapters) {
      const index = this.readIndex(a.name);
      if (index !== undefined) byIndex.set(index, a);
    }
    this.byIndex = byIndex;
  }
}
