/**
 * vsftpd in the lab's server namespace: a real FTP server for `algd lab`
 * and the FTP end-to-end tests. Anonymous, IPv4 and IPv6 on one socket,
 * active and passive mode, uploads into `pub/`, every command and reply
 * logged. Files are the caller's: it fills `root` before starting.
 */

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Lab, LabHost } from './lab';
import type { LabProcess } from './lab-process';

/** The server's passive-mode data ports. */
export const VSFTPD_PASV_PORTS = { from: 40000, to: 40199 } as const;

export interface VsftpdOptions {
  /** A folder of the lab's work dir for the configuration, the log and an empty chroot dir. */
  readonly base: string;
  /** anon_root: read-only for the server, with a writable `pub/` for uploads. */
  readonly root: string;
  /**
   * vsftpd's `port_promiscuous`. Off (vsftpd's default), PORT/EPRT must name
   * the control connection's peer, so an active transfer through a NAT works
   * only when the gateway rewrote it to its public address. On, the server
   * connects wherever PORT says.
   */
  readonly portPromiscuous?: boolean;
  /** The namespace it runs in; default the server. */
  readonly host?: LabHost;
  /** The control port; default 21. */
  readonly port?: number;
}

export interface Vsftpd {
  readonly process: LabProcess;
  /** vsftpd's log (every command and reply: log_ftp_protocol). */
  readonly logFile: string;
  /** What vsftpd logged so far. */
  log(): string;
}

/** Writes the configuration and starts vsftpd (in the server namespace unless told otherwise); resolves when it listens on its control port. */
export async function startVsftpd(lab: Lab, opts: VsftpdOptions): Promise<Vsftpd> {
  const empty = join(opts.base, 'empty');
  mkdirSync(empty, { recursive: true });
  const logFile = join(opts.base, 'vsftpd.log');
  const config = join(opts.base, 'vsftpd.conf');
  writeFileSync(config, [
    // listen_ipv6 on a dual-stack socket serves IPv4 too; listen must then be NO.
    'listen=NO',
    'listen_ipv6=YES',
    'background=NO',
    `listen_port=${opts.port ?? 21}`,
    'anonymous_enable=YES',
    'local_enable=NO',
    'no_anon_password=YES',
    // Debian's vsftpd package creates the user ftp; anonymous sessions run as it.
    'ftp_username=ftp',
    `anon_root=${opts.root}`,
    'write_enable=YES',
    'anon_upload_enable=YES',
    'anon_umask=022',
    'port_enable=YES',
    'connect_from_port_20=NO',
    `port_promiscuous=${opts.portPromiscuous ? 'YES' : 'NO'}`,
    'pasv_enable=YES',
    `pasv_min_port=${VSFTPD_PASV_PORTS.from}`,
    `pasv_max_port=${VSFTPD_PASV_PORTS.to}`,
    // The seccomp sandbox kills vsftpd in some namespaced setups; the lab is not the place to debug it.
    'seccomp_sandbox=NO',
    `secure_chroot_dir=${empty}`,
    'xferlog_enable=YES',
    'xferlog_std_format=NO',
    'log_ftp_protocol=YES',
    'syslog_enable=NO',
    `vsftpd_log_file=${logFile}`,
    'dual_log_enable=NO',
    'use_localtime=NO',
    '',
  ].join('\n'));
  const vsftpd = lab.spawn(opts.host ?? 'server', ['vsftpd', config]);
  await vsftpd.waitForPort('tcp', opts.port ?? 21, 10_000);
  return { process: vsftpd, logFile, log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') };
}
