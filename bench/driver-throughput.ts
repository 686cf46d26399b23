/**
 * Benchmark (not a test): bulk TCP throughput through a userland mapping of
 * algd's nfqueue driver, next to the kernel's own forwarding + NAT, on the
 * same lab in the same run.
 *
 * `npm run bench:driver` (root; builds first). Knobs (environment):
 * BENCH_RUNS (3), BENCH_MAX_MIB (512) and BENCH_MAX_SECONDS (20) bound each
 * transfer, whichever comes first; BENCH_SOCKBUF (bytes, default 4 MiB; 0 =
 * kernel autotuning) sets SO_SNDBUF/SO_RCVBUF of both ends;
 * BENCH_OFFLOADS (1) leaves the lab's veth offloads on (TSO/GSO, checksum
 * offload: 64 KiB super-packets with partial checksums cross the gateway,
 * and the driver queues them whole, NFQA_CFG_F_GSO); 0 turns them off as
 * the tests' labs do (every MTU-sized segment crosses userland);
 * BENCH_CPU_PROF=1 runs the gateway harness under `node --cpu-prof`
 * (profiles in bench/out/prof/).
 *
 * Paths, both server → client, measured at the receiver (bytes / seconds
 * from the connection being established to EOF):
 * 1. kernel: the client connects to the server (203.0.113.2:5201) through
 *    the gateway's nftables masquerade and the server sends; conntrack
 *    de-NATs every data segment in the kernel. algd is not running.
 * 2. algd: algd's NatEngine behind the NfqueueDriver in the gateway
 *    (driver-harness.ts) with an inbound mapping private 198.51.100.2:50000
 *    ↔ public 203.0.113.1:61000 (remote 203.0.113.2); the server connects
 *    to 203.0.113.1:61000 and sends, the client listens on 50000. Every
 *    packet of that connection crosses userland once: data segments at raw
 *    PREROUTING (destination rewrite; finished there, they skip mangle
 *    POSTROUTING), the client's ACKs at mangle POSTROUTING (source
 *    rewrite).
 *    The driver's counters, the gateway's interface counters and the
 *    harness's CPU time are recorded per transfer.
 *
 * Rounds are interleaved (kernel, then algd with a fresh harness, per
 * round) so both paths see the same background load; the host's CPU use
 * just before each transfer is recorded and a busy machine is flagged.
 *
 * Traffic stays in the lab's namespaces on documentation addresses; every
 * transfer is bounded in bytes and time; the lab is destroyed at the end,
 * on failure too; a watchdog ends the whole bench after BUDGET_MS.
 * Results: a table on stdout, figures in bench/out/driver-throughput.json.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';

import { CLIENT_V4, GATEWAY_PUBLIC_V4, SERVER_V4 } from '../host/lab/addresses';
import type { Lab } from '../host/lab/lab';
import type { LabProcess } from '../host/lab/lab-process';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from '../host/lab/topology';
import { envInt, runBench, withBenchLab } from './bench-lab';
import { BULK_TCP, parseBulk, type BulkResult } from './bulk-tcp';
import { labCaptureSpec } from '../host/lab/lab-capture-spec';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(__dirname, '../../..');
const OUT_DIR = join(ROOT, 'bench/out');
const HARNESS_JS = join(__dirname, 'driver-harness.js');

const RUNS = Math.max(1, envInt('BENCH_RUNS', 3, { min: 0 }));
const MAX_BYTES = envInt('BENCH_MAX_MIB', 512, { min: 0 }) * 1024 * 1024;
const MAX_SECONDS = Math.min(envInt('BENCH_MAX_SECONDS', 20, { min: 0 }), 30);
const SOCKBUF = envInt('BENCH_SOCKBUF', 4 * 1024 * 1024, { min: 0 });
const CPU_PROF = process.env['BENCH_CPU_PROF'] === '1';
const OFFLOADS = envInt('BENCH_OFFLOADS', 1, { min: 0 }) !== 0;
/** Host-wide CPU busy share (0..1) sampled before a transfer above which the figures are flagged as disturbed. */
const BUSY_WARNING = 0.15;
/** The whole bench stops by itself after this long (lab destroyed). */
const BUDGET_MS = 175_000;
const WAIT_MS = 15_000;

