/**
 * Real FTP peers for lab tests: vsftpd on the server, and curl, lftp and
 * Python's ftplib on the client, each bounded in time and size. A client
 * case reports what it sent on the control connection (PORT, EPRT, PASV,
 * EPSV) and, per transfer, the SHA-256 of the original next to the SHA-256
 * of what arrived, so a test compares hashes, not exit codes.
 *
 * The server's files live in the lab's work folder: `pub/big.bin` (1.5 MiB),
 * `many/fNN.bin` (40 files of 32 KiB), and `pub/` takes uploads.
 */

import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { SERVER_V4, SERVER_V6 } from '../../host/lab/addresses';
import type { Lab } from '../../host/lab/lab';
import type { LabProcess } from '../../host/lab/lab-process';
import { startVsftpd as startLabVsftpd, VSFTPD_PASV_PORTS } from '../../host/lab/vsftpd';

export const BIG_FILE = 'pub/big.bin';
export const BIG_FILE_BYTES = 1_500_000;
export const MANY_FILES = 40;
export const MANY_FILE_BYTES = 32 * 1024;
export const UPLOAD_BYTES = 1024 * 1024;
/** vsftpd's passive ports. */
export const PASV_PORTS = VSFTPD_PASV_PORTS;

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
export const sha256File = (path: string): string | undefined => (existsSync(path) ? sha256(readFileSync(path)) : undefined);
const manyName = (i: number): string => `many/f${String(i).padStart(2, '0')}.bin`;

export interface FtpServerOptions {
  /**
   * vsftpd's `port_promiscuous`. Off (vsftpd's default), PORT/EPRT must name
   * the control connection's peer, so an active transfer through a NAT works
   * only when the gateway rewrote it to its public address. On, the server
   * connects wherever PORT says: without an ALG it then tries the client's
   * private address and cannot reach it.
   */
  readonly portPromiscuous?: boolean;
}

export interface FtpServer {
  readonly process: LabProcess;
  /** vsftpd's anon_root. */
  readonly root: string;
  /** vsftpd's log (every command and reply: log_ftp_protocol). */
  readonly logFile: string;
  /** Where clients write what they download. */
  readonly clientDir: string;
  /** SHA-256 of each served file, by path under the root. */
  readonly hashes: ReadonlyMap<string, string>;
  /** What vsftpd logged so far. */
  log(): string;
}

/**
 * Writes the files and a vsftpd configuration into the lab's work folder and
 * starts vsftpd in the server (foreground, IPv4 and IPv6 on one socket,
 * anonymous with uploads into pub/, active and passive mode). Resolves when
 * it listens on port 21.
 */
export async function startVsftpd(lab: Lab, opts: FtpServerOptions = {}): Promise<FtpServer> {
  const base = join(lab.workDir, 'ftp');
  const root = join(base, 'root');
  const clientDir = join(base, 'client');
  for (const d of [join(root, 'pub'), join(root, 'many'), clientDir]) mkdirSync(d, { recursive: true });
  const hashes = new Map<string, string>();
  const put = (name: string, bytes: number): void => {
    const data = randomBytes(bytes);
    writeFileSync(join(root, name), data);
    hashes.set(name, sha256(data));
  };
  put(BIG_FILE, BIG_FILE_BYTES);
  for (let i = 0; i < MANY_FILES; i++) put(manyName(i), MANY_FILE_BYTES);
  // vsftpd refuses a writable chroot; uploads go to pub/, which the anonymous user (ftp) may write.
  chmodSync(root, 0o555);
  chmodSync(join(root, 'pub'), 0o777);
  const vsftpd = await startLabVsftpd(lab, { base, root, portPromiscuous: opts.portPromiscuous });
  return { process: vsftpd.process, root, logFile: vsftpd.logFile, clientDir, hashes, log: vsftpd.log };
}

/** One transfer of a case: what was sent and what arrived (undefined: nothing arrived). */
export interface Transfer {
  readonly name: string;
  readonly expected: string;
  readonly got: string | undefined;
}

