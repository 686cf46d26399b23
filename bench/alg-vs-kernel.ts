/**
 * Benchmark (not a test): algd against the Linux kernel's own ALGs
 * (nf_conntrack_ftp/nf_nat_ftp, nf_conntrack_sip/nf_nat_sip) on the same
 * lab in the same run.
 *
 * `npm run bench` (root; builds first). One lab (client, gateway with the
 * lab's masquerade, server; IPv4), vsftpd on the server (port_promiscuous
 * off: an active transfer works only when the gateway rewrote PORT), and
 * two ALG setups taking turns on the gateway:
 *
 * - kernel: the lab's masquerade plus `ct helper set "ftp"` / `"sip"`
 *   (host/lab/kernel-alg.ts); algd not running;
 * - algd: `algd start` with the nfqueue driver, the FTP and SIP plugins;
 *   no kernel helper; the driver's kernel fast path off
 *   (`nfqueue.offload.enabled: false`), so every packet of algd's
 *   connections crosses userland: the userland path;
 * - algd-offload: the same with the fast path on (the default): a data
 *   connection is translated by the kernel after its first MiB. Only the
 *   download is measured in this setup.
 *
 * Between turns the gateway's conntrack table is flushed, so each setup
 * starts from no connection (a helper is only assigned to new ones).
 * Rounds (BENCH_ROUNDS, 3) interleave the setups, kernel then algd, so both
 * see the same background load. Each turn measures:
 *
 * 1. active-FTP download throughput: curl (`-P -`, PORT) of a sparse file
 *    of BENCH_FILE_MIB (1024) MiB, bytes / (total - pretransfer time),
 *    BENCH_DOWNLOADS (3) times; the figure is the median of all of a
 *    setup's downloads (one untimed download first fills the page cache);
 * 2. FTP control sessions per second (connect, login, PORT + LIST, QUIT;
 *    Python ftplib, bench/ftp-bench-client.ts): BENCH_SEQ_SESSIONS (150)
 *    one after the other, and BENCH_CONC_SESSIONS (1000) by 50 concurrent
 *    clients, each bounded to 20 s;
 * 3. NOOP round trips on one logged-in session (BENCH_NOOPS, 2000, after
 *    200 untimed): algd's added latency per control message is half the
 *    difference of the round-trip percentiles (a round trip crosses the
 *    plugin twice), the kernel's ALG being in the path on the other side;
 * 4. SIP calls per second with media pinholes: sipp calls from the client
 *    to a sipp UA on the server (UDP, SDP both ways, 10 RTP packets
 *    played each way per call, the far side hangs up after 300 ms; each
 *    call from a socket of its own, as separate phones),
 *    BENCH_SIP_CALLS (600) at up to 400 new calls/s and 200 at a time;
 *    completed calls / sipp's elapsed time; RTP that arrived is counted
 *    by the receiving hosts' kernels.
 *
 * Then, without the lab, bench/plugin-host.js (`npm run bench:plugins`,
 * shortened latency part) for the host's RSS with 10,000 idle control
 * sessions; the kernel's ALG has no process to compare (its state is
 * conntrack entries).
 *
 * Goals: throughput ≥ 0.5× kernel, session rates ≥ 0.8×, added p99 <
 * 0.5 ms, < 256 MB for 10k sessions, SIP ≥ 0.8×. Traffic stays in the
 * lab's namespaces on documentation addresses; every loop is bounded in
 * count and time; a watchdog destroys the lab and exits after BUDGET_MS.
 * Results: a table on stdout, bench/out/alg-vs-kernel.json, and a chart
 * (bench/out/alg-vs-kernel.svg and .png, bench-chart.ts).
 */

import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { endpoint, port } from '@algd/sdk';

import { CLIENT_V4, GATEWAY_PUBLIC_V4, SERVER_V4 } from '../host/lab/addresses';
import { installKernelAlg, removeKernelAlg } from '../host/lab/kernel-alg';
import type { Lab } from '../host/lab/lab';
import type { LabProcess } from '../host/lab/lab-process';
import { countArrivals, rtpPacketsIn, runSippPair, SIPP_DTMF_PCAP, type SippResult } from '../host/lab/sipp';
import { calleeScenario, callerScenario } from '../host/lab/sipp-scenarios';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from '../host/lab/topology';
import { startVsftpd } from '../host/lab/vsftpd';
import { algdEntryPoint } from '../host/service/package-info';
import { writeChart } from './bench-chart';
import { envInt, runBench, withBenchLab } from './bench-lab';
import { FTP_BENCH_CLIENT, parseClientLine, type NoopResult, type SessionsResult } from './ftp-bench-client';

const ROOT = resolve(__dirname, '../../..');
const OUT_DIR = join(ROOT, 'bench/out');