const QUEUE_NUM = 4310;
const KERNEL_PORT = 5201;
const PRIVATE_PORT = 50000;
const PUBLIC_PORT = 61000;

interface Counters {
  pubRx: number;
  privRx: number;
}

interface CpuTimes {
  busy: number;
  softirq: number;
  total: number;
}

interface HarnessStats {
  driver: { received: number; accepted: number; dropped: number; modified: number; errors: number; overruns: number; batches: number; largestBatch: number; gsoPackets: number; partialChecksums: number; largestPacket: number };
  engine: { packets: number; passed: number; translated: number; flowsCreated: number; drops: Record<string, number> };
  flows: number;
  cpu: { user: number; system: number };
}

interface Run {
  readonly path: 'kernel' | 'algd';
  readonly bytes: number;
  readonly seconds: number;
  readonly MBps: number;
  readonly Gbps: number;
  readonly sentBytes: number;
  readonly receiverEnded: string;
  readonly receiverPeer: [string, number];
  /** Packets received on the gateway's pub0 (data segments) and priv0 (ACKs) during the transfer. */
  readonly gatewayRx: Counters;
  /** Host-wide CPU during the transfer: busy and softirq share of all CPUs (0..1). */
  readonly hostCpu: { busy: number; softirq: number };
  /** Host-wide CPU busy share in the 300 ms before the transfer: other work on the machine (0..1). */
  readonly backgroundBusy: number;
  readonly userland?: {
    readonly received: number;
    readonly modified: number;
    readonly dropped: number;
    readonly errors: number;
    readonly overruns: number;
    readonly batches: number;
    readonly meanBatch: number;
    /** GSO super-packets and partial-checksum packets among `received`; the largest packet (bytes). */
    readonly gsoPackets: number;
    readonly partialChecksums: number;
    readonly largestPacket: number;
    readonly translated: number;
    readonly passed: number;
    /** received / (data segments + ACKs): 1.0 means every packet crossed userland once, where it is queued. */
    readonly coverage: number;
    /** The harness process's CPU during the transfer, in cores (1.0 = one core busy): all, user, kernel (system calls, and the packet processing a verdict triggers). */
    readonly harnessCores: number;
    readonly harnessUserCores: number;
    readonly harnessSystemCores: number;
  };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function hostCpuTimes(): CpuTimes {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, softirq, total };
}

function cpuShare(a: CpuTimes, b: CpuTimes): { busy: number; softirq: number } {
  const t = b.total - a.total || 1;
  return { busy: (b.busy - a.busy) / t, softirq: (b.softirq - a.softirq) / t };
}

class Bench {
  private harness: LabProcess | undefined;
  private readonly started = Date.now();

  /** The sender/receiver script, written once into the lab's work directory (short command lines in messages). */
  private readonly script: string;

  constructor(private readonly lab: Lab) {
    this.script = join(lab.workDir, 'bulk_tcp.py');
    writeFileSync(this.script, BULK_TCP);
  }

  private remainingMs(): number {
    return BUDGET_MS - (Date.now() - this.started);
  }

  /** Enough budget left for one more bounded transfer (and its setup), or throws. */
  private assertBudget(what: string): void {
    if (this.remainingMs() < (MAX_SECONDS + 25) * 1000) throw new Error(`not enough time left in the ${BUDGET_MS / 1000} s budget for ${what}`);
  }

  private bulkArgv(role: 'send' | 'recv', how: 'listen' | 'connect', host: string, port: number): string[] {
    // The receiver gets 5 s more than the sender, so the sender's bound is the one that applies.
    const seconds = role === 'send' ? MAX_SECONDS : MAX_SECONDS + 5;
    return ['python3', '-u', this.script, role, how, host, String(port), String(MAX_BYTES), String(seconds), String(SOCKBUF)];
  }

  /** `p`, or a rejection as soon as the harness (when running) exits. */
  private whileHarnessRuns<T>(p: Promise<T>): Promise<T> {
    const h = this.harness;
    if (h === undefined) return p;
    const died = h.exited.then((exit) => {
      throw new Error(`the harness exited (${JSON.stringify(exit)}) during the transfer: ${h.stderr.trim().slice(-800)}`);
    });
    died.catch(() => undefined);
    return Promise.race([p, died]);
  }

