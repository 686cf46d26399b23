/**
 * `algd lab`: the built-in demonstration and self-check. Builds a client,
 * a gateway and a server in network namespaces (documentation addresses
 * only), runs real traffic through the gateway, checks algd's NAT engine
 * against the kernel's own NAT, runs the algd service in the gateway, tears
 * everything down, and prints a summary.
 */

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { algdEntryPoint } from '../service/package-info';
import { SERVER_V4, SERVER_V6 } from './addresses';
import { replayThroughEngine } from './engine-replay';
import { captureKernelNat } from './kernel-nat-capture';
import { Lab } from './lab';
import { listNetns } from './netns';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from './topology';
import { decoded, describeGstResult, runGstRtspClient } from './rtsp-clients';
import { RTSP_MOUNTS, startRtspServer } from './rtsp-server';
import { SIPP_SPEECH_PCAP, sippOutgoingCall } from './sipp';
import { startVsftpd } from './vsftpd';

/** One line of the summary. */
export interface LabStep {
  readonly name: string;
  readonly status: 'passed' | 'failed' | 'not run';
  readonly detail: string;
  readonly ms: number;
  /** Data-channel mappings algd opened and closed during the step (steps that run algd). */
  readonly mappings?: { readonly opened: number; readonly closed: number };
  /** Bytes of control messages algd's plugins rewrote during the step. */
  readonly bytesRewritten?: number;
}

export interface LabReport {
  readonly ok: boolean;
  /** The lab's namespace prefix, when it was built. */
  readonly labId: string | undefined;
  readonly steps: readonly LabStep[];
}

export interface RunLabOptions {
  /** Progress lines go here (stderr for the CLI). */
  readonly progress: (line: string) => void;
}

/** What `algd status --json` shows that the lab steps read. */
interface LabStatus {
  driverStats: { received: number };
  sessionsEnded: Record<string, number>;
  plugins: { name: string; builtin: boolean; captures: { listener: number }[]; counters: Record<string, number>; bytesRewritten: number }[];
  sessions: unknown[];
  engine: { mappings: { active: boolean }[]; counters: { mappingsCreated: number; mappingsEnded: number } };
}

/** What algd did in a step, for the summary's columns. */
interface AlgdFigures {
  mappings: { opened: number; closed: number };
  bytesRewritten: number;
}

/** The SDK's example plugins (a plugins folder), next to the built package. */
function examplesDir(): string {
  return join(__dirname, '..', '..', '..', 'sdk', 'examples');
}

/**
 * Runs `algd start` (nfqueue driver) in the gateway for `body`, then stops
 * it with SIGTERM and checks it exited 0 and left no rule and no socket.
 */
async function withAlgd(l: Lab, tag: string, plugins: Record<string, { enabled: boolean }>, body: (status: () => Promise<LabStatus>) => Promise<string>, extra: Record<string, unknown> = {}, figures?: AlgdFigures): Promise<string> {
  const config = join(l.workDir, `algd-${tag}.json`);
  const socket = join(l.workDir, `algd-${tag}.sock`);
  writeFileSync(config, JSON.stringify({
    driver: 'nfqueue',
    adapters: [
      { name: GATEWAY_PRIVATE_IFACE, type: 'private' },
      { name: GATEWAY_PUBLIC_IFACE, type: 'boundary' },
    ],
    plugins,
    adminSocket: socket,
    ...extra,
  }));
  const algd = l.spawn('gateway', [process.execPath, algdEntryPoint(), 'start', '--config', config]);
  try {
    await algd.waitForOutput(/running/, 20_000);
    const installed = (await algdRulesIn(l)).length;
    const status = async (): Promise<LabStatus> => JSON.parse((await l.execOk('gateway', [process.execPath, algdEntryPoint(), 'status', '--json', '--config', config])).stdout) as LabStatus;
    const detail = await body(status);
    if (figures) {
      const last = await untilNoActiveMapping(status);
      figures.mappings = { opened: last.engine.counters.mappingsCreated, closed: last.engine.counters.mappingsEnded };
      figures.bytesRewritten = last.plugins.reduce((n, p) => n + p.bytesRewritten, 0);
    }
    const exit = await algd.kill('SIGTERM');
    if (exit.code !== 0) throw new Error(`algd exited with ${exit.code ?? exit.signal} on SIGTERM`);
    const left = await algdRulesIn(l);
    if (left.length > 0) throw new Error(`rules left after stop: ${left.join('; ')}`);
    if (existsSync(socket)) throw new Error('the admin socket was left behind');
    return `${detail}; ${installed} rules installed, SIGTERM exit 0, none left`;
  } finally {
    if (algd.running) await algd.kill('SIGKILL');
  }
}

