/**
 * Adapter name → interface index (WinDivert's Network.IfIdx), so the filter
 * and the per-packet adapter lookup work on numbers.
 *
 * Windows: the configured name is the adapter's alias ("Ethernet 2", what
 * `Get-NetAdapter` shows as Name), or its interface name
 * ("ethernet_32768"); IP Helper converts either to a LUID and the LUID to
 * the index. Linux (the compat library in the lab): the kernel's ifindex
 * from sysfs, which is what NFQUEUE reports as indev/outdev.
 */

import { readFileSync } from 'node:fs';

import { loadKoffi } from '../ffi/load-koffi';

/** Resolves an adapter name to its interface index; throws when there is no such adapter. */
export type InterfaceIndexResolver = (name: string) => number;

/** No adapter of that name. */
export class UnknownAdapterError extends Error {
  override readonly name = 'UnknownAdapterError';
}

/** The resolver for this platform. */
export function defaultInterfaceIndexResolver(): InterfaceIndexResolver {
  return process.platform === 'win32' ? windowsInterfaceIndex : linuxInterfaceIndex;
}

/** Linux: `/sys/class/net/NAME/ifindex` (of the calling process's network namespace). */
export function linuxInterfaceIndex(name: string): number {
  // The name becomes a path component: refuse anything that could leave the directory.
  if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) throw new UnknownAdapterError(`"${name}" is not a valid interface name`);
  let text: string;
  try {
    text = readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8');
  } catch (err) {
    throw new UnknownAdapterError(`no network interface "${name}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const idx = Number(text.trim());
  if (!Number.isInteger(idx) || idx < 1) throw new UnknownAdapterError(`interface "${name}" has an unreadable index: ${JSON.stringify(text)}`);
  return idx;
}

interface IpHelper {
  ConvertInterfaceAliasToLuid(alias: string, luid: Buffer): number;
  ConvertInterfaceNameToLuidW(name: string, luid: Buffer): number;
  ConvertInterfaceLuidToIndex(luid: Buffer, index: Uint32Array): number;
}

let ipHelper: IpHelper | undefined;

/** Windows: alias (or interface name) → NET_LUID → NET_IFINDEX through iphlpapi.dll. */
export function windowsInterfaceIndex(name: string): number {
  if (!ipHelper) {
    const lib = loadKoffi().load('iphlpapi.dll');
    ipHelper = {
      ConvertInterfaceAliasToLuid: lib.func('uint32_t __stdcall ConvertInterfaceAliasToLuid(const char16_t *alias, void *luid)') as IpHelper['ConvertInterfaceAliasToLuid'],
      ConvertInterfaceNameToLuidW: lib.func('uint32_t __stdcall ConvertInterfaceNameToLuidW(const char16_t *name, void *luid)') as IpHelper['ConvertInterfaceNameToLuidW'],
      ConvertInterfaceLuidToIndex: lib.func('uint32_t __stdcall ConvertInterfaceLuidToIndex(const void *luid, void *index)') as IpHelper['ConvertInterfaceLuidToIndex'],
    };
  }
  const luid = Buffer.alloc(8);
  let status = ipHelper.ConvertInterfaceAliasToLuid(name, luid);
  if (status !== 0) status = ipHelper.ConvertInterfaceNameToLuidW(name, luid);
  if (status !== 0) throw new UnknownAdapterError(`no network adapter named "${name}" (ConvertInterfaceAliasToLuid: Win32 error ${status}); use the Name column of Get-NetAdapter`);
  const index = new Uint32Array(1);
  status = ipHelper.ConvertInterfaceLuidToIndex(luid, index);
  if (status !== 0) throw new UnknownAdapterError(`adapter "${name}" has no interface index (ConvertInterfaceLuidToIndex: Win32 error ${status})`);
  return index[0]!;
}
