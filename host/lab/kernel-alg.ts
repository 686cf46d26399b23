/**
 * The Linux kernel's own ALGs on the lab gateway, as the reference algd is
 * compared against: FTP (nf_conntrack_ftp + nf_nat_ftp) and SIP
 * (nf_conntrack_sip + nf_nat_sip). Each is an nftables table with a
 * `ct helper` object per transport and a prerouting rule assigning it to
 * connections to the protocol's port (helpers are never assigned
 * automatically any more). Together with the lab's masquerade, the kernel
 * then rewrites the addresses in the payload and lets the announced data
 * or media channels back in. Shared by the end-to-end tests and the
 * benchmark (bench/alg-vs-kernel.ts).
 */

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import type { Lab } from './lab';

export type KernelAlg = 'ftp' | 'sip';

interface KernelAlgSpec {
  /** The helper's transports and the port it is assigned to. */
  readonly transports: readonly ('tcp' | 'udp')[];
  readonly port: number;
  /** The kernel modules, each with the build option that builds it in. */
  readonly modules: Readonly<Record<string, string>>;
}

const SPECS: Readonly<Record<KernelAlg, KernelAlgSpec>> = {
  ftp: { transports: ['tcp'], port: 21, modules: { nf_conntrack_ftp: 'CONFIG_NF_CONNTRACK_FTP', nf_nat_ftp: 'CONFIG_NF_NAT_FTP' } },
  sip: { transports: ['udp', 'tcp'], port: 5060, modules: { nf_conntrack_sip: 'CONFIG_NF_CONNTRACK_SIP', nf_nat_sip: 'CONFIG_NF_NAT_SIP' } },
};

/** The gateway's nftables table holding an ALG's helper. */
export const kernelAlgTable = (alg: KernelAlg): { readonly family: 'inet'; readonly name: string } => ({ family: 'inet', name: `algd_lab_${alg}_helper` });

/** The helper object's name for one transport (`ftp`; `sip-udp`, `sip-tcp`). */
export const kernelHelperName = (alg: KernelAlg, transport: 'tcp' | 'udp'): string => (SPECS[alg].transports.length === 1 ? alg : `${alg}-${transport}`);

/** The ruleset: the helper objects and their assignment, for IPv4 and IPv6 (inet). */
export function kernelAlgRuleset(alg: KernelAlg): string {
  const spec = SPECS[alg];
  const table = kernelAlgTable(alg);
  return [
    `table ${table.family} ${table.name} {`,
    ...spec.transports.flatMap((t) => [`  ct helper ${kernelHelperName(alg, t)} {`, `    type "${alg}" protocol ${t};`, '  }']),
    '  chain prerouting {',
    '    type filter hook prerouting priority filter; policy accept;',
    ...spec.transports.map((t) => `    ${t} dport ${spec.port} ct helper set "${kernelHelperName(alg, t)}"`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The kernel's build configuration (`/proc/config.gz`), if it exposes one. */
function kernelConfig(): string | undefined {
  try {
    return gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * Why the kernel's helper for `alg` cannot be used here, or undefined when
 * it can: each module loads with modprobe, or is built in. Without
 * modprobe (a container without kmod), the kernel's configuration or
 * /sys/module decides; a module that exists only as a loadable file is
 * then out of reach and reported so.
 */
export function kernelAlgUnavailable(alg: KernelAlg): string | undefined {
  const config = kernelConfig();
  const problems: string[] = [];
  for (const [mod, key] of Object.entries(SPECS[alg].modules)) {
    const r = spawnSync('modprobe', [mod], { encoding: 'utf8', timeout: 30_000 });
    // ENOENT: no modprobe on PATH (a container without kmod).
    const modprobe = (r.error as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT';
    if (modprobe) {
      if (r.status === 0) continue;
      const builtIn = new RegExp(`^${key}=y$`, 'm').test(config ?? '');
      if (!builtIn) problems.push(`modprobe ${mod} failed: ${(r.stderr || String(r.error ?? r.status)).trim()}`);
      continue;
    }
    const setting = new RegExp(`^${key}=(.)$`, 'm').exec(config ?? '')?.[1];
    // Built in, or loaded already (a built-in module with parameters, or any loaded one, is in /sys/module).
    if (setting === 'y' || existsSync(`/sys/module/${mod}`)) continue;
    if (setting === 'm') problems.push(`${mod} is a loadable module (${key}=m) but modprobe is not installed to load it`);
    else if (config !== undefined) problems.push(`the kernel has no ${mod} (${key} is not set)`);
    else problems.push(`cannot tell whether the kernel has ${mod}: no modprobe, no /proc/config.gz, not in /sys/module`);
  }
  return problems.length > 0 ? `the kernel's ${alg.toUpperCase()} helper is not available: ${problems.join('; ')}` : undefined;
}

/** Installs the helper rules of `alg` in the lab's gateway (fails clearly when the kernel has no such helper). */
export async function installKernelAlg(lab: Lab, alg: KernelAlg): Promise<void> {
  const unavailable = kernelAlgUnavailable(alg);
  if (unavailable !== undefined) throw new Error(unavailable);
  const r = await lab.exec('gateway', ['nft', '-f', '-'], { input: kernelAlgRuleset(alg) });
  if (r.code !== 0) throw new Error(`the gateway's nftables refused the ${alg.toUpperCase()} helper (is nf_conntrack_${alg} in this kernel?): ${r.stderr.trim()}`);
}

/** Removes the helper rules of `alg` from the lab's gateway (nothing if they are not there). */
export async function removeKernelAlg(lab: Lab, alg: KernelAlg): Promise<void> {
  const table = kernelAlgTable(alg);
  const listed = await lab.exec('gateway', ['nft', 'list', 'table', table.family, table.name]);
  if (listed.code === 0) await lab.execOk('gateway', ['nft', 'delete', 'table', table.family, table.name]);
}
