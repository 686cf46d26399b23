import { ipAddress, ipFamily, type IpAddress } from '@algd/sdk';
import { runOk } from '../../os/run-command';
import type { AdapterInfo } from '@algd/sdk';

/** Finds the gateway address the OS uses as the source towards a destination. */
export type SourceAddressLookup = (destination: IpAddress) => Promise<IpAddress | undefined>;

/**
 * The route's preferred source, from `ip route get` (Linux). On other
 * systems, or when the lookup fails, undefined: callers fall back to the
 * adapters.
 */
export const linuxRouteSource: SourceAddressLookup = async (destination) => {
  if (process.platform !== 'linux') return undefined;
  try {
    const { stdout } = await runOk(['ip', '-j', `-${ipFamily(destination)}`, 'route', 'get', destination], { timeoutMs: 2_000 });
    const routes = JSON.parse(stdout) as { prefsrc?: string }[];
    const src = routes[0]?.prefsrc;
    return src === undefined ? undefined : ipAddress(src);
  } catch {
    return undefined;
  }
};

/** The first public (boundary, then firewalled) adapter address of the destination's family: the fallback for a failed route lookup. */
export function boundaryAddressFor(destination: IpAddress, adapters: readonly AdapterInfo[]): IpAddress | undefined {
  const family = ipFamily(destination);
  for (const type of ['boundary', 'firewalled'] as const) {
    for (const a of adapters) {
      if (a.type !== type) continue;
      const addr = a.addresses.find((x) => ipFamily(x) === family);
      if (addr !== undefined) return addr;
    }
  }
  return undefined;
}