const ROUNDS = envInt('BENCH_ROUNDS', 3, { max: 9 });
const FILE_MIB = envInt('BENCH_FILE_MIB', 1024, { max: 8192 });
/** Downloads per turn: a turn's throughput is their median (a single download of a GiB takes half a second and swings widely). */
const DOWNLOADS = envInt('BENCH_DOWNLOADS', 3, { max: 9 });
const SEQ_SESSIONS = envInt('BENCH_SEQ_SESSIONS', 150, { max: 10_000 });
const CONC_SESSIONS = envInt('BENCH_CONC_SESSIONS', 1000, { max: 20_000 });
const CONC_CLIENTS = 50;
const SESSIONS_MAX_S = 20;
const NOOPS = envInt('BENCH_NOOPS', 2000, { max: 100_000 });
const NOOP_WARMUP = 200;
const SIP_CALLS = envInt('BENCH_SIP_CALLS', 600, { max: 5000 });
const SIP_RATE = 400;
const SIP_LIMIT = 200;
const SIP_HOLD_MS = 300;
const SIP_TIMEOUT_S = 60;
/** veth offloads (GSO/GRO, checksum) on, as a gateway with offloading NICs has them; BENCH_OFFLOADS=0 turns them off. */
const OFFLOADS = process.env['BENCH_OFFLOADS'] !== '0';
/** BENCH_CPU_PROF=1 runs algd under `node --cpu-prof` (profiles in bench/out/prof/, one per algd start). */
const ALGD_CPU_PROF = process.env['BENCH_CPU_PROF'] === '1';
/** The whole bench stops by itself after this long (lab destroyed). */
const BUDGET_MS = 20 * 60_000;
const PLUGIN_HOST_TIMEOUT_MS = 6 * 60_000;

/** algd's public ports for data channels and media, wider than its default for the SIP call rate (see enter()), below the gateway's ephemeral ports. */
const ALGD_MAPPING_PORTS = { from: 10000, to: 29999 } as const;
/** algd closes its sessions and flushes its conntrack entries on SIGTERM; thousands of them take a few seconds. */
const ALGD_STOP_GRACE_MS = 20_000;

const PYTHON = '/usr/bin/python3';
const BIG_FILE = 'pub/big.bin';

const GOALS = { throughput: 0.5, fastPath: 0.95, sessions: 0.8, p99Ms: 0.5, rssMB: 256, sip: 0.8 } as const;

type Setup = 'kernel' | 'algd' | 'algd-offload';
const SETUPS: readonly Setup[] = ['kernel', 'algd', 'algd-offload'];

/** A turn of the algd-offload setup: the download only, and what the fast path carried. */
interface FastTurn {
  readonly round: number;
  readonly backgroundBusy: number;
  readonly throughput: Turn['throughput'];
  readonly offload: { offloaded: number; refused: number; bytes: number } | null;
  /** Packets algd's queue received during the download. */
  readonly queued: number;
}