export interface CaseResult {
  /** The data-channel commands the client sent (PORT ..., EPRT ..., PASV, EPSV), in order. */
  readonly commands: readonly string[];
  readonly transfers: readonly Transfer[];
  readonly exitCode: number | null;
  /** The client's output, for failure messages. */
  readonly output: string;
}

export interface CaseContext {
  readonly lab: Lab;
  readonly server: FtpServer;
  /** Seconds the client may run (it is killed after that). */
  readonly timeoutS: number;
  /** A label unique to this case in this lab (file names). */
  readonly tag: string;
}

/** A client case: who, which data-channel command it must send, how. */
export interface FtpClientCase {
  readonly name: string;
  /** Active mode needs the gateway to let the server connect back; passive does not. */
  readonly mode: 'active' | 'passive';
  readonly family: 4 | 6;
  /** Every data-channel command of the case must match this (proves the client used the mode the case claims). */
  readonly command: RegExp;
  run(ctx: CaseContext): Promise<CaseResult>;
}

const DATA_COMMAND = /^(PORT|EPRT|PASV|EPSV)\b/;

const serverHost = (family: 4 | 6): string => (family === 4 ? SERVER_V4 : SERVER_V6);
const urlHost = (family: 4 | 6): string => (family === 4 ? SERVER_V4 : `[${SERVER_V6}]`);

/** curl downloading big.bin; `flags` choose the mode. */
function curlCase(name: string, mode: 'active' | 'passive', family: 4 | 6, flags: readonly string[], command: RegExp): FtpClientCase {
  return {
    name, mode, family, command,
    async run({ lab, server, timeoutS, tag }) {
      const out = join(server.clientDir, `${tag}.bin`);
      const r = await lab.exec('client', ['timeout', String(timeoutS), 'curl', '-sS', '-v', '-g', '--max-filesize', String(2 * BIG_FILE_BYTES), ...flags, '-o', out, `ftp://${urlHost(family)}/${BIG_FILE}`], { timeoutMs: (timeoutS + 10) * 1000 });
      return {
        commands: r.stderr.split('\n').filter((l) => l.startsWith('> ')).map((l) => l.slice(2).trim()).filter((c) => DATA_COMMAND.test(c)),
        transfers: [{ name: BIG_FILE, expected: server.hashes.get(BIG_FILE)!, got: sha256File(out) }],
        exitCode: r.code,
        output: r.stderr,
      };
    },
  };
}

/** lftp downloading big.bin, active or passive. */
function lftpCase(name: string, mode: 'active' | 'passive'): FtpClientCase {
  return {
    name, mode, family: 4, command: mode === 'active' ? /^PORT \d+(,\d+){5}$/ : /^PASV$/,
    async run({ lab, server, timeoutS, tag }) {
      const out = join(server.clientDir, `${tag}.bin`);
      const home = join(server.clientDir, `${tag}-home`);
      mkdirSync(home, { recursive: true });
      const modeSettings = mode === 'active' ? 'set ftp:passive-mode off; set ftp:auto-passive-mode no' : 'set ftp:passive-mode on';
      const script = [
        'set net:max-retries 1', 'set net:timeout 5', 'set net:reconnect-interval-base 1', 'set xfer:clobber on', 'set xfer:log no', 'set ftp:prefer-epsv no',
        modeSettings, `open ftp://${urlHost(4)}`, `get ${BIG_FILE} -o ${out}`,
      ].join('; ');
      const r = await lab.exec('client', ['timeout', String(timeoutS), 'lftp', '-d', '-c', script], { timeoutMs: (timeoutS + 10) * 1000, env: { ...process.env, HOME: home } });
      const output = r.stdout + r.stderr;
      return {
        commands: output.split('\n').map((l) => /^---> (.*)$/.exec(l.trim())?.[1]?.trim()).filter((c): c is string => c !== undefined && DATA_COMMAND.test(c)),
        transfers: [{ name: BIG_FILE, expected: server.hashes.get(BIG_FILE)!, got: sha256File(out) }],
        exitCode: r.code,
        output,
      };
    },
  };
}

/**
 * Python ftplib client. argv[1] is JSON { host, passive, timeout, ops }; an
 * op is ["retr", remote] or ["stor", remote, localFile]. Prints one line per
 * op as it finishes ("OP <json>": for retr the SHA-256 of what arrived), and
 * every command it sent ("CMD <line>"), so a client killed on its time bound
 * still reports what it did.
 */
