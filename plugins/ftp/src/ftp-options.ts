import type { OptionsParser } from '@algd/sdk';

/** The FTP plugin's options (`plugins.ftp.options`). Every check is on by default. */
export interface FtpOptions {
  /** PORT/EPRT must name the client's own address (no FTP bounce to third parties); off, a third party's port goes on unmapped (server-to-server transfers). */
  readonly checkPortAddress: boolean;
  /** A 227 reply must name the server's own address. */
  readonly checkPassiveAddress: boolean;
  /** Data ports below this are refused (privileged services are never a data channel). */
  readonly minDataPort: number;
  /** Commands the gateway answers itself with a 5xx reply and never forwards (prefix match, case-insensitive). */
  readonly deniedCommands: readonly string[];
  /** How long an announced data channel waits for its connection, in ms. */
  readonly dataChannelLifetimeMs: number;
}

/**
 * ProFTPD's mod_copy (CVE-2015-3306) and SITE EXEC let a client act on the
 * server's files or run programs; nothing a gateway's users need.
 */
export const DEFAULT_DENIED_COMMANDS: readonly string[] = ['SITE EXEC', 'SITE CPFR', 'SITE CPTO'];

export const DEFAULT_FTP_OPTIONS: FtpOptions = Object.freeze({
  checkPortAddress: true,
  checkPassiveAddress: true,
  minDataPort: 1024,
  deniedCommands: DEFAULT_DENIED_COMMANDS,
  dataChannelLifetimeMs: 30_000,
});

const KEYS = Object.keys(DEFAULT_FTP_OPTIONS) as (keyof FtpOptions)[];

/** Validates {@link FtpOptions}: unknown keys and wrong types are errors that name the key. */
export const ftpOptions: OptionsParser<FtpOptions> = {
  parse(input: unknown): FtpOptions {
    if (input === undefined || input === null) return DEFAULT_FTP_OPTIONS;
    if (typeof input !== 'object' || Array.isArray(input)) throw new Error('ftp options: must be an object');
    const o = input as Record<string, unknown>;
    for (const key of Object.keys(o)) if (!(KEYS as string[]).includes(key)) throw new Error(`ftp options: unknown option ${JSON.stringify(key)} (known: ${KEYS.join(', ')})`);
    const out = { ...DEFAULT_FTP_OPTIONS, ...o } as FtpOptions;
    for (const key of ['checkPortAddress', 'checkPassiveAddress'] as const) {
      if (typeof out[key] !== 'boolean') throw new Error(`ftp options: ${key} must be true or false`);
    }
    if (!Number.isInteger(out.minDataPort) || out.minDataPort < 1 || out.minDataPort > 65535) throw new Error('ftp options: minDataPort must be a port number 1-65535');
    if (!Number.isInteger(out.dataChannelLifetimeMs) || out.dataChannelLifetimeMs < 1000 || out.dataChannelLifetimeMs > 600_000) {
      throw new Error('ftp options: dataChannelLifetimeMs must be an integer from 1000 to 600000');
    }
    if (!Array.isArray(out.deniedCommands) || !out.deniedCommands.every((c) => typeof c === 'string' && /^[A-Za-z]{3,4}( [ -~]+)?$/.test(c))) {
      throw new Error('ftp options: deniedCommands must be a list of commands such as "SITE EXEC"');
    }
    return { ...out, deniedCommands: out.deniedCommands.map((c) => c.toUpperCase()) };
  },
};
