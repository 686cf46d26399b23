/**
 * Benchmark (not a test): what the plugin host adds to a control message,
 * and what an idle control session costs it.
 *
 * `npm run bench:plugins` (root; builds first). No root and no network
 * namespaces: the real PluginHost runs in this process as the integration
 * tests run it (test/support/plugin-host-rig.ts: a NatEngine told about
 * each client's SYN, so the host's real loopback listener finds the
 * original destination; the host's real worker pools). The plugin is the
 * fixture `bench-echo` (test/fixtures/plugin-packages/bench-echo): lines in
 * both directions, forwarded unchanged, a line counter in the session
 * state, default plugin settings (threads, task budget, worker memory).
 * The peers run in two child processes (bench/plugin-host-peers.ts): an
 * echo server on 127.0.0.2 and the clients on 127.0.0.1, so this process
 * holds only the host's sockets, sessions and workers.
 *
 * Memory is measured first, on a fresh host, then latency.
 *
 * 1. Memory. BENCH_SESSIONS (10 000) sessions through the host, each sending
 *    one line and receiving its echo (the plugin has run for both
 *    directions: its state exists), then idle. RSS and V8 heap of this
 *    process (after global.gc()) before, after the engine learnt the
 *    clients' SYNs (its flows: the engine's share), with the sessions, and
 *    after closing them. Each session holds two descriptors here (client
 *    leg, upstream leg): if the open-files limit cannot be raised far
 *    enough, as many sessions as it allows are measured and the 10 000
 *    figure is projected linearly from the measured per-session cost, and
 *    the output says so. BENCH_HEAP_SNAPSHOT=1 adds the V8 heap by
 *    constructor per session (heap snapshots; their parsing spoils the RSS
 *    figures of that run; use BENCH_SESSIONS=2000 or so).
 * 2. Latency. One client line, echoed at once by the server, the client
 *    waiting for the echo: BENCH_ROUND_TRIPS (5000) sequential round trips
 *    per path after BENCH_WARMUP (500), through algd and directly (client →
 *    server, a plain connection), and for reference through a bare Node TCP
 *    relay in the host process (what any userland hop costs on this
 *    machine), interleaved in blocks of 250 so all paths see the same
 *    background load. A round trip through algd crosses
 *    the plugin's worker twice (the client's line, then the server's echo),
 *    so the added latency of one message is half the round-trip difference.
 *    Pieces: each plugin task as the session awaits it (PluginInstance.run
 *    wrapped by the bench), the worker hop alone (PluginPool.run on a pool
 *    of the same plugin, no sockets), the host's CPU per round trip, GC
 *    pauses and event-loop delay of its main thread, and how busy the
 *    machine was (other work disturbs the figures; flagged).
 * 3. Goals: p99 added latency per message < 0.5 ms; 10 000 idle sessions
 *    < 256 MB RSS of the host process. PASS or MISS.
 *
 * Traffic stays on loopback (127.0.0.1, 127.0.0.2), bounded in count; a
 * watchdog ends the bench after BUDGET_MS. Results: tables on stdout,
 * figures in bench/out/plugin-host.json. Needs `node --expose-gc`.
 * BENCH_CPU_PROF=1 records a CPU profile of this process's main thread
 * during the timed latency rounds (bench/out/prof/) and prints its
 * heaviest functions.
 */

