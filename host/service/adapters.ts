import { networkInterfaces } from 'node:os';
import { ipAddress, type IpAddress } from '@algd/sdk';
import type { AdapterType, AlgdConfig } from '../config/config-schema';

/** A configured adapter with the addresses algd works with. */
export interface Adapter {
  readonly name: string;
  readonly type: AdapterType;
  readonly addresses: readonly IpAddress[];
  /** False when the OS has no interface of that name (addresses then come only from config). */
  readonly present: boolean;
}

/** Resolves configured adapters against the OS: configured addresses win, else the interface's own (link-local left out). */
export function resolveAdapters(configured: AlgdConfig['adapters'], osInterfaces = networkInterfaces()): Adapter[] {
  return configured.map((a) => {
    const os = osInterfaces[a.name];
    const discovered = (os ?? []).filter((i) => !i.internal && !i.address.startsWith('fe80:')).map((i) => ipAddress(i.address));
    return {
      name: a.name,
      type: a.type,
      addresses: a.addresses ? a.addresses.map(ipAddress) : discovered,
      present: os !== undefined,
    };
  });
}