interface Turn {
  readonly setup: Exclude<Setup, 'algd-offload'>;
  readonly round: number;
  /** Host-wide CPU busy share (0..1) in the second before the turn: other work on the machine. */
  readonly backgroundBusy: number;
  /** The median download of the turn's DOWNLOADS, and every download's rate. */
  readonly throughput: { bytes: number; seconds: number; MBps: number; samples: number[] };
  readonly sequential: SessionsResult & { perSecond: number };
  readonly concurrent: SessionsResult & { perSecond: number };
  readonly noop: NoopResult;
  readonly sip: { successful: number; failed: number; unfinished: number; elapsedS: number; perSecond: number; rtpPlayedEach: number; rtpAtServer: number; rtpAtPhone: number };
  /** algd's own view after the turn (plugins' counters), as evidence that algd carried it. */
  readonly algdCounters?: Record<string, Record<string, number>>;
}

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function cpuTimes(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

async function backgroundBusy(): Promise<number> {
  const a = cpuTimes();
  await sleep(1000);
  const b = cpuTimes();
  return (b.busy - a.busy) / (b.total - a.total || 1);
}

/**
 * Seconds from sipp's start to its end, from its final statistics screen's
 * Start Time and Current Time (epoch seconds at the end of those lines;
 * its "Elapsed Time" counter reads 0 in this sipp version).
 */
function sippElapsedS(r: SippResult): number {
  const last = (label: string): number => {
    const all = [...r.output.matchAll(new RegExp(`^\\s*${label}\\s*\\|.*\\s(\\d+\\.\\d+)\\s*$`, 'gm'))];
    const m = all[all.length - 1];
    if (m === undefined) throw new Error(`no ${label} in sipp's output:\n${r.output.slice(-1500)}`);
    return Number(m[1]);
  };
  return last('Current Time') - last('Start Time');
}

class Bench {
  private algd: LabProcess | undefined;
  private readonly client: string;
  private readonly configFile: string;
  private sipRun = 0;
  /** How each algd stop went (exit code or signal, how long SIGTERM took). */
  readonly stops: { code: number | null; signal: NodeJS.Signals | null; ms: number }[] = [];

  constructor(private readonly lab: Lab) {
    this.client = join(lab.workDir, 'ftp_bench.py');
    writeFileSync(this.client, FTP_BENCH_CLIENT);
    this.configFile = join(lab.workDir, 'algd-bench.json');
  }

  /** vsftpd with a sparse file of FILE_MIB (read back as zeros from the page cache: the disk plays no part). */
  async startServer(): Promise<void> {
    const base = join(this.lab.workDir, 'ftp');
    const root = join(base, 'root');
    mkdirSync(join(root, 'pub'), { recursive: true });
    const fd = openSync(join(root, BIG_FILE), 'w');
    ftruncateSync(fd, FILE_MIB * 2 ** 20);
    closeSync(fd);
    chmodSync(join(root, BIG_FILE), 0o644);
    // vsftpd refuses an anonymous root the ftp user could write to.
    chmodSync(root, 0o555);
    await startVsftpd(this.lab, { base, root });
  }

  async enter(setup: Setup): Promise<void> {
    await this.lab.execOk('gateway', ['conntrack', '-F']).catch(() => undefined);
    if (setup === 'kernel') {
      await installKernelAlg(this.lab, 'ftp');
      await installKernelAlg(this.lab, 'sip');
      return;
    }
    writeFileSync(this.configFile, JSON.stringify({
      driver: 'nfqueue',
      adapters: [{ name: GATEWAY_PRIVATE_IFACE, type: 'private' }, { name: GATEWAY_PUBLIC_IFACE, type: 'boundary' }],
      plugins: { ftp: { enabled: true }, sip: { enabled: true }, rtsp: { enabled: false } },
      adminSocket: join(this.lab.workDir, 'algd-bench.sock'),
      // The default pool (61000-64999) runs dry at about 400 calls at 400/s: each call, a phone
      // socket of its own, holds its ports until its session's UDP idle timeout (120 s).
      mappingPorts: ALGD_MAPPING_PORTS,
      nfqueue: { offload: { enabled: setup === 'algd-offload' } },
    }));
    const profile = ALGD_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(OUT_DIR, 'prof')}`] : [];
    this.algd = this.lab.spawn('gateway', [process.execPath, ...profile, algdEntryPoint(), 'start', '--config', this.configFile]);
    await this.algd.waitForOutput(/running/, 20_000);
  }

  /** algd's driver counters (`driver`), why its sessions ended (`sessionsEnded`), and its plugins' counters and task failures, by plugin. */
  async algdCounters(): Promise<Record<string, Record<string, number>>> {
    const status = await this.algdStatus();
    return {
      driver: status.driverStats,
      sessionsEnded: status.sessionsEnded,
      ...Object.fromEntries(status.plugins.flatMap((p) => [[p.name, p.counters], [`${p.name}-failures`, p.failures]])),
    };
  }

  private async algdStatus(): Promise<{ driverStats: Record<string, number>; sessionsEnded: Record<string, number>; plugins: { name: string; counters: Record<string, number>; failures: Record<string, number> }[]; offload: FastTurn['offload'] }> {
    const r = await this.lab.execOk('gateway', [process.execPath, algdEntryPoint(), 'status', '--json', '--config', this.configFile]);
    return JSON.parse(r.stdout) as Awaited<ReturnType<Bench['algdStatus']>>;
  }

  async leave(setup: Setup): Promise<void> {
    if (setup === 'kernel') {
      await removeKernelAlg(this.lab, 'ftp');
      await removeKernelAlg(this.lab, 'sip');
      return;
    }
    const algd = this.algd;
    this.algd = undefined;
    if (algd?.running) {
      const t0 = Date.now();
      const exit = await algd.kill('SIGTERM', ALGD_STOP_GRACE_MS);
      this.stops.push({ code: exit.code, signal: exit.signal, ms: Date.now() - t0 });
      if (exit.code !== 0) progress(`algd exited ${exit.code ?? exit.signal} on SIGTERM after ${Date.now() - t0} ms`);
    }
  }

  /** `p`, or a rejection as soon as algd (when running) exits. */
  private whileAlgdRuns<T>(p: Promise<T>): Promise<T> {
    const a = this.algd;
    if (a === undefined) return p;
    const died = a.exited.then((exit) => {
      throw new Error(`algd exited (${JSON.stringify(exit)}) during the bench: ${a.stderr.trim().slice(-800)}`);
    });
    died.catch(() => undefined);
    return Promise.race([p, died]);
  }

  /** DOWNLOADS downloads; the median one, with every rate. */
  async throughput(setup: Setup): Promise<Turn['throughput']> {
    const runs: Omit<Turn['throughput'], 'samples'>[] = [];
    for (let i = 0; i < DOWNLOADS; i++) runs.push(await this.download(setup));
    const sorted = [...runs].sort((x, y) => x.MBps - y.MBps);
    return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, samples: runs.map((r) => r.MBps) };
  }

  /**
   * One untimed download with the kernel's ALG before the first round: the
   * first read of the sparse file fills the server's page cache, which made
   * whichever setup went first (the kernel's) look slow.
   */
  async warmUp(): Promise<void> {
    await this.enter('kernel');
    try {
      const r = await this.download('kernel');
      progress(`warm-up download (not counted): ${r.MBps.toFixed(1)} MB/s`);
    } finally {
      await this.leave('kernel');
    }
  }

  private async download(setup: Setup): Promise<Omit<Turn['throughput'], 'samples'>> {
    const argv = ['curl', '-sS', '--max-time', '60', '--disable-eprt', '-P', '-', '-o', '/dev/null', '-w', '%{size_download} %{time_pretransfer} %{time_total}\\n', `ftp://${SERVER_V4}/${BIG_FILE}`];
    const r = await this.whileAlgdRuns(this.lab.exec('client', argv, { timeoutMs: 75_000 }));
    const [size, pre, total] = r.stdout.trim().split(/\s+/).map(Number);
    if (r.code !== 0 || size !== FILE_MIB * 2 ** 20) throw new Error(`${setup}: the active download failed (curl ${r.code}, ${size} of ${FILE_MIB * 2 ** 20} bytes): ${r.stderr.trim()}`);
    const seconds = total! - pre!;
    return { bytes: size, seconds, MBps: size / seconds / 1e6 };
  }

  async sessions(setup: Setup, count: number, concurrency: number): Promise<Turn['sequential']> {
    const argv = [PYTHON, '-u', this.client, 'sessions', SERVER_V4, String(count), String(concurrency), String(SESSIONS_MAX_S)];
    const r = await this.whileAlgdRuns(this.lab.exec('client', argv, { timeoutMs: (SESSIONS_MAX_S + 30) * 1000 }));
    if (r.code !== 0) throw new Error(`${setup}: the FTP session client exited ${r.code}: ${r.stderr.trim().slice(-800)}`);
    const s = parseClientLine<SessionsResult>(r.stdout);
    if (s.ok === 0) throw new Error(`${setup}: no FTP session completed: ${s.errors.join('; ')}`);
    return { ...s, perSecond: s.ok / s.seconds };
  }

  async noop(setup: Setup): Promise<NoopResult> {
    const argv = [PYTHON, '-u', this.client, 'noop', SERVER_V4, String(NOOPS), String(NOOP_WARMUP)];
    const r = await this.whileAlgdRuns(this.lab.exec('client', argv, { timeoutMs: 120_000 }));
    if (r.code !== 0) throw new Error(`${setup}: the NOOP client exited ${r.code}: ${r.stderr.trim().slice(-800)}`);
    return parseClientLine<NoopResult>(r.stdout);
  }

  async sip(setup: Setup): Promise<Turn['sip']> {
    // Fresh media ports for every run: no conntrack entry or mapping of an earlier run meets them.
    const offset = this.sipRun++ * (4 * SIP_CALLS + 8);
    const phoneMedia = port(6000 + offset);
    const serverMedia = port(20000 + offset);
    const mediaRange = (base: number) => ({ from: port(base), to: port(base + 4 * (SIP_CALLS - 1) + 1) });
    const atServer = await countArrivals(this.lab, 'server', { from: GATEWAY_PUBLIC_V4, ports: mediaRange(serverMedia) });
    const atPhone = await countArrivals(this.lab, 'client', { from: SERVER_V4, ports: mediaRange(phoneMedia) });
    try {
      const common = { transport: 'udp', sipPort: port(5060), calls: SIP_CALLS, timeoutS: SIP_TIMEOUT_S } as const;
      const name = `${setup}-${this.sipRun}`;
      const r = await this.whileAlgdRuns(runSippPair(
        this.lab,
        { host: 'server', opts: { ...common, name: `${name}-callee`, scenario: calleeScenario({ pcap: SIPP_DTMF_PCAP, holdMs: SIP_HOLD_MS, byeTo: 'contact' }), address: SERVER_V4, mediaPort: serverMedia, concurrency: SIP_CALLS } },
        { host: 'client', opts: { ...common, name: `${name}-caller`, scenario: callerScenario({ pcap: SIPP_DTMF_PCAP }), address: CLIENT_V4, mediaPort: phoneMedia, remote: endpoint(SERVER_V4, port(5060)), concurrency: SIP_LIMIT, rate: SIP_RATE, socketPerCall: true } },
      ));
      // RTP still in flight when sipp exits.
      await sleep(300);
      const phone = r.starting;
      if (!(phone.successfulCalls > 0)) throw new Error(`${setup}: no SIP call completed (${phone.failedCalls} failed): ${phone.errors.slice(0, 800)}`);
      const elapsedS = sippElapsedS(phone);
      return {
        successful: phone.successfulCalls,
        failed: phone.failedCalls,
        // Neither completed nor failed when sipp's -timeout ended the run.
        unfinished: SIP_CALLS - phone.successfulCalls - phone.failedCalls,
        elapsedS,
        perSecond: phone.successfulCalls / elapsedS,
        rtpPlayedEach: SIP_CALLS * rtpPacketsIn(SIPP_DTMF_PCAP),
        rtpAtServer: await atServer.read(),
        rtpAtPhone: await atPhone.read(),
      };
    } finally {
      await atServer.remove();
      await atPhone.remove();
    }
  }

  /** The algd-offload setup: the download through the kernel fast path, with what the fast path and the queue saw of it. */
  async fastTurn(round: number): Promise<FastTurn> {
    const busy = await backgroundBusy();
    await this.enter('algd-offload');
    try {
      const before = await this.algdStatus();
      const throughput = await this.throughput('algd-offload');
      // The fast path's last counters are read when the connection's FIN takes the flow back.
      await sleep(500);
      const after = await this.algdStatus();
      const offload = after.offload === null ? null : { offloaded: after.offload.offloaded, refused: after.offload.refused, bytes: after.offload.bytes };
      const queued = (after.driverStats['received'] ?? 0) - (before.driverStats['received'] ?? 0);
      progress(`algd-offload ${round}: active FTP download ${rates(throughput)}; kernel fast path ${offload === null ? 'unavailable' : `${(offload.bytes / 2 ** 20).toFixed(0)} MiB in ${offload.offloaded} flow(s)`}, ${queued} packets queued`);
      return { round, backgroundBusy: busy, throughput, offload, queued };
    } finally {
      await this.leave('algd-offload');
    }
  }

  async turn(setup: Exclude<Setup, 'algd-offload'>, round: number): Promise<Turn> {
    const busy = await backgroundBusy();
    await this.enter(setup);
    try {
      const throughput = await this.throughput(setup);
      progress(`${setup} ${round}: active FTP download ${rates(throughput)}`);
      const sequential = await this.sessions(setup, SEQ_SESSIONS, 1);
      progress(`${setup} ${round}: ${sequential.ok} sequential sessions (${sequential.failed} failed), ${sequential.perSecond.toFixed(1)}/s`);
      const concurrent = await this.sessions(setup, CONC_SESSIONS, CONC_CLIENTS);
      progress(`${setup} ${round}: ${concurrent.ok} sessions by ${CONC_CLIENTS} clients (${concurrent.failed} failed${concurrent.errors.length > 0 ? `: ${concurrent.errors[0]}` : ''}), ${concurrent.perSecond.toFixed(1)}/s`);
      const noop = await this.noop(setup);
      progress(`${setup} ${round}: NOOP round trip p50 ${percentile(noop.samples, 50).toFixed(0)} µs, p99 ${percentile(noop.samples, 99).toFixed(0)} µs`);
      const sip = await this.sip(setup);
      progress(`${setup} ${round}: ${sip.successful} SIP calls (${sip.failed} failed, ${sip.unfinished} unfinished) in ${sip.elapsedS.toFixed(2)} s = ${sip.perSecond.toFixed(1)}/s; RTP arrived ${sip.rtpAtServer}/${sip.rtpPlayedEach} at the server, ${sip.rtpAtPhone}/${sip.rtpPlayedEach} at the phone`);
      const algdCounters = setup === 'algd' ? await this.algdCounters() : undefined;
      return { setup, round, backgroundBusy: busy, throughput, sequential, concurrent, noop, sip, ...(algdCounters ? { algdCounters } : {}) };
    } finally {
      await this.leave(setup);
    }
  }
}