/** How long the lab's call lasts: the speech sipp ships (236 RTP packets of 20 ms) and a margin. */
const SPEECH_MS = 8_000;

/** Polls status until the sessions' mappings have ended (BYE, TEARDOWN and closing connections take a moment), at most 5 s. */
async function untilNoActiveMapping(status: () => Promise<LabStatus>): Promise<LabStatus> {
  const deadline = Date.now() + 5_000;
  let s = await status();
  while (s.engine.mappings.some((m) => m.active) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    s = await status();
  }
  return s;
}

/** What algd leaves in the gateway's firewall while running: its iptables chains and its nftables table. */
async function algdRulesIn(l: Lab): Promise<string[]> {
  const found: string[] = [];
  for (const program of ['iptables-save', 'ip6tables-save']) {
    const out = await l.execOk('gateway', [program]);
    found.push(...out.stdout.split('\n').filter((line) => line.includes('ALGD_')));
  }
  const tables = await l.execOk('gateway', ['nft', 'list', 'tables']);
  found.push(...tables.stdout.split('\n').filter((line) => /\balgd$/.test(line.trim())));
  return found;
}

export async function runLab(opts: RunLabOptions): Promise<LabReport> {
  const steps: LabStep[] = [];
  let lab: Lab | undefined;

  const step = async (name: string, body: (figures: AlgdFigures) => Promise<string>): Promise<boolean> => {
    opts.progress(`… ${name}`);
    const started = Date.now();
    const figures: AlgdFigures = { mappings: { opened: -1, closed: -1 }, bytesRewritten: -1 };
    try {
      const detail = await body(figures);
      const measured = figures.bytesRewritten >= 0 ? { mappings: figures.mappings, bytesRewritten: figures.bytesRewritten } : {};
      steps.push({ name, status: 'passed', detail, ms: Date.now() - started, ...measured });
      opts.progress(`✓ ${name}: ${detail}`);
      return true;
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      steps.push({ name, status: 'failed', detail, ms: Date.now() - started });
      opts.progress(`✗ ${name}: ${detail}`);
      return false;
    }
  };

  const built = await step('build client, gateway and server namespaces', async () => {
    lab = await Lab.create({ ipv6Nat: true, name: 'lab' });
    return `${lab.id}: client 198.51.100.2 | ${GATEWAY_PRIVATE_IFACE} gateway ${GATEWAY_PUBLIC_IFACE} | server 203.0.113.2, IPv6 2001:db8::/32`;
  });

  if (built && lab) {
    const l = lab;
    for (const family of [4, 6] as const) {
      await step(`IPv${family}: TCP, UDP and an ICMP error through the gateway, checked against algd's NAT engine`, async () => {
        const capture = await captureKernelNat(l, { family });
        const replay = replayThroughEngine(capture);
        const identical = replay.packets.filter((p) => p.kernelHex !== undefined && p.identical).length;
        const compared = replay.packets.filter((p) => p.kernelHex !== undefined).length;
        if (!replay.identical) {
          const bad = replay.packets.filter((p) => !p.identical).map((p) => `${p.kind} (${p.outcome})`);
          throw new Error(`engine output differs from the kernel's for ${bad.join(', ')}`);
        }
        return `${identical}/${compared} packets rewritten by algd identical to the kernel's NAT, byte for byte`;
      });
    }

    await step('FTP through algd: vsftpd to curl in active (PORT, EPRT over IPv6) and passive (EPSV) mode', async (figures) => {
      const base = join(l.workDir, 'ftp');
      const root = join(base, 'root');
      mkdirSync(join(root, 'pub'), { recursive: true });
      const file = randomBytes(512 * 1024);
      writeFileSync(join(root, 'pub', 'lab.bin'), file);
      const vsftpd = await startVsftpd(l, { base, root });
      try {
        return await withAlgd(l, 'ftp-modes', { ftp: { enabled: true }, sip: { enabled: false }, rtsp: { enabled: false } }, async (status) => {
          const modes = [
            { name: 'active (PORT)', url: `ftp://${SERVER_V4}/pub/lab.bin`, flags: ['--disable-eprt', '-P', '-'] },
            { name: 'passive (EPSV)', url: `ftp://${SERVER_V4}/pub/lab.bin`, flags: [] },
            { name: 'IPv6 active (EPRT)', url: `ftp://[${SERVER_V6}]/pub/lab.bin`, flags: ['-g', '-P', '-'] },
          ];
          for (const [i, m] of modes.entries()) {
            const out = join(base, `got-${i}.bin`);
            await l.exec('client', ['curl', '-sS', '--max-time', '20', ...m.flags, '-o', out, m.url], { timeoutMs: 30_000 });
            const got = existsSync(out) ? readFileSync(out) : Buffer.alloc(0);
            if (!got.equals(file)) throw new Error(`${m.name}: ${got.length} of ${file.length} bytes arrived, or different content`);
          }
          const ftp = (await status()).plugins.find((p) => p.name === 'ftp');
          return `${modes.length} downloads of ${file.length} bytes arrived identical; the FTP plugin mapped ${ftp?.counters['active-mapped'] ?? 0} active and ${ftp?.counters['passive-mapped'] ?? 0} passive data channel(s)`;
        }, {}, figures);
      } finally {
        await vsftpd.process.kill('SIGTERM');
      }
    });

    await step('plugin host: the TFTP example plugin, a third-party package loaded from sdk/examples, carries a tftp-hpa download through the gateway', async (figures) => {
      const root = join(l.workDir, 'tftp-root');
      mkdirSync(root, { recursive: true });
      const file = randomBytes(256 * 1024);
      writeFileSync(join(root, 'lab.bin'), file);
      const tftpd = l.spawn('server', ['in.tftpd', '--foreground', '--address', `${SERVER_V4}:69`, '--secure', '--user', 'root', root]);
      try {
        await l.waitForPort('server', 'udp', 69);
        return await withAlgd(l, 'tftp', { ftp: { enabled: false }, sip: { enabled: false }, rtsp: { enabled: false } }, async (status) => {
          const out = join(l.workDir, 'tftp-got.bin');
          await l.exec('client', ['timeout', '20', 'tftp', '-m', 'binary', SERVER_V4, '-c', 'get', 'lab.bin', out], { timeoutMs: 30_000 });
          const got = existsSync(out) ? readFileSync(out) : Buffer.alloc(0);
          if (!got.equals(file)) throw new Error(`the download arrived with ${got.length} of ${file.length} bytes or different content`);
          const tftp = (await status()).plugins.find((p) => p.name === 'tftp');
          if (!tftp || tftp.builtin) throw new Error('the tftp plugin was not loaded from the plugins folder');
          return `${file.length} bytes arrived identical (SHA-256 ${createHash('sha256').update(got).digest('hex').slice(0, 16)}…); the plugin mapped the server's transfer port (${tftp.counters['rrq'] ?? 0} read request)`;
        }, { pluginsDir: examplesDir() }, figures);
      } finally {
        await tftpd.kill('SIGTERM');
      }
    });

    await step('SIP through algd: a sipp phone behind the gateway calls a sipp UA on the server over UDP, RTP both ways, the far side hangs up', async (figures) => {
      return withAlgd(l, 'sip', { ftp: { enabled: false }, sip: { enabled: true }, rtsp: { enabled: false } }, async (status) => {
        const o = await sippOutgoingCall(l, { name: 'lab-call', transport: 'udp', pcap: SIPP_SPEECH_PCAP, holdMs: SPEECH_MS, timeoutS: 30 });
        if (o.phone.successfulCalls !== 1 || o.far.successfulCalls !== 1) {
          throw new Error(`the call did not complete: phone ${o.phone.successfulCalls} ok / ${o.phone.failedCalls} failed, far side ${o.far.successfulCalls} ok / ${o.far.failedCalls} failed`);
        }
        if (o.rtpAtServer !== o.rtpPlayedEach || o.rtpAtPhone !== o.rtpPlayedEach) {
          throw new Error(`RTP lost: ${o.rtpAtServer} of ${o.rtpPlayedEach} packets reached the server, ${o.rtpAtPhone} of ${o.rtpPlayedEach} the phone`);
        }
        const sip = (await status()).plugins.find((p) => p.name === 'sip');
        const contact = o.far.seen['contact']?.[0] ?? '?';
        return `1 call completed; ${o.rtpPlayedEach} RTP packets arrived each way; the far side saw the phone as ${contact} and its BYE reached the phone (${sip?.counters['media-mapped'] ?? 0} media stream(s) mapped)`;
      }, {}, figures);
    });

    await step('RTSP through algd: a GStreamer RTSP server on the server, rtspsrc behind the gateway receiving H.264 video and audio over UDP without punching holes', async (figures) => {
      const server = await startRtspServer(l);
      try {
        return await withAlgd(l, 'rtsp', { ftp: { enabled: false }, sip: { enabled: false }, rtsp: { enabled: true } }, async () => {
          const r = await runGstRtspClient(l, 'client', {
            url: server.url(SERVER_V4, RTSP_MOUNTS.audioVideo), protocols: 'udp', natMethod: 'none', want: { video: 30, audio: 30 }, timeoutS: 20,
          });
          if (decoded(r, 'video') < 30 || decoded(r, 'audio') < 30) throw new Error(`the stream did not arrive: ${describeGstResult(r)}`);
          const asked = server.setups().map((x) => x.request ?? '?');
          return `${decoded(r, 'video')} video frames and ${decoded(r, 'audio')} audio buffers decoded; the server was asked for ${asked.join(' and ')} (the gateway's public pairs), and TEARDOWN ended every mapping`;
        }, {}, figures);
      } finally {
        await server.process.kill('SIGTERM');
      }
    });
  }


  if (lab) {
    const l = lab;
    await step('tear down', async () => {
      await l.destroy();
      const left = (await listNetns()).filter((n) => n.startsWith(l.id));
      if (left.length > 0) throw new Error(`namespaces left: ${left.join(', ')}`);
      return 'no namespace, process or rule of the lab left';
    });
  }
  return { ok: steps.every((s) => s.status !== 'failed'), labId: lab?.id, steps };
}