  private async gatewayRx(): Promise<Counters> {
    const r = await this.lab.execOk('gateway', ['cat', `/sys/class/net/${GATEWAY_PUBLIC_IFACE}/statistics/rx_packets`, `/sys/class/net/${GATEWAY_PRIVATE_IFACE}/statistics/rx_packets`]);
    const [pubRx, privRx] = r.stdout.trim().split('\n').map(Number);
    return { pubRx: pubRx!, privRx: privRx! };
  }

  private async command(line: string, answer: RegExp): Promise<RegExpMatchArray> {
    const h = this.harness;
    if (h === undefined) throw new Error('the harness is not running');
    const before = h.stdout.length;
    h.write(`${line}\n`);
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const m = answer.exec(h.stdout.slice(before));
      if (m) return m;
      if (!h.running || Date.now() > deadline) throw new Error(`harness did not answer ${line}:\n${h.stdout}\n${h.stderr}`);
      await sleep(10);
    }
  }

  private async harnessStats(): Promise<HarnessStats> {
    return JSON.parse((await this.command('stats', /^STATS (.*)$/m))[1]!) as HarnessStats;
  }

  /** One transfer: `listener` listens, `connector` connects and they move the bytes; the receiver's figures count. */
  private async transfer(
    path: 'kernel' | 'algd',
    listener: { host: 'client' | 'server'; role: 'send' | 'recv'; port: number },
    connector: { host: 'client' | 'server'; role: 'send' | 'recv'; address: string; port: number },
  ): Promise<{ recv: BulkResult; send: BulkResult; rx: Counters; cpu: { busy: number; softirq: number }; background: number }> {
    this.assertBudget(`a ${path} transfer`);
    const bg0 = hostCpuTimes();
    await sleep(300);
    const background = cpuShare(bg0, hostCpuTimes()).busy;
    const listening = this.lab.spawn(listener.host, this.bulkArgv(listener.role, 'listen', '0.0.0.0', listener.port));
    try {
      await listening.waitForOutput(/^LISTENING$/m, WAIT_MS, 'stdout');
      const rx0 = await this.gatewayRx();
      const cpu0 = hostCpuTimes();
      const argv = this.bulkArgv(connector.role, 'connect', connector.address, connector.port);
      const conn = await this.whileHarnessRuns(this.lab.exec(connector.host, argv, { timeoutMs: (MAX_SECONDS + 40) * 1000 }));
      if (conn.code !== 0) throw new Error(`${path}: the ${connector.host}'s ${connector.role === 'send' ? 'sender' : 'receiver'} exited ${conn.code}: ${conn.stderr.trim().slice(-800)}`);
      const ended = parseBulk(conn.stdout).ended;
      if (ended.startsWith('error')) throw new Error(`${path}: the ${connector.host}'s ${connector.role === 'send' ? 'sender' : 'receiver'} failed: ${ended}`);
      // The listener ends within its 10 s inactivity timeout at worst.
      const exit = await this.whileHarnessRuns(listening.waitForExit(25_000));
      const cpu1 = hostCpuTimes();
      const rx1 = await this.gatewayRx();
      if (exit.code !== 0) throw new Error(`${path}: the ${listener.host}'s ${listener.role === 'send' ? 'sender' : 'receiver'} exited ${JSON.stringify(exit)}: ${listening.stderr.trim().slice(-800)}`);
      const a = parseBulk(conn.stdout);
      const b = parseBulk(listening.stdout);
      const [send, recv] = a.role === 'send' ? [a, b] : [b, a];
      return { recv, send, rx: { pubRx: rx1.pubRx - rx0.pubRx, privRx: rx1.privRx - rx0.privRx }, cpu: cpuShare(cpu0, cpu1), background };
    } finally {
      if (listening.running) await listening.kill();
    }
  }

  private result(path: 'kernel' | 'algd', t: Awaited<ReturnType<Bench['transfer']>>, userland?: Run['userland']): Run {
    const { recv, send } = t;
    if (recv.bytes === 0 || recv.seconds <= 0) throw new Error(`${path}: nothing received (${JSON.stringify(recv)}, sender ${JSON.stringify(send)})`);
    if (recv.bytes !== send.bytes) throw new Error(`${path}: received ${recv.bytes} bytes of the ${send.bytes} sent (receiver ended: ${recv.ended}, sender: ${send.ended})`);
    const Bps = recv.bytes / recv.seconds;
    return {
      path,
      bytes: recv.bytes,
      seconds: recv.seconds,
      MBps: Bps / 1e6,
      Gbps: (Bps * 8) / 1e9,
      sentBytes: send.bytes,
      receiverEnded: recv.ended,
      receiverPeer: recv.peer,
      gatewayRx: t.rx,
      hostCpu: t.cpu,
      backgroundBusy: t.background,
      ...(userland ? { userland } : {}),
    };
  }

  async kernelRun(label: string): Promise<Run> {
    const t = await this.transfer('kernel', { host: 'server', role: 'send', port: KERNEL_PORT }, { host: 'client', role: 'recv', address: SERVER_V4, port: KERNEL_PORT });
    const run = this.result('kernel', t);
    if (run.receiverPeer[0] !== SERVER_V4) throw new Error(`kernel: the client's peer is ${run.receiverPeer.join(':')}, not the server`);
    progress(`kernel run ${label}: ${fmtRun(run)}`);
    return run;
  }

  /** Starts the harness (engine + driver) in the gateway and maps 203.0.113.1:61000 → 198.51.100.2:50000 for the server. */
  async startHarness(): Promise<void> {
    const spec = labCaptureSpec({ controlPorts: [], families: [4] });
    const stateDir = join(this.lab.workDir, 'harness-state');
    mkdirSync(stateDir, { recursive: true });
    const node = [process.execPath, ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(OUT_DIR, 'prof')}`] : [])];
    this.harness = this.lab.spawn('gateway', [...node, HARNESS_JS, JSON.stringify({ queueNum: QUEUE_NUM, stateDir, spec })]);
    await this.harness.waitForOutput(/^READY$/m, WAIT_MS, 'stdout');
    const mapping = {
      protocol: 'tcp',
      private: { address: CLIENT_V4, port: PRIVATE_PORT },
      public: { address: GATEWAY_PUBLIC_V4, port: PUBLIC_PORT },
      remote: { address: SERVER_V4 },
      direction: 'inbound',
      persistent: true,
      owner: 'bench',
    };
    await this.command(`map ${JSON.stringify(mapping)}`, /^MAPPED \d+$/m);
  }

  async algdRun(label: string): Promise<Run> {
    const s0 = await this.harnessStats();
    const t = await this.transfer('algd', { host: 'client', role: 'recv', port: PRIVATE_PORT }, { host: 'server', role: 'send', address: GATEWAY_PUBLIC_V4, port: PUBLIC_PORT });
    const s1 = await this.harnessStats();
    const d = (k: keyof HarnessStats['driver']): number => s1.driver[k] - s0.driver[k];
    // Data segments are queued before routing (translated, finished there); ACKs after routing (translated).
    const expected = t.rx.pubRx + t.rx.privRx;
    const cores = (us: number): number => us / 1e6 / t.recv.seconds;
    const run = this.result('algd', t, {
      received: d('received'),
      modified: d('modified'),
      dropped: d('dropped'),
      errors: d('errors'),
      overruns: d('overruns'),
      batches: d('batches'),
      meanBatch: d('batches') > 0 ? d('received') / d('batches') : 0,
      gsoPackets: d('gsoPackets'),
      partialChecksums: d('partialChecksums'),
      largestPacket: s1.driver.largestPacket,
      translated: s1.engine.translated - s0.engine.translated,
      passed: s1.engine.passed - s0.engine.passed,
      coverage: expected > 0 ? d('received') / expected : 0,
      harnessCores: cores(s1.cpu.user + s1.cpu.system - s0.cpu.user - s0.cpu.system),
      harnessUserCores: cores(s1.cpu.user - s0.cpu.user),
      harnessSystemCores: cores(s1.cpu.system - s0.cpu.system),
    });
    // The mapping makes the client see the server (and the server the gateway's public endpoint).
    if (run.receiverPeer[0] !== SERVER_V4) throw new Error(`algd: the client's peer is ${run.receiverPeer.join(':')}, not the server (not translated?)`);
    if (run.userland!.received < t.rx.pubRx) throw new Error(`algd: only ${run.userland!.received} packets crossed userland for ${t.rx.pubRx} data segments`);
    progress(`algd run ${label}: ${fmtRun(run)}`);
    return run;
  }

  /** Stops the harness (the driver removes its rules) and returns its last counters. */
  async stopHarness(): Promise<HarnessStats | undefined> {
    const h = this.harness;
    this.harness = undefined;
    if (h === undefined || !h.running) return undefined;
    const before = h.stdout.length;
    h.write('stop\n');
    await h.waitForExit(WAIT_MS);
    const m = /^STOPPED (.*)$/m.exec(h.stdout.slice(before));
    if (!m) throw new Error(`the harness did not report its stop:\n${h.stdout}\n${h.stderr}`);
    return JSON.parse(m[1]!) as HarnessStats;
  }
}

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function fmtRun(r: Run): string {
  const u = r.userland;
  const extra = u
    ? `, userland ${u.received} pkts (coverage ${u.coverage.toFixed(3)}, mean batch ${u.meanBatch.toFixed(1)}, harness ${u.harnessCores.toFixed(2)} cores (user ${u.harnessUserCores.toFixed(2)}, sys ${u.harnessSystemCores.toFixed(2)}), overruns ${u.overruns}, errors ${u.errors})`
    : '';
  return `${(r.bytes / 2 ** 20).toFixed(0)} MiB in ${r.seconds.toFixed(2)} s = ${r.MBps.toFixed(1)} MB/s (${r.Gbps.toFixed(2)} Gbit/s), host CPU ${(r.hostCpu.busy * 100).toFixed(0)}% (softirq ${(r.hostCpu.softirq * 100).toFixed(0)}%, ${(r.backgroundBusy * 100).toFixed(0)}% busy before)${extra}`;
}