export const FTPLIB_CLIENT = `
import ftplib, hashlib, json, sys
cfg = json.loads(sys.argv[1])
class Logged(ftplib.FTP):
    def putcmd(self, line):
        print('CMD ' + line, flush=True)
        super().putcmd(line)
def report(**kw):
    print('OP ' + json.dumps(kw), flush=True)
f = Logged(timeout=cfg['timeout'])
f.connect(cfg['host'], 21)
f.login()
f.set_pasv(cfg['passive'])
for op in cfg['ops']:
    try:
        if op[0] == 'retr':
            h = hashlib.sha256()
            reply = f.retrbinary('RETR ' + op[1], h.update)
            report(name=op[1], ok=True, sha256=h.hexdigest(), reply=reply)
        else:
            with open(op[2], 'rb') as src:
                reply = f.storbinary('STOR ' + op[1], src)
            report(name=op[1], ok=True, reply=reply)
    except Exception as e:
        report(name=op[1], ok=False, error='%s: %s' % (type(e).__name__, e))
try:
    f.quit()
except Exception:
    f.close()
`;

type FtplibOp = readonly ['retr', string] | readonly ['stor', string, string];

async function runFtplib(ctx: CaseContext, family: 4 | 6, passive: boolean, ops: readonly FtplibOp[]): Promise<{ commands: string[]; ops: Map<string, { ok: boolean; sha256?: string; error?: string }>; exitCode: number | null; output: string }> {
  const cfg = { host: serverHost(family), passive, timeout: Math.min(8, ctx.timeoutS), ops };
  const r = await ctx.lab.exec('client', ['timeout', String(ctx.timeoutS), 'python3', '-u', '-c', FTPLIB_CLIENT, JSON.stringify(cfg)], { timeoutMs: (ctx.timeoutS + 10) * 1000 });
  const lines = r.stdout.split('\n');
  const results = new Map<string, { ok: boolean; sha256?: string; error?: string }>();
  for (const l of lines) if (l.startsWith('OP ')) {
    const o = JSON.parse(l.slice(3)) as { name: string; ok: boolean; sha256?: string; error?: string };
    results.set(o.name, o);
  }
  return {
    commands: lines.filter((l) => l.startsWith('CMD ')).map((l) => l.slice(4)).filter((c) => DATA_COMMAND.test(c)),
    ops: results,
    exitCode: r.code,
    output: r.stdout + r.stderr,
  };
}

/** ftplib downloading `files` in one control session. */
function ftplibRetrCase(name: string, mode: 'active' | 'passive', family: 4 | 6, files: readonly string[], command: RegExp): FtpClientCase {
  return {
    name, mode, family, command,
    async run(ctx) {
      const r = await runFtplib(ctx, family, mode === 'passive', files.map((f) => ['retr', f] as const));
      return {
        commands: r.commands,
        transfers: files.map((f) => ({ name: f, expected: ctx.server.hashes.get(f)!, got: r.ops.get(f)?.ok ? r.ops.get(f)!.sha256 : undefined })),
        exitCode: r.exitCode,
        output: r.output,
      };
    },
  };
}

/** ftplib uploading a fresh 1 MiB file with STOR in active mode; what arrived is read on the server. */
const ftplibActiveUpload: FtpClientCase = {
  name: 'ftplib, active upload (STOR over PORT)',
  mode: 'active',
  family: 4,
  command: /^PORT \d+(,\d+){5}$/,
  async run(ctx) {
    const local = join(ctx.server.clientDir, `${ctx.tag}-upload.bin`);
    const data = randomBytes(UPLOAD_BYTES);
    writeFileSync(local, data);
    const remote = `pub/${ctx.tag}-upload.bin`;
    const r = await runFtplib(ctx, 4, false, [['stor', remote, local]]);
    return {
      commands: r.commands,
      transfers: [{ name: remote, expected: sha256(data), got: r.ops.get(remote)?.ok ? sha256File(join(ctx.server.root, remote)) : undefined }],
      exitCode: r.exitCode,
      output: r.output,
    };
  },
};