/** `1234.5 MB/s (median of 1100.2, 1234.5, 1500.0)`. */
function rates(t: Turn['throughput']): string {
  return `${t.MBps.toFixed(1)} MB/s${t.samples.length > 1 ? ` (median of ${t.samples.map((r) => r.toFixed(1)).join(', ')})` : ''}`;
}

/** What the plugin-host bench reports that this one uses. */
interface PluginHostReport {
  readonly memory: { readonly rssAtGoal: number; readonly projected: boolean; readonly opened: number };
  readonly latency: { readonly addedPerMessage: { readonly p50: number; readonly p99: number } };
}

/** Runs bench/plugin-host.js (its own bounds and watchdog; a shortened latency part) and reads its JSON. */
async function pluginHostMemory(): Promise<PluginHostReport> {
  const script = join(__dirname, 'plugin-host.js');
  const outFile = join(OUT_DIR, 'plugin-host.json');
  const started = Date.now();
  const child = spawn('bash', ['-c', `ulimit -n 65536 2>/dev/null || ulimit -n hard; exec "$0" --expose-gc "$1"`, process.execPath, script], {
    env: { ...process.env, BENCH_ROUND_TRIPS: '1000', BENCH_WARMUP: '200' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), PLUGIN_HOST_TIMEOUT_MS);
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`bench/plugin-host.js exited ${code}: ${stderr.slice(-1500)}`);
  const report = JSON.parse(readFileSync(outFile, 'utf8')) as PluginHostReport & { date: string };
  if (Date.parse(report.date) < started) throw new Error(`${outFile} was not rewritten by this run`);
  return report;
}