interface Summary {
  readonly runs: readonly Run[];
  readonly medianMBps: number;
  readonly medianGbps: number;
  readonly minMBps: number;
  readonly maxMBps: number;
}

function summarize(runs: readonly Run[]): Summary {
  const mb = runs.map((r) => r.MBps);
  return { runs, medianMBps: median(mb), medianGbps: (median(mb) * 8) / 1000, minMBps: Math.min(...mb), maxMBps: Math.max(...mb) };
}

function table(kernel: Summary, algd: Summary, ratio: number): string {
  const row = (name: string, s: Summary, pkts: string): string =>
    `${name.padEnd(29)}${s.medianMBps.toFixed(1).padStart(11)}   ${s.medianGbps.toFixed(2).padStart(6)}   ${`${s.minMBps.toFixed(0)}..${s.maxMBps.toFixed(0)}`.padEnd(12)} ${pkts}`;
  const userland = algd.runs.map((r) => r.userland!);
  const pkts = median(userland.map((u) => u.received));
  const coverage = median(userland.map((u) => u.coverage));
  return [
    `${'path'.padEnd(29)}median MB/s   Gbit/s   min..max     packets via userland`,
    row('kernel forwarding + NAT', kernel, '0 (algd not running)'),
    row('algd userland mapping', algd, `${pkts} per run (${coverage.toFixed(3)} × (data segs + ACKs))`),
    `${'ratio algd/kernel'.padEnd(29)}${ratio.toFixed(2).padStart(11)}   (goal >= 0.5)`,
  ].join('\n');
}