import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector';
import { cpus, release } from 'node:os';
import { createServer, connect, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { constants as perfConstants, monitorEventLoopDelay, performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import type { TaskEnvelope } from '@algd/sdk/runtime';

import { discoverPlugins } from '../host/plugin-api/discovery/discover-plugins';
import { PluginInstance } from '../host/plugin-api/plugin-instance';
import { PluginPool } from '../host/plugin-api/worker-pool/plugin-pool';
import { buildPacket, TCP_FLAGS } from '../test/support/packets';
import { PluginHostRig, SERVER_ADDRESS } from '../test/support/plugin-host-rig';
import { envInt, runBench } from './bench-lab';
import type { PeerStats } from './plugin-host-peers';

// The pools load the worker module compiled next to plugin-pool.js; naming it here makes tsc emit it into dist/bench too.
export type { default as PluginWorkerEntry } from '../host/plugin-api/worker-pool/plugin-worker';

const ROOT = resolve(__dirname, '../../..');
const OUT_DIR = join(ROOT, 'bench/out');
const PLUGINS_DIR = join(ROOT, 'test/fixtures/plugin-packages');
const PEERS_JS = join(__dirname, 'plugin-host-peers.js');
const PLUGIN = 'bench-echo';

const ROUND_TRIPS = envInt('BENCH_ROUND_TRIPS', 5000, { max: 100_000 });
const WARMUP = envInt('BENCH_WARMUP', 500, { max: 100_000 });
const BLOCK = 250;
const TARGET_SESSIONS = envInt('BENCH_SESSIONS', 10_000, { max: 50_000 });
const CPU_PROF = process.env['BENCH_CPU_PROF'] === '1';
/** Heap snapshots before and with the idle sessions, summarised by constructor (slow: a few seconds per 1000 sessions). */
const HEAP_SNAPSHOT = process.env['BENCH_HEAP_SNAPSHOT'] === '1';
/** The whole bench ends by itself after this long. */
const BUDGET_MS = 300_000;
/** One request to a peer process. */
const PEER_TIMEOUT_MS = 120_000;

/** The capture port (the "server port" the clients dial) and the listener range. */
const SERVER_PORT = 2190;
const LISTENERS = { from: 4700, to: 4749 };
/** Client source ports: warm-up sessions, the timed connection, the idle sessions (with room for retries). */
const WARM_PORTS = { from: 18000, to: 18999 };
const TIMED_PORT = 19500;
const IDLE_PORTS = { from: 20000, to: 31999 };
const WARM_SESSIONS = 200;
const OPEN_BATCH = 500;
const OPEN_CONCURRENCY = 64;
/** An FTP-like control line (27 bytes). */
const LINE = 'PORT 192,168,1,2,7,138\r\n';

const GOAL_P99_MS = 0.5;
const GOAL_RSS_MB = 256;
const GOAL_SESSIONS = 10_000;

const MB = 1024 * 1024;

// ---------------------------------------------------------------- small helpers

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

interface Percentiles {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentiles of samples (microseconds). */
function percentiles(samples: readonly number[]): Percentiles {
  const s = Float64Array.from(samples).sort();
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { n: s.length, min: s[0]!, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function minus(a: Percentiles, b: Percentiles, scale = 1): Omit<Percentiles, 'n' | 'mean' | 'min'> {
  return { p50: (a.p50 - b.p50) * scale, p90: (a.p90 - b.p90) * scale, p99: (a.p99 - b.p99) * scale, max: (a.max - b.max) * scale };
}

function openFilesLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function openFiles(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

const gc = (): void => (globalThis as { gc?: () => void }).gc!();

// ---------------------------------------------------------------- peers

/** A peer child process driven over IPC. */
class Peer {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private readonly ready: Promise<void>;

  private constructor(readonly role: 'client' | 'server', private readonly child: ChildProcess) {
    let readyResolve!: () => void;
    this.ready = new Promise((r) => (readyResolve = r));
    child.on('message', (m: { id: number; ok: boolean; error?: string; ready?: string }) => {
      if (m.id === 0) return readyResolve();
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m as Record<string, unknown>);
      else w.reject(new Error(`${role} peer: ${m.error}`));
    });
    child.on('exit', (code, signal) => {
      for (const w of this.waiting.values()) w.reject(new Error(`${role} peer exited (${code ?? signal})`));
      this.waiting.clear();
    });
  }

  static async start(role: 'client' | 'server'): Promise<Peer> {
    const child = fork(PEERS_JS, [role], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const peer = new Peer(role, child);
    await Promise.race([peer.ready, sleep(15_000).then(() => Promise.reject(new Error(`${role} peer did not start`)))]);
    return peer;
  }

  request<T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.role} peer: ${op} took longer than ${PEER_TIMEOUT_MS} ms`));
      }, PEER_TIMEOUT_MS);
      this.waiting.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, op, ...args });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- the bench

interface MemoryReading {
  readonly sessions: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly openFiles: number;
  readonly threads: number;
  readonly engineFlows: number;
  /** Committed bytes of each V8 heap space of the main thread. */
  readonly spaces: Record<string, number>;
}

class Bench {
  readonly rig = new PluginHostRig({
    pluginsDir: PLUGINS_DIR,
    listenerPorts: LISTENERS,
    // Only the bench plugin runs (the other fixtures would add worker pools to the measured process).
    plugins: { ...Object.fromEntries(discoverPlugins(PLUGINS_DIR).plugins.map((d) => [d.name, { enabled: false }])), [PLUGIN]: { ports: { tcp: [SERVER_PORT] } } },
  });
  listener = 0;
  relayPort = 0;
  /** Log lines before this index were written while the host started (the fixtures folder holds broken packages on purpose). */
  private logsFrom = 0;
  private relay: Server | undefined;

  constructor(readonly client: Peer, readonly server: Peer) {}

  async start(): Promise<void> {
    // The rig collects every log line in memory; the service logs at "info" by default, so the per-session
    // "debug" lines (session started/ended) would only weigh on the measured heap here. Warnings still count.
    this.rig.logs.level = 'info';
    await this.rig.start();
    const s = this.rig.host.status().plugins.find((p) => p.name === PLUGIN);
    if (s?.state !== 'enabled') throw new Error(`the ${PLUGIN} plugin is not enabled: ${JSON.stringify(s)}`);
    this.listener = this.rig.listenerPort(PLUGIN, 'tcp', SERVER_PORT);
    this.logsFrom = this.rig.logs.lines.length;
    await this.server.request('listen', { port: SERVER_PORT });
  }

  /** Tells the engine about the SYN 127.0.0.1:clientPort → 127.0.0.2:2190, as a captured client's would arrive. */
  announce(clientPort: number): void {
    const syn = buildPacket({ family: 4, src: '127.0.0.1', dst: SERVER_ADDRESS }, { kind: 'tcp', srcPort: clientPort, dstPort: SERVER_PORT, flags: TCP_FLAGS.SYN, seq: 1 });
    const outcome = this.rig.engine.process(syn, { origin: 'private', stage: 'single' });
    if (outcome !== 'translated') throw new Error(`the engine did not redirect the SYN from port ${clientPort}: ${outcome}`);
  }

  async reading(sessions: number): Promise<MemoryReading> {
    for (let i = 0; i < 3; i++) {
      gc();
      await sleep(100);
    }
    const m = process.memoryUsage();
    return { sessions, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, openFiles: openFiles(), threads: threadCount(), engineFlows: this.rig.engine.flowCount, spaces: Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, x.physical_space_size])) };
  }

  async waitSessions(n: number, timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    while (this.rig.host.registry.size !== n) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`expected ${n} sessions, the host has ${this.rig.host.registry.size}`);
      await sleep(20);
    }
  }

  /** Warnings and errors the host logged so far. */
  problems(): string[] {
    return this.rig.logs.lines.slice(this.logsFrom).filter((l) => l.level === 'warn' || l.level === 'error').map((l) => `${l.level}: ${l.message}`);
  }

  /** Opens sessions from the given ports through the host (announced to the engine unless said otherwise); returns the ports that failed (e.g. a port in use). */
  async openSessions(ports: readonly number[], announced = false): Promise<{ opened: number; failed: { port: number; error: string }[] }> {
    if (!announced) for (const p of ports) this.announce(p);
    return this.client.request('openMany', { host: '127.0.0.1', port: this.listener, localAddress: '127.0.0.1', localPorts: ports, concurrency: OPEN_CONCURRENCY, line: LINE });
  }

  // ---- memory -------------------------------------------------------------

  async memory(): Promise<MemoryResult> {
    // Warm-up: the pool's workers start and the paths are compiled before the baseline.
    const warm = await this.openSessions(range(WARM_PORTS.from, WARM_PORTS.from + WARM_SESSIONS - 1));
    if (warm.opened < WARM_SESSIONS / 2) throw new Error(`warm-up: only ${warm.opened} of ${WARM_SESSIONS} sessions opened (${JSON.stringify(warm.failed.slice(0, 5))})`);
    await this.client.request('closeAll');
    await this.waitSessions(0, 15_000);
    await sleep(500);
    const before = await this.reading(0);
    const snapshotBefore = HEAP_SNAPSHOT ? heapCensus() : undefined;

    const limit = openFilesLimit();
    // Two descriptors per session, and room for what else the process opens meanwhile.
    const fdRoom = Math.floor((limit - before.openFiles - 100) / 2);
    const target = Math.min(TARGET_SESSIONS, fdRoom);
    if (target < 100) throw new Error(`the open-files limit (${limit}) leaves room for ${fdRoom} sessions only`);
    if (target < TARGET_SESSIONS) progress(`open-files limit ${limit}: measuring ${target} sessions (2 descriptors each in this process), projecting ${TARGET_SESSIONS}`);
    // The engine's part first: the redirected SYN of every session's client (one flow each, as in the service).
    let ports = range(IDLE_PORTS.from, IDLE_PORTS.from + target - 1);
    let nextPort = IDLE_PORTS.from + target;
    for (const p of ports) this.announce(p);
    const flowsOnly = await this.reading(0);
    progress(`opening ${target} idle sessions (batches of ${OPEN_BATCH}, ${OPEN_CONCURRENCY} at a time)`);
    const t0 = Date.now();
    let opened = 0;
    const failures: Record<string, number> = {};
    while (ports.length > 0) {
      const batch = ports.slice(0, OPEN_BATCH);
      ports = ports.slice(OPEN_BATCH);
      const r = await this.openSessions(batch, true);
      opened += r.opened;
      for (const f of r.failed) failures[f.error] = (failures[f.error] ?? 0) + 1;
      if (Object.values(failures).reduce((a, b) => a + b, 0) > 500) throw new Error(`too many failed connections: ${JSON.stringify(failures)}`);
      // A port some other program holds: another one takes its place.
      if (ports.length === 0 && opened < target) {
        const want = target - opened;
        if (nextPort + want - 1 > IDLE_PORTS.to) throw new Error(`ran out of client ports after ${opened} sessions (failures: ${JSON.stringify(failures)})`);
        ports = range(nextPort, nextPort + want - 1);
        nextPort += want;
        for (const p of ports) this.announce(p);
      }
    }
    const openSeconds = (Date.now() - t0) / 1000;
    await this.waitSessions(opened, 15_000);
    progress(`${opened} sessions open in ${openSeconds.toFixed(1)} s${Object.keys(failures).length ? ` (retried: ${JSON.stringify(failures)})` : ''}; idle for 2 s`);
    await sleep(2_000);
    const withSessions = await this.reading(opened);
    const sessionStates = this.rig.host.registry.list().filter((s) => s.state !== undefined).length;
    const peers = { client: await this.client.request<PeerStats>('stats'), server: await this.server.request<PeerStats>('stats') };

    const snapshotWith = HEAP_SNAPSHOT ? heapCensus() : undefined;

    await this.client.request('closeAll');
    await this.waitSessions(0, 30_000);
    // The engine never sees these connections' FIN here (no packets pass it): their flows would wait for their
    // timeout. Expire them now, as the service's tick would once they end.
    this.rig.engine.tick(Date.now() + 30 * 86_400_000);
    await sleep(1_000);
    const afterClose = await this.reading(0);

    const per = (a: MemoryReading, b: MemoryReading, n: number): PerSession => ({
      rss: (b.rss - a.rss) / n,
      heapUsed: (b.heapUsed - a.heapUsed) / n,
      heapTotal: (b.heapTotal - a.heapTotal) / n,
      external: (b.external - a.external) / n,
      arrayBuffers: (b.arrayBuffers - a.arrayBuffers) / n,
    });
    const perSession = per(before, withSessions, opened);
    const perSessionEngine = per(before, flowsOnly, target);
    const perSessionHost = per(flowsOnly, withSessions, opened);
    const census = snapshotBefore && snapshotWith ? censusDelta(snapshotBefore, snapshotWith, opened) : undefined;
    const projected = opened < GOAL_SESSIONS;
    const rssAtGoal = projected ? withSessions.rss + perSession.rss * (GOAL_SESSIONS - opened) : withSessions.rss;
    return { limit, target, opened, openSeconds, failures, before, flowsOnly, withSessions, afterClose, perSession, perSessionEngine, perSessionHost, census, sessionStates, peers, rssAtGoal, projected };
  }

  // ---- latency ------------------------------------------------------------

  /**
   * A reference path: a bare Node TCP relay in this process (no engine, no
   * session, no plugin, no worker), so what the plugin host adds can be told
   * from what any userland relay adds on this machine.
   */
  async startRelay(): Promise<void> {
    const relay = createServer({ noDelay: true }, (c) => {
      const up = connect({ host: SERVER_ADDRESS, port: SERVER_PORT, noDelay: true });
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
      c.pipe(up);
      up.pipe(c);
    });
    await new Promise<void>((res) => relay.listen({ host: '127.0.0.1', port: 0 }, res));
    this.relay = relay;
    this.relayPort = (relay.address() as { port: number }).port;
  }

  stopRelay(): void {
    this.relay?.close();
  }

  async latency(): Promise<LatencyResult> {
    this.announce(TIMED_PORT);
    await this.client.request('open', { key: 'algd', host: '127.0.0.1', port: this.listener, localAddress: '127.0.0.1', localPort: TIMED_PORT });
    await this.client.request('open', { key: 'direct', host: SERVER_ADDRESS, port: SERVER_PORT, localAddress: '127.0.0.1' });
    await this.startRelay();
    await this.client.request('open', { key: 'relay', host: '127.0.0.1', port: this.relayPort, localAddress: '127.0.0.1' });
    await this.waitSessions(1, 5_000);
    const algdStarts: number[] = [];
    const rt = async (key: 'algd' | 'direct' | 'relay', count: number): Promise<number[]> => {
      const r = await this.client.request<{ samples: number[]; starts: number[] }>('roundTrips', { key, count, line: LINE });
      if (key === 'algd' && taskProbe.recording) algdStarts.push(...r.starts);
      return r.samples;
    };

    progress(`latency: ${WARMUP} warm-up round trips per path, then ${ROUND_TRIPS} per path in blocks of ${BLOCK}`);
    for (let left = WARMUP; left > 0; left -= BLOCK) {
      await rt('direct', Math.min(BLOCK, left));
      await rt('relay', Math.min(BLOCK, left));
      await rt('algd', Math.min(BLOCK, left));
    }
    const machine0 = machineCpu();
    await sleep(300);
    const background = machineBusy(machine0, machineCpu());
    const profiler = CPU_PROF ? await startProfile() : undefined;
    const gcPauses: number[] = [];
    const gcMajor: number[] = [];
    /** GC pauses as [start, end] on the monotonic clock in microseconds, like the client's round-trip starts. */
    const gcSpans: [number, number][] = [];
    const clockOffsetUs = Number(process.hrtime.bigint()) / 1e3 - performance.now() * 1e3;
    const gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        gcPauses.push(e.duration);
        gcSpans.push([e.startTime * 1e3 + clockOffsetUs, (e.startTime + e.duration) * 1e3 + clockOffsetUs]);
        if (((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0) & perfConstants.NODE_PERFORMANCE_GC_MAJOR) gcMajor.push(e.duration);
      }
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const machine1 = machineCpu();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const direct: number[] = [];
    const relay: number[] = [];
    const algd: number[] = [];
    taskProbe.samples.length = 0;
    taskProbe.there.length = 0;
    taskProbe.back.length = 0;
    for (let left = ROUND_TRIPS; left > 0; left -= BLOCK) {
      direct.push(...(await rt('direct', Math.min(BLOCK, left))));
      relay.push(...(await rt('relay', Math.min(BLOCK, left))));
      taskProbe.recording = true;
      algd.push(...(await rt('algd', Math.min(BLOCK, left))));
      taskProbe.recording = false;
    }
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const busy = machineBusy(machine1, machineCpu());
    loopDelay.disable();
    gcObserver.disconnect();
    const profile = profiler ? await profiler.stop() : undefined;
    const session = this.rig.host.registry.list()[0];
    const state = session?.state;
    await this.client.request('closeAll');
    this.stopRelay();
    await this.waitSessions(0, 5_000);

    const d = percentiles(direct);
    const r = percentiles(relay);
    const a = percentiles(algd);
    // The slowest 1% of the algd round trips: how many overlapped a GC pause of the host's main thread.
    const slow = algd.map((us, i) => [algdStarts[i] ?? 0, us] as const).filter(([, us]) => us >= a.p99);
    const slowInGc = slow.filter(([start, us]) => gcSpans.some(([g0, g1]) => g0 < start + us && g1 > start)).length;
    return {
      direct: d,
      relay: r,
      algd: a,
      relayAddedPerMessage: minus(r, d, 0.5),
      addedRoundTrip: minus(a, d),
      addedPerMessage: minus(a, d, 0.5),
      task: percentiles(taskProbe.samples),
      taskThere: taskProbe.there.length ? percentiles(taskProbe.there) : undefined,
      taskBack: taskProbe.back.length ? percentiles(taskProbe.back) : undefined,
      hostCpu: { userSeconds: cpu.user / 1e6, systemSeconds: cpu.system / 1e6, wallSeconds, microsPerAlgdRoundTrip: (cpu.user + cpu.system) / algd.length },
      mainThread: {
        gcPauses: gcPauses.length,
        gcMs: gcPauses.reduce((x, y) => x + y, 0),
        gcMaxMs: gcPauses.length ? Math.max(...gcPauses) : 0,
        gcMajor: gcMajor.length,
        slowRoundTrips: slow.length,
        slowRoundTripsInGc: slowInGc,
        gcMajorMs: gcMajor.reduce((x, y) => x + y, 0),
        loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
        loopDelayMaxMs: loopDelay.max / 1e6,
      },
      machine: { busyBefore: background, busyDuring: busy, cpus: cpus().length },
      sessionState: state,
      profile,
      envelope: session ? { session: session.info, state, task: { kind: 'message', direction: 'client-to-server', message: Buffer.from(LINE, 'latin1') } } : undefined,
    };
  }

  /** The worker hop alone: PluginPool.run on a pool of the same plugin and default settings, in this process, no sockets. */
  async workerHop(envelope: TaskEnvelope): Promise<Percentiles> {
    const pool = await PluginPool.open({ entry: join(PLUGINS_DIR, PLUGIN, 'index.js') });
    const refuse = (): Promise<never> => Promise.reject(new Error('no services in this measurement'));
    const services = { createDataChannel: refuse, removeDataChannel: refuse, renewDataChannel: refuse, reservePorts: refuse, releasePorts: refuse, bestSourceAddress: refuse };
    try {
      for (let i = 0; i < WARMUP; i++) await pool.run(envelope, services);
      const out: number[] = [];
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const t0 = process.hrtime.bigint();
        await pool.run(envelope, services);
        out.push(Number(process.hrtime.bigint() - t0) / 1e3);
      }
      return percentiles(out);
    } finally {
      await pool.close();
    }
  }
}

interface PerSession {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

interface MemoryResult {
  readonly limit: number;
  readonly target: number;
  readonly opened: number;
  readonly openSeconds: number;
  readonly failures: Record<string, number>;
  readonly before: MemoryReading;
  readonly flowsOnly: MemoryReading;
  readonly withSessions: MemoryReading;
  readonly afterClose: MemoryReading;
  /** All of it, the engine's flows only, and the rest (sockets, sessions, plugin state). */
  readonly perSession: PerSession;
  readonly perSessionEngine: PerSession;
  readonly perSessionHost: PerSession;
  readonly census: CensusRow[] | undefined;
  readonly sessionStates: number;
  readonly peers: { client: PeerStats; server: PeerStats };
  readonly rssAtGoal: number;
  readonly projected: boolean;
}

interface LatencyResult {
  readonly direct: Percentiles;
  /** The reference path: a bare Node TCP relay in the host process. */
  readonly relay: Percentiles;
  readonly algd: Percentiles;
  readonly relayAddedPerMessage: ReturnType<typeof minus>;
  readonly addedRoundTrip: ReturnType<typeof minus>;
  readonly addedPerMessage: ReturnType<typeof minus>;
  /** Each plugin task as the host's session awaits it (PluginInstance.run: the pool's queue, the worker, the outcome), during the timed algd rounds. */
  readonly task: Percentiles;
  /** Of which: from the host's call to the plugin's handler (copy, pool queue, post, wake-up), and from there to the outcome in the host. */
  readonly taskThere: Percentiles | undefined;
  readonly taskBack: Percentiles | undefined;
  readonly hostCpu: { userSeconds: number; systemSeconds: number; wallSeconds: number; microsPerAlgdRoundTrip: number };
  readonly mainThread: { gcPauses: number; gcMs: number; gcMaxMs: number; gcMajor: number; gcMajorMs: number; slowRoundTrips: number; slowRoundTripsInGc: number; loopDelayP99Ms: number; loopDelayMaxMs: number };
  /** Busy share of all CPUs of the machine (0..1) in the 300 ms before the timed rounds (other work) and during them. */
  readonly machine: { busyBefore: number; busyDuring: number; cpus: number };
  readonly sessionState: unknown;
  readonly profile: ProfileSummary | undefined;
  readonly envelope: TaskEnvelope | undefined;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Threads of this process (main, V8 and libuv helpers, the plugin pool's workers); -1 where /proc is not there. */
function threadCount(): number {
  try {
    return readdirSync('/proc/self/task').length;
  } catch {
    return -1;
  }
}

// ---------------------------------------------------------------- probes

/**
 * Times each plugin task as a session awaits it, by wrapping
 * PluginInstance.run in this process (the bench's instrumentation; the
 * host's code is unchanged). Records only while `recording` is set.
 */
const taskProbe = { recording: false, samples: [] as number[], there: [] as number[], back: [] as number[] };
{
  const run = PluginInstance.prototype.run;
  const now = (): number => Number(process.hrtime.bigint()) / 1e3;
  PluginInstance.prototype.run = function (this: PluginInstance, ...args: Parameters<PluginInstance['run']>) {
    if (!taskProbe.recording) return run.apply(this, args);
    const t0 = now();
    return run.apply(this, args).then((outcome) => {
      const t1 = now();
      taskProbe.samples.push(t1 - t0);
      // The plugin stamps its handler's start on the same monotonic clock (test/fixtures/plugin-packages/bench-echo).
      const seenAt = (outcome.state as { seenAt?: unknown } | undefined)?.seenAt;
      if (typeof seenAt === 'number' && seenAt >= t0 && seenAt <= t1) {
        taskProbe.there.push(seenAt - t0);
        taskProbe.back.push(t1 - seenAt);
      }
      return outcome;
    });
  };
}

interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

function machineCpu(): CpuTimes {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    return { busy: total - idle - iowait, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

function machineBusy(a: CpuTimes, b: CpuTimes): number {
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}

// ---------------------------------------------------------------- heap census

type Census = Map<string, { count: number; bytes: number }>;

interface CensusRow {
  readonly kind: string;
  readonly bytesPerSession: number;
  readonly countPerSession: number;
}

/** Self sizes of the V8 heap by node type and constructor (or function) name, from a heap snapshot. */
function heapCensus(): Census {
  const dir = join(OUT_DIR, 'prof');
  mkdirSync(dir, { recursive: true });
  const file = writeHeapSnapshot(join(dir, `plugin-host-${Date.now()}.heapsnapshot`));
  let snap: { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  try {
    snap = JSON.parse(readFileSync(file, 'utf8')) as typeof snap;
  } finally {
    rmSync(file, { force: true });
  }
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const census: Census = new Map();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + iType]!]!;
    const named = type === 'object' || type === 'closure' || type === 'native';
    const kind = named ? `${type} ${snap.strings[snap.nodes[i + iName]!]}` : `(${type})`;
    const c = census.get(kind) ?? { count: 0, bytes: 0 };
    c.count++;
    c.bytes += snap.nodes[i + iSize]!;
    census.set(kind, c);
  }
  return census;
}

function censusDelta(a: Census, b: Census, sessions: number): CensusRow[] {
  const rows: CensusRow[] = [];
  for (const [kind, c] of b) {
    const before = a.get(kind) ?? { count: 0, bytes: 0 };
    rows.push({ kind, bytesPerSession: (c.bytes - before.bytes) / sessions, countPerSession: (c.count - before.count) / sessions });
  }
  return rows.sort((x, y) => y.bytesPerSession - x.bytesPerSession).slice(0, 30);
}

// ---------------------------------------------------------------- CPU profile

interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  readonly top: { readonly fn: string; readonly selfMs: number; readonly share: number }[];
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

async function startProfile(): Promise<{ stop: () => Promise<ProfileSummary> }> {
  const s = new InspectorSession();
  s.connect();
  const post = (method: string, params?: object): Promise<unknown> => new Promise((res, rej) => s.post(method, params, (err, r) => (err ? rej(err) : res(r))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  await post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = (await post('Profiler.stop')) as { profile: CpuProfile };
      s.disconnect();
      const dir = join(OUT_DIR, 'prof');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `plugin-host-main-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      return summarizeProfile(profile, file);
    },
  };
}

function summarizeProfile(p: CpuProfile, file: string): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!)!;
    const f = n.callFrame;
    const where = f.url ? `${f.url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const totalUs = p.endTime - p.startTime;
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([fn, us]) => ({ fn, selfMs: us / 1000, share: us / totalUs }));
  return { file, totalMs: totalUs / 1000, top };
}

// ---------------------------------------------------------------- output

const us = (x: number): string => x.toFixed(1).padStart(9);
const mb = (x: number): string => (x / MB).toFixed(1).padStart(9);
const kb = (x: number): string => (x / 1024).toFixed(2).padStart(9);

function latencyTable(l: LatencyResult, hop: Percentiles | undefined, threads: string): string {
  const row = (name: string, p: { p50: number; p90: number; p99: number; max: number }): string => `${name.padEnd(44)}${us(p.p50)}${us(p.p90)}${us(p.p99)}${us(p.max)}`;
  return [
    `LATENCY: one ${LINE.length}-byte line, echoed by the server; ${l.algd.n} sequential round trips per path after ${WARMUP} warm-up, interleaved in blocks of ${BLOCK}`,
    `plugin ${PLUGIN} (lines both ways, forwarded unchanged), default settings (${threads}); microseconds`,
    `${''.padEnd(44)}${'p50'.padStart(9)}${'p90'.padStart(9)}${'p99'.padStart(9)}${'max'.padStart(9)}`,
    row('round trip, direct (client -> server)', l.direct),
    row('round trip, bare Node relay in this process', l.relay),
    row('round trip, through algd', l.algd),
    row('added per round trip (algd - direct)', l.addedRoundTrip),
    row('added per message (half of the above)', l.addedPerMessage),
    row('  inside the host: the plugin task per message', l.task),
    ...(l.taskThere && l.taskBack ? [row('    of which host -> plugin handler', l.taskThere), row('    of which plugin handler -> outcome in host', l.taskBack)] : []),
    row('added per message by the bare relay (half)', l.relayAddedPerMessage),
    ...(hop ? [row('worker hop alone (PluginPool.run, no sockets)', hop)] : []),
    'A round trip through algd crosses the worker twice (client -> server message, server -> client message),',
    'so the added latency of one message is half the round-trip difference. Differences are differences of',
    'percentiles (p99 of algd minus p99 of direct), not percentiles of differences.',
    'The bare relay (net.Socket pipes, no engine, session, plugin or worker) shows what any userland hop costs here.',
    'The plugin task is timed inside the host around PluginInstance.run (pool queue, worker, outcome) during the',
    'timed algd rounds; the worker hop alone is a separate pool of the same plugin driven without sockets.',
    `host process CPU while timing: ${(l.hostCpu.microsPerAlgdRoundTrip).toFixed(1)} us per algd round trip, all threads (user ${l.hostCpu.userSeconds.toFixed(2)} s, system ${l.hostCpu.systemSeconds.toFixed(2)} s over ${l.hostCpu.wallSeconds.toFixed(2)} s)`,
    `host main thread while timing: ${l.mainThread.gcPauses} GC pauses, ${l.mainThread.gcMs.toFixed(1)} ms in all, longest ${l.mainThread.gcMaxMs.toFixed(2)} ms (${l.mainThread.gcMajor} major: ${l.mainThread.gcMajorMs.toFixed(1)} ms); event-loop delay p99 ${l.mainThread.loopDelayP99Ms.toFixed(2)} ms, max ${l.mainThread.loopDelayMaxMs.toFixed(2)} ms; ${l.mainThread.slowRoundTripsInGc} of the ${l.mainThread.slowRoundTrips} algd round trips at or above p99 overlapped one of these GC pauses`,
    `machine (${l.machine.cpus} CPUs, every process): ${(l.machine.busyBefore * 100).toFixed(0)}% busy just before the timed rounds, ${(l.machine.busyDuring * 100).toFixed(0)}% during them${l.machine.busyBefore > 0.15 ? '  WARNING: other work was running; the figures are disturbed' : ''}`,
  ].join('\n');
}

function memoryTable(m: MemoryResult): string {
  const row = (name: string, r: MemoryReading): string =>
    `${name.padEnd(30)}${String(r.sessions).padStart(8)}${mb(r.rss)}${mb(r.heapUsed)}${mb(r.heapTotal)}${mb(r.external)}${String(r.openFiles).padStart(8)}${String(r.engineFlows).padStart(8)}${String(r.threads).padStart(9)}`;
  const p = m.perSession;
  return [
    `MEMORY: idle control sessions in the host process (the peers run in child processes); global.gc() before each reading`,
    `${''.padEnd(30)}${'sessions'.padStart(8)}${'RSS MB'.padStart(9)}${'heap MB'.padStart(9)}${'heapTot'.padStart(9)}${'ext MB'.padStart(9)}${'fds'.padStart(8)}${'flows'.padStart(8)}${'threads'.padStart(9)}`,
    row('before (after a warm-up)', m.before),
    row("+ the clients' SYNs (engine flows)", m.flowsOnly),
    row('with the idle sessions', m.withSessions),
    row('after closing them, flows expired', m.afterClose),
    `per session (delta / ${m.opened}): RSS ${kb(p.rss).trim()} KB, V8 heap used ${kb(p.heapUsed).trim()} KB (heap total ${kb(p.heapTotal).trim()} KB), external ${kb(p.external).trim()} KB`,
    `  of which the engine's flow: RSS ${kb(m.perSessionEngine.rss).trim()} KB, heap used ${kb(m.perSessionEngine.heapUsed).trim()} KB; sockets, session and plugin state: RSS ${kb(m.perSessionHost.rss).trim()} KB, heap used ${kb(m.perSessionHost.heapUsed).trim()} KB (heap total ${kb(m.perSessionHost.heapTotal).trim()} KB)`,
    `V8 spaces of the main thread, physical MB, before -> with the sessions: ${Object.keys(m.withSessions.spaces).filter((k) => m.withSessions.spaces[k]! + (m.before.spaces[k] ?? 0) > MB / 2).map((k) => `${k.replace(/_space$/, '')} ${((m.before.spaces[k] ?? 0) / MB).toFixed(1)} -> ${(m.withSessions.spaces[k]! / MB).toFixed(1)}`).join(', ')}`,
    ...(m.census ? ['(heap snapshots were taken: the RSS figures above include their parsing and are not the product\'s)', `V8 heap by constructor, delta per session (heap snapshots; top ${m.census.length}):`, ...m.census.map((c) => `${c.bytesPerSession.toFixed(0).padStart(8)} B ${c.countPerSession.toFixed(2).padStart(7)} x  ${c.kind}`)] : []),
    `sessions with plugin state: ${m.sessionStates} of ${m.opened}; opened in ${m.openSeconds.toFixed(1)} s${Object.keys(m.failures).length ? `; connections retried: ${JSON.stringify(m.failures)}` : ''}`,
    `peers (not measured): client process RSS ${mb(m.peers.client.rss).trim()} MB with ${m.peers.client.sockets} sockets, server process RSS ${mb(m.peers.server.rss).trim()} MB with ${m.peers.server.sockets} sockets`,
    m.projected
      ? `RSS with ${GOAL_SESSIONS} sessions: ${mb(m.rssAtGoal).trim()} MB PROJECTED (${m.opened} measured; ${m.target < TARGET_SESSIONS ? `the open-files limit ${m.limit} allows no more, at 2 descriptors per session` : `BENCH_SESSIONS=${TARGET_SESSIONS}`})`
      : `RSS with ${m.opened} sessions: ${mb(m.rssAtGoal).trim()} MB (measured)`,
  ].join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    process.stderr.write('bench:plugins needs node --expose-gc\n');
    return 2;
  }
  const peers: Peer[] = [];
  let bench: Bench | undefined;
  const watchdog = setTimeout(() => {
    progress(`the bench exceeded its ${BUDGET_MS / 1000} s budget: exiting`);
    for (const p of peers) p.kill();
    process.exit(3);
  }, BUDGET_MS);
  const onSignal = (sig: NodeJS.Signals): void => {
    progress(`${sig}: stopping`);
    for (const p of peers) p.kill();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const [client, server] = await Promise.all([Peer.start('client'), Peer.start('server')]);
    peers.push(client, server);
    bench = new Bench(client, server);
    await bench.start();
    const threads = 'maxThreads min(4, CPUs) = ' + Math.min(4, cpus().length);
    progress(`host up (pid ${process.pid}), listener 127.0.0.1:${bench.listener}, peers: client pid ${client.pid}, server pid ${server.pid}; ${cpus().length} CPUs; open-files limit ${openFilesLimit()}`);

    const memory = await bench.memory();
    const latency = await bench.latency();
    const hop = latency.envelope ? await bench.workerHop(latency.envelope) : undefined;

    const p99PerMessageMs = latency.addedPerMessage.p99 / 1000;
    const goals = [
      { goal: `p99 added latency per message < ${GOAL_P99_MS} ms`, figure: `${p99PerMessageMs.toFixed(3)} ms`, pass: p99PerMessageMs < GOAL_P99_MS, note: '' },
      {
        goal: `${GOAL_SESSIONS.toLocaleString('en')} idle sessions < ${GOAL_RSS_MB} MB RSS (host process)`,
        figure: `${(memory.rssAtGoal / MB).toFixed(1)} MB`,
        pass: memory.rssAtGoal < GOAL_RSS_MB * MB,
        note: memory.projected ? `projected from ${memory.opened} measured sessions` : '',
      },
    ];

    const report = {
      bench: 'plugin-host',
      date: new Date().toISOString(),
      host: { kernel: release(), cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, openFilesLimit: memory.limit },
      params: { plugin: PLUGIN, settings: 'default plugin settings', threads, line: LINE, roundTrips: ROUND_TRIPS, warmup: WARMUP, block: BLOCK, sessionsWanted: TARGET_SESSIONS, openConcurrency: OPEN_CONCURRENCY },
      units: { latency: 'microseconds', memory: 'bytes' },
      latency: { ...latency, envelope: undefined, note: 'a round trip crosses the worker twice; addedPerMessage = (algd - direct) / 2, as differences of percentiles' },
      workerHop: hop,
      memory,
      plugin: bench.rig.host.status().plugins.find((p) => p.name === PLUGIN),
      hostProblems: bench.problems(),
      goals,
    };
    mkdirSync(OUT_DIR, { recursive: true });
    const outFile = join(OUT_DIR, 'plugin-host.json');
    writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);

    const out: string[] = ['', latencyTable(latency, hop, threads), '', memoryTable(memory), ''];
    if (latency.profile) {
      out.push(`CPU profile of the host's main thread during the timed rounds (${latency.profile.totalMs.toFixed(0)} ms; ${latency.profile.file}), heaviest functions by self time:`);
      for (const t of latency.profile.top) out.push(`${(t.share * 100).toFixed(1).padStart(6)}%  ${t.selfMs.toFixed(1).padStart(8)} ms  ${t.fn}`);
      out.push('');
    }
    const st = bench.rig.host.status().plugins.find((p) => p.name === PLUGIN);
    const failed = Object.entries(st?.failures ?? {}).filter(([, n]) => n > 0);
    const problems = bench.problems();
    out.push(`plugin ${PLUGIN} over the whole run: ${st?.tasks ?? 0} tasks, failures ${failed.length ? failed.map(([k, n]) => `${k} ${n}`).join(', ') : 'none'}, worker restarts ${st?.workerRestarts ?? 0}; the host logged ${problems.length} warnings or errors${problems.length ? `, e.g. ${problems.slice(0, 3).join(' | ')}` : ''}`, '');
    out.push('GOALS');
    for (const g of goals) out.push(`${g.goal.padEnd(56)}${g.figure.padStart(12)}   ${g.pass ? 'PASS' : 'MISS'}${g.note ? ` (${g.note})` : ''}`);
    out.push('', `figures in ${outFile}`, '');
    process.stdout.write(out.join('\n'));
    return 0;
  } finally {
    clearTimeout(watchdog);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await bench?.rig.stop().catch((err: unknown) => progress(`stopping the host: ${String(err)}`));
    for (const p of peers) p.kill();
  }
}

runBench(main, 2);