const PORT_CMD = /^PORT \d+(,\d+){5}$/;

/** The client cases every gateway runs (same table, same order). */
export const FTP_CLIENT_CASES: readonly FtpClientCase[] = [
  curlCase('curl, PORT', 'active', 4, ['--disable-eprt', '-P', '-'], PORT_CMD),
  curlCase('curl, EPRT', 'active', 4, ['-P', '-'], /^EPRT \|1\|198\.51\.100\.2\|\d+\|$/),
  curlCase('curl, PASV', 'passive', 4, ['--disable-epsv'], /^PASV$/),
  curlCase('curl, EPSV', 'passive', 4, [], /^EPSV$/),
  lftpCase('lftp, active', 'active'),
  lftpCase('lftp, passive', 'passive'),
  ftplibRetrCase('ftplib, active', 'active', 4, [BIG_FILE], PORT_CMD),
  ftplibRetrCase('ftplib, passive', 'passive', 4, [BIG_FILE], /^PASV$/),
  ftplibActiveUpload,
  ftplibRetrCase(`ftplib, ${MANY_FILES} active data channels in one control session`, 'active', 4, Array.from({ length: MANY_FILES }, (_, i) => manyName(i)), PORT_CMD),
  curlCase('curl over IPv6, EPRT |2|', 'active', 6, ['-P', '-'], /^EPRT \|2\|2001:db8:1::2\|\d+\|$/),
  curlCase('curl over IPv6, EPSV', 'passive', 6, [], /^EPSV$/),
];

/** True when every transfer of the case arrived whole. */
export const arrivedWhole = (r: CaseResult): boolean => r.transfers.every((t) => t.got === t.expected);

/** A short account of a case result for failure messages. */
export function describeResult(r: CaseResult): string {
  const bad = r.transfers.filter((t) => t.got !== t.expected).map((t) => `${t.name}: ${t.got ?? 'nothing arrived'}`);
  return `exit ${r.exitCode}; commands ${JSON.stringify(r.commands)}; ${bad.length} of ${r.transfers.length} transfers not whole ${JSON.stringify(bad.slice(0, 3))}\n--- client output (tail) ---\n${r.output.slice(-3000)}`;
}

/**
 * A raw control-connection client: logs in anonymously, then sends each line
 * of argv[2] (a JSON list) and reads one reply for each (multi-line replies
 * whole); "<EOF>" when the connection closed instead. Prints one JSON object.
 */
export const RAW_CONTROL_CLIENT = `
import json, socket, sys
host, lines = sys.argv[1], json.loads(sys.argv[2])
s = socket.create_connection((host, 21), timeout=5)
f = s.makefile('rb')
def reply():
    out = []
    while True:
        try:
            l = f.readline()
        except OSError as e:
            out.append('<%s>' % type(e).__name__)
            return out
        if not l:
            out.append('<EOF>')
            return out
        t = l.decode('latin1').rstrip('\\r\\n')
        out.append(t)
        if len(t) >= 4 and t[:3].isdigit() and t[3] == ' ' and t[:3] == out[0][:3]:
            return out
res = {'greeting': reply()}
s.sendall(b'USER anonymous\\r\\n')
res['login'] = reply()
res['replies'] = []
for l in lines:
    try:
        s.sendall(l.encode('latin1') + b'\\r\\n')
        res['replies'].append(reply())
    except OSError as e:
        res['replies'].append(['<%s>' % type(e).__name__])
s.close()
print(json.dumps(res))
`;

export interface RawControlResult {
  readonly greeting: string[];
  readonly login: string[];
  /** One reply per line sent: its lines, or ["<EOF>"]. */
  readonly replies: string[][];
}

/** Runs {@link RAW_CONTROL_CLIENT} from the client against the server's port 21. */
export async function rawControlSession(lab: Lab, lines: readonly string[], family: 4 | 6 = 4): Promise<RawControlResult> {
  const r = await lab.execOk('client', ['timeout', '20', 'python3', '-c', RAW_CONTROL_CLIENT, serverHost(family), JSON.stringify(lines)], { timeoutMs: 30_000 });
  return JSON.parse(r.stdout) as RawControlResult;
}
