/**
 * The Linux kernel's own FTP ALG (nf_conntrack_ftp + nf_nat_ftp) on the lab
 * gateway, as the reference algd is compared against: an nftables table
 * with a `ct helper "ftp"` object and a prerouting rule assigning it to
 * connections to port 21 (helpers are never assigned automatically any
 * more). Together with the lab's masquerade, the kernel then rewrites
 * PORT/EPRT and lets the server's data connection back in.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import type { Lab } from '../../host/lab/lab';
import { findTool } from './require-tool';

export const KERNEL_FTP_TABLE = { family: 'inet', name: 'algd_lab_ftp_helper' } as const;

/** The ruleset: the helper object and its assignment, for IPv4 and IPv6 (inet). */
export const KERNEL_FTP_RULESET = [
  `table ${KERNEL_FTP_TABLE.family} ${KERNEL_FTP_TABLE.name} {`,
  '  ct helper ftp {',
  '    type "ftp" protocol tcp;',
  '  }',
  '  chain prerouting {',
  '    type filter hook prerouting priority filter; policy accept;',
  '    tcp dport 21 ct helper set "ftp"',
  '  }',
  '}',
  '',
].join('\n');

const MODULES = ['nf_conntrack_ftp', 'nf_nat_ftp'] as const;
const CONFIG_KEYS: Readonly<Record<(typeof MODULES)[number], string>> = { nf_conntrack_ftp: 'CONFIG_NF_CONNTRACK_FTP', nf_nat_ftp: 'CONFIG_NF_NAT_FTP' };

/** The kernel's build configuration (`/proc/config.gz`), if it exposes one. */
function kernelConfig(): string | undefined {
  try {
    return gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * Why the kernel's FTP helper cannot be used here, or undefined when it can:
 * each module loads with modprobe, or is built in. Without modprobe (a
 * container without kmod), the kernel's configuration or /sys/module
 * decides; a module that exists only as a loadable file is then out of
 * reach and reported so.
 */
export function kernelFtpHelperUnavailable(): string | undefined {
  const modprobe = findTool('modprobe');
  const config = kernelConfig();
  const problems: string[] = [];
  for (const mod of MODULES) {
    if (modprobe !== undefined) {
      const r = spawnSync(modprobe, [mod], { encoding: 'utf8', timeout: 30_000 });
      if (r.status === 0) continue;
      const builtIn = new RegExp(`^${CONFIG_KEYS[mod]}=y$`, 'm').test(config ?? '');
      if (!builtIn) problems.push(`modprobe ${mod} failed: ${(r.stderr || String(r.error ?? r.status)).trim()}`);
      continue;
    }
    const setting = new RegExp(`^${CONFIG_KEYS[mod]}=(.)$`, 'm').exec(config ?? '')?.[1];
    // Built in, or loaded already (a built-in module with parameters, or any loaded one, is in /sys/module).
    if (setting === 'y' || existsSync(`/sys/module/${mod}`)) continue;
    if (setting === 'm') problems.push(`${mod} is a loadable module (${CONFIG_KEYS[mod]}=m) but modprobe is not installed to load it`);
    else if (config !== undefined) problems.push(`the kernel has no ${mod} (${CONFIG_KEYS[mod]} is not set)`);
    else problems.push(`cannot tell whether the kernel has ${mod}: no modprobe, no /proc/config.gz, not in /sys/module`);
  }
  return problems.length > 0 ? `the kernel's FTP helper is not available: ${problems.join('; ')}` : undefined;
}

/** Installs the helper rules in the lab's gateway (fails clearly when the kernel has no FTP helper). */
export async function installKernelFtpAlg(lab: Lab): Promise<void> {
  const unavailable = kernelFtpHelperUnavailable();
  if (unavailable !== undefined) throw new Error(unavailable);
  const r = await lab.exec('gateway', ['nft', '-f', '-'], { input: KERNEL_FTP_RULESET });
  if (r.code !== 0) throw new Error(`the gateway's nftables refused the FTP helper (is nf_conntrack_ftp in this kernel?): ${r.stderr.trim()}`);
}

/** Removes the helper rules from the lab's gateway (nothing if they are not there). */
export async function removeKernelFtpAlg(lab: Lab): Promise<void> {
  const listed = await lab.exec('gateway', ['nft', 'list', 'table', KERNEL_FTP_TABLE.family, KERNEL_FTP_TABLE.name]);
  if (listed.code === 0) await lab.execOk('gateway', ['nft', 'delete', 'table', KERNEL_FTP_TABLE.family, KERNEL_FTP_TABLE.name]);
}