async function main(): Promise<number> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    process.stderr.write('bench:driver needs Linux and root (network namespaces, nfqueue)\n');
    return 2;
  }
  progress(`transfers: ${RUNS} per path, each at most ${MAX_BYTES / 2 ** 20} MiB or ${MAX_SECONDS} s; sender/receiver: python3 sockets, 1 MiB chunks, SO_SNDBUF/SO_RCVBUF ${SOCKBUF === 0 ? 'autotuned' : `${SOCKBUF} bytes`}`);
  progress(`veth offloads ${OFFLOADS ? 'on (GSO super-packets cross userland whole)' : 'off (MTU-sized segments)'}`);
  return withBenchLab({ ipv6: false, name: 'bench', offloads: OFFLOADS }, BUDGET_MS, progress, async (lab) => {
    progress(`lab ${lab.id} up`);
    const bench = new Bench(lab);
    // Interleaved, so that both paths see the same background load: kernel (algd not running), then algd, per round.
    const kernelRuns: Run[] = [];
    const algdRuns: Run[] = [];
    const harnessFinal: (HarnessStats | undefined)[] = [];
    for (let i = 1; i <= RUNS; i++) {
      kernelRuns.push(await bench.kernelRun(`${i}/${RUNS}`));
      await bench.startHarness();
      try {
        algdRuns.push(await bench.algdRun(`${i}/${RUNS}`));
      } finally {
        harnessFinal.push(
          await bench.stopHarness().catch((err: unknown) => {
            progress(`stopping the harness failed: ${String(err)}`);
            return undefined;
          }),
        );
      }
    }
    const kernel = summarize(kernelRuns);
    const algd = summarize(algdRuns);
    const ratio = algd.medianMBps / kernel.medianMBps;
    const background = Math.max(...kernel.runs.map((r) => r.backgroundBusy), ...algd.runs.map((r) => r.backgroundBusy));

    const report = {
      bench: 'driver-throughput',
      date: new Date().toISOString(),
      host: { kernel: release(), cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
      tool: 'python3 sockets (bench/bulk-tcp.ts): sendall / recv_into, 1 MiB chunks',
      params: { runs: RUNS, maxBytes: MAX_BYTES, maxSeconds: MAX_SECONDS, sockbuf: SOCKBUF, offloads: OFFLOADS, queueNum: QUEUE_NUM, cpuProfile: CPU_PROF, order: 'interleaved: kernel, then algd, per round' },
      backgroundBusyMax: background,
      units: { MBps: '10^6 bytes per second', Gbps: '10^9 bits per second' },
      kernel,
      algd,
      ratio,
      goal: 0.5,
      meetsGoal: ratio >= 0.5,
      harnessFinal,
    };
    mkdirSync(OUT_DIR, { recursive: true });
    const outFile = join(OUT_DIR, 'driver-throughput.json');
    writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);

    process.stdout.write(`\n${table(kernel, algd, ratio)}\n\n`);
    if (background > BUSY_WARNING) {
      process.stdout.write(`WARNING: the machine was up to ${(background * 100).toFixed(0)}% busy before a transfer (other work): the figures are disturbed\n`);
    }
    const u = algd.runs.map((r) => r.userland!);
    process.stdout.write(
      `algd runs: mean batch ${median(u.map((x) => x.meanBatch)).toFixed(1)} packets, ` +
        `harness CPU ${median(u.map((x) => x.harnessCores)).toFixed(2)} cores (user ${median(u.map((x) => x.harnessUserCores)).toFixed(2)}, kernel ${median(u.map((x) => x.harnessSystemCores)).toFixed(2)}), ` +
        `host CPU ${(median(algd.runs.map((r) => r.hostCpu.busy)) * 100).toFixed(0)}% (kernel runs ${(median(kernel.runs.map((r) => r.hostCpu.busy)) * 100).toFixed(0)}%) of ${cpus().length} CPUs, ` +
        `overruns ${u.reduce((a, x) => a + x.overruns, 0)}, errors ${u.reduce((a, x) => a + x.errors, 0)}, drops ${u.reduce((a, x) => a + x.dropped, 0)}, ` +
        `veth offloads ${OFFLOADS ? 'on' : 'off'}: GSO ${median(u.map((x) => x.gsoPackets))} / partial ${median(u.map((x) => x.partialChecksums))} packets per run, largest ${Math.max(...u.map((x) => x.largestPacket))} bytes\n`,
    );
    process.stdout.write(`sender/receiver: python3 sockets; figures in ${outFile}\n`);
    return 0;
  });
}

runBench(main);