interface Row {
  readonly figure: string;
  readonly kernel: string;
  readonly algd: string;
  readonly ratio: string;
  readonly goal: string;
  /** Absent for a figure without a goal. */
  readonly met?: boolean;
}

function tableText(rows: readonly Row[]): string {
  const cols: (keyof Omit<Row, 'met'>)[] = ['figure', 'kernel', 'algd', 'ratio', 'goal'];
  const heads = { figure: 'figure', kernel: 'kernel ALG', algd: 'algd', ratio: 'algd/kernel', goal: 'goal' };
  const widths = cols.map((c) => Math.max(heads[c].length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string => cells.map((s, i) => s.padEnd(widths[i]!)).join('  ');
  return [line([...cols.map((c) => heads[c]), 'met']), ...rows.map((r) => line([...cols.map((c) => r[c]), r.met === undefined ? '' : r.met ? 'yes' : 'NO']))].join('\n');
}

function tableMarkdown(rows: readonly Row[]): string {
  return [
    '| figure | kernel ALG | algd | algd / kernel | goal | met |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.figure} | ${r.kernel} | ${r.algd} | ${r.ratio} | ${r.goal} | ${r.met === undefined ? '' : r.met ? 'yes' : 'no'} |`),
  ].join('\n');
}

async function main(): Promise<number> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    process.stderr.write('bench needs Linux and root (network namespaces, nfqueue, the kernel helpers)\n');
    return 2;
  }
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing (the FTP bench client)`);
  const startedAt = Date.now();
  const turns: Turn[] = [];
  const fastTurns: FastTurn[] = [];
  let stops: Bench['stops'] = [];
  await withBenchLab({ ipv6: false, name: 'algbench', offloads: OFFLOADS }, BUDGET_MS, progress, async (lab) => {
    progress(`lab ${lab.id} up; veth offloads ${OFFLOADS ? 'on' : 'off'}; ${ROUNDS} rounds of kernel, algd (userland path), algd with its kernel fast path`);
    const bench = new Bench(lab);
    stops = bench.stops;
    await bench.startServer();
    await bench.warmUp();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const setup of SETUPS) {
        if (setup === 'algd-offload') fastTurns.push(await bench.fastTurn(round));
        else turns.push(await bench.turn(setup, round));
      }
    }
  });
  progress('plugin host alone (bench/plugin-host.js): RSS with 10,000 idle sessions');
  const host = await pluginHostMemory();

  type FullSetup = Exclude<Setup, 'algd-offload'>;
  const of = (s: FullSetup): Turn[] => turns.filter((t) => t.setup === s);
  const med = (s: FullSetup, f: (t: Turn) => number): number => median(of(s).map(f));
  const noops = (s: FullSetup): number[] => of(s).flatMap((t) => t.noop.samples);
  // Throughput: the median of every download of the setup, over all rounds.
  const fastMBps = median(fastTurns.flatMap((t) => t.throughput.samples));
  const k = {
    MBps: median(of('kernel').flatMap((t) => t.throughput.samples)),
    seq: med('kernel', (t) => t.sequential.perSecond),
    conc: med('kernel', (t) => t.concurrent.perSecond),
    sip: med('kernel', (t) => t.sip.perSecond),
    rtt50: percentile(noops('kernel'), 50),
    rtt99: percentile(noops('kernel'), 99),
  };
  const a = {
    MBps: median(of('algd').flatMap((t) => t.throughput.samples)),
    seq: med('algd', (t) => t.sequential.perSecond),
    conc: med('algd', (t) => t.concurrent.perSecond),
    sip: med('algd', (t) => t.sip.perSecond),
    rtt50: percentile(noops('algd'), 50),
    rtt99: percentile(noops('algd'), 99),
  };
  const added50 = (a.rtt50 - k.rtt50) / 2 / 1000;
  const added99 = (a.rtt99 - k.rtt99) / 2 / 1000;
  const rssMB = host.memory.rssAtGoal / 2 ** 20;
  const failed = (s: FullSetup): string => {
    const seq = of(s).reduce((n, t) => n + t.sequential.failed, 0);
    const conc = of(s).reduce((n, t) => n + t.concurrent.failed, 0);
    const sip = of(s).reduce((n, t) => n + t.sip.failed + t.sip.unfinished, 0);
    return `${seq}/${conc}/${sip}`;
  };
  const rtpShare = (s: FullSetup): number => {
    const ts = of(s);
    const played = ts.reduce((n, t) => n + 2 * t.sip.rtpPlayedEach, 0);
    return ts.reduce((n, t) => n + t.sip.rtpAtServer + t.sip.rtpAtPhone, 0) / (played || 1);
  };
  const ratio = (x: number, y: number): string => `${(x / y).toFixed(2)}×`;
  const rows: Row[] = [
    { figure: `active-FTP download, MB/s (${FILE_MIB} MiB, median of ${ROUNDS * DOWNLOADS} downloads), userland path`, kernel: k.MBps.toFixed(0), algd: a.MBps.toFixed(0), ratio: ratio(a.MBps, k.MBps), goal: `≥ ${GOALS.throughput}×`, met: a.MBps / k.MBps >= GOALS.throughput },
    { figure: 'active-FTP download, MB/s, kernel fast path (nfqueue.offload)', kernel: k.MBps.toFixed(0), algd: fastMBps.toFixed(0), ratio: ratio(fastMBps, k.MBps), goal: `≥ ${GOALS.fastPath}×`, met: fastMBps / k.MBps >= GOALS.fastPath },
    { figure: 'FTP sessions/s, sequential (login, PORT, LIST, QUIT)', kernel: k.seq.toFixed(1), algd: a.seq.toFixed(1), ratio: ratio(a.seq, k.seq), goal: `≥ ${GOALS.sessions}×`, met: a.seq / k.seq >= GOALS.sessions },
    { figure: `FTP sessions/s, ${CONC_CLIENTS} concurrent clients`, kernel: k.conc.toFixed(1), algd: a.conc.toFixed(1), ratio: ratio(a.conc, k.conc), goal: `≥ ${GOALS.sessions}×`, met: a.conc / k.conc >= GOALS.sessions },
    { figure: 'NOOP round trip p50 / p99, µs', kernel: `${k.rtt50.toFixed(0)} / ${k.rtt99.toFixed(0)}`, algd: `${a.rtt50.toFixed(0)} / ${a.rtt99.toFixed(0)}`, ratio: '', goal: '' },
    { figure: 'added latency per control message, p50 (ms)', kernel: '', algd: added50.toFixed(3), ratio: '', goal: '' },
    { figure: 'added latency per control message, p99 (ms)', kernel: '', algd: added99.toFixed(3), ratio: '', goal: `< ${GOALS.p99Ms} ms`, met: added99 < GOALS.p99Ms },
    { figure: `host RSS, 10,000 idle control sessions (MB${host.memory.projected ? `, projected from ${host.memory.opened}` : ''})`, kernel: 'in-kernel (conntrack)', algd: rssMB.toFixed(0), ratio: '', goal: `< ${GOALS.rssMB} MB`, met: rssMB < GOALS.rssMB },
    { figure: `SIP calls/s with media pinholes (${SIP_CALLS} calls, up to ${SIP_RATE}/s)`, kernel: k.sip.toFixed(1), algd: a.sip.toFixed(1), ratio: ratio(a.sip, k.sip), goal: `≥ ${GOALS.sip}×`, met: a.sip / k.sip >= GOALS.sip },
  ];
  const background = Math.max(...turns.map((t) => t.backgroundBusy), ...fastTurns.map((t) => t.backgroundBusy));
  // Every download's rate, sorted: on this kind of machine they fall into two modes (about 2.1 and 3.5 GB/s) for every
  // setup, so a ratio of medians can land either side of 1 for equal paths; the samples show which.
  const sortedRates = (xs: readonly number[]): string => [...xs].sort((x, y) => x - y).map((r) => r.toFixed(0)).join(' ');
  const notes = [
    `downloads, MB/s, sorted: kernel ${sortedRates(of('kernel').flatMap((t) => t.throughput.samples))}; algd userland ${sortedRates(of('algd').flatMap((t) => t.throughput.samples))}; algd fast path ${sortedRates(fastTurns.flatMap((t) => t.throughput.samples))}`,
    `kernel fast path: ${fastTurns.map((t) => (t.offload === null ? 'unavailable' : `${(t.offload.bytes / 2 ** 20).toFixed(0)} MiB offloaded, ${t.queued} packets queued`)).join('; ')}`,
    `sessions failed sequential/concurrent, SIP calls failed or unfinished: kernel ${failed('kernel')}, algd ${failed('algd')}`,
    `RTP packets that arrived of those played (both ways): kernel ${(rtpShare('kernel') * 100).toFixed(1)}%, algd ${(rtpShare('algd') * 100).toFixed(1)}%`,
    `algd stops (SIGTERM): ${stops.map((x) => `${x.code ?? x.signal} in ${(x.ms / 1000).toFixed(1)} s`).join(', ')}`,
    `machine busy before a turn (other work): up to ${(background * 100).toFixed(0)}% of ${cpus().length} CPUs`,
  ];

  mkdirSync(OUT_DIR, { recursive: true });
  const chart = writeChart({
    title: 'algd vs the Linux kernel\'s ALG (nf_nat_ftp, nf_nat_sip), same lab, same run',
    subtitle: `${new Date().toISOString().slice(0, 16)}Z, ${cpus().length} CPUs, kernel ${release()}, veth offloads ${OFFLOADS ? 'on' : 'off'}, ${ROUNDS} rounds; other work on the machine up to ${(background * 100).toFixed(0)}% busy`,
    ratios: [
      { label: 'active-FTP download, userland', ratio: a.MBps / k.MBps, goal: GOALS.throughput, detail: `${a.MBps.toFixed(0)} vs ${k.MBps.toFixed(0)} MB/s` },
      { label: 'active-FTP download, fast path', ratio: fastMBps / k.MBps, goal: GOALS.fastPath, detail: `${fastMBps.toFixed(0)} vs ${k.MBps.toFixed(0)} MB/s` },
      { label: 'FTP sessions/s, sequential', ratio: a.seq / k.seq, goal: GOALS.sessions, detail: `${a.seq.toFixed(1)} vs ${k.seq.toFixed(1)} /s` },
      { label: `FTP sessions/s, ${CONC_CLIENTS} clients`, ratio: a.conc / k.conc, goal: GOALS.sessions, detail: `${a.conc.toFixed(1)} vs ${k.conc.toFixed(1)} /s` },
      { label: 'SIP calls/s with media', ratio: a.sip / k.sip, goal: GOALS.sip, detail: `${a.sip.toFixed(1)} vs ${k.sip.toFixed(1)} /s` },
    ],
    limits: [
      { label: 'added latency p99', share: added99 / GOALS.p99Ms, detail: `${added99.toFixed(3)} ms (limit ${GOALS.p99Ms} ms)` },
      { label: 'RSS, 10k idle sessions', share: rssMB / GOALS.rssMB, detail: `${rssMB.toFixed(0)} MB (limit ${GOALS.rssMB} MB)` },
    ],
  }, join(OUT_DIR, 'alg-vs-kernel.svg'), join(OUT_DIR, 'alg-vs-kernel.png'));

  const outFile = join(OUT_DIR, 'alg-vs-kernel.json');
  writeFileSync(outFile, `${JSON.stringify({
    bench: 'alg-vs-kernel',
    date: new Date().toISOString(),
    seconds: (Date.now() - startedAt) / 1000,
    host: { kernel: release(), cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    params: { algdMappingPorts: ALGD_MAPPING_PORTS, rounds: ROUNDS, downloadsPerTurn: DOWNLOADS, fileMiB: FILE_MIB, seqSessions: SEQ_SESSIONS, concSessions: CONC_SESSIONS, concClients: CONC_CLIENTS, noops: NOOPS, sipCalls: SIP_CALLS, sipRate: SIP_RATE, sipLimit: SIP_LIMIT, sipHoldMs: SIP_HOLD_MS, offloads: OFFLOADS, order: 'interleaved: kernel, then algd, per round' },
    goals: GOALS,
    kernel: k,
    algd: { ...a, fastPathMBps: fastMBps, addedPerMessageMs: { p50: added50, p99: added99 }, rssMB10k: rssMB, rssProjected: host.memory.projected },
    rows,
    notes,
    chart,
    turns: turns.map((t) => ({ ...t, noop: { n: t.noop.samples.length, p50: percentile(t.noop.samples, 50), p99: percentile(t.noop.samples, 99) } })),
    fastTurns,
  }, null, 2)}\n`);

  process.stdout.write(`\n${tableText(rows)}\n\n${notes.join('\n')}\n`);
  if (background > 0.15) process.stdout.write(`WARNING: other work kept the machine up to ${(background * 100).toFixed(0)}% busy: the figures are disturbed\n`);
  process.stdout.write(`\nMarkdown:\n${tableMarkdown(rows)}\n\n`);
  process.stdout.write(`figures in ${outFile}; chart ${chart.png ?? `not rendered: ${chart.problem}`}\n`);
  return 0;
}

runBench(main);