/** The summary table. */
export function formatLabReport(report: LabReport): string {
  const mark = { passed: 'pass', failed: 'FAIL', 'not run': '—' } as const;
  const mappings = (s: LabStep): string => (s.mappings ? `${s.mappings.opened}/${s.mappings.closed}` : '');
  const rewritten = (s: LabStep): string => (s.bytesRewritten !== undefined ? String(s.bytesRewritten) : '');
  // The figures first, in columns; each step's name, then its detail indented below it.
  const lines = [`      ${'time'.padStart(7)}  ${'mappings'.padStart(8)}  ${'rewritten'.padStart(9)}  step`];
  for (const s of report.steps) {
    lines.push(`${mark[s.status].padEnd(4)}  ${(s.ms / 1000).toFixed(1).padStart(5)} s  ${mappings(s).padStart(8)}  ${rewritten(s).padStart(9)}  ${s.name}`);
    lines.push(`${' '.repeat(38)}${s.detail}`);
  }
  lines.push('', "mappings: data-channel mappings algd opened/closed in the step; rewritten: bytes of control messages algd's plugins rewrote");
  const passed = report.steps.filter((s) => s.status === 'passed').length;
  const failed = report.steps.filter((s) => s.status === 'failed').length;
  const notRun = report.steps.filter((s) => s.status === 'not run').length;
  return `${lines.join('\n')}\n\n${passed} passed, ${failed} failed${notRun > 0 ? `, ${notRun} not run` : ''}\n`;
}
