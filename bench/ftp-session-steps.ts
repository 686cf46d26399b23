/**
 * Benchmark (not a test): where the time of one FTP control session goes,
 * through the kernel's ALG (nf_nat_ftp) and through algd, step by step.
 *
 * `node dist/bench/bench/ftp-session-steps.js` (root; build and
 * `tsc -p bench/tsconfig.json` first). The lab, vsftpd and the two setups
 * of `npm run bench` (alg-vs-kernel.ts), taking turns for STEPS_ROUNDS (3)
 * rounds; each turn runs STEPS_SESSIONS (150) sessions one after the other
 * with Python's ftplib, each step timed on the client: connect to the
 * banner, USER, PASS, TYPE A, PORT, LIST to its 150 (the server connects
 * back through the gateway first), the listing to the 226, QUIT to the
 * 221; then STEPS_NOOPS (2000) NOOP round trips on one session; then
 * STEPS_CONC_SESSIONS (1000) sessions by 50 concurrent clients, with algd's
 * CPU time per session (its main thread, its other threads, from
 * /proc/<pid>/task). Prints the
 * median of each step per setup and algd's extra, and the NOOP round-trip
 * percentiles. STEPS_CPU_PROF=1 runs algd under `node --cpu-prof`
 * (profiles in bench/out/prof/); STEPS_PCAP=1 captures the gateway's two
 * interfaces during the sequential sessions and prints how long each kind
 * of packet took through the gateway (see gatewayTransit); STEPS_ALGD_CONFIG
 * (JSON) is merged over algd's configuration. A 10-minute watchdog bounds it.
 */

import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { SERVER_V4 } from '../host/lab/addresses';
import { installKernelAlg, removeKernelAlg } from '../host/lab/kernel-alg';
import type { Lab } from '../host/lab/lab';
import type { LabProcess } from '../host/lab/lab-process';
import { decodeIpPacket, TCP_FLAGS } from '../host/lab/ip-packet';
import { ipPackets, readPcap, type Pcap } from '../host/lab/pcap';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from '../host/lab/topology';
import { startVsftpd } from '../host/lab/vsftpd';
import { algdEntryPoint } from '../host/service/package-info';
import { envInt, runBench, withBenchLab } from './bench-lab';

const ROOT = resolve(__dirname, '../../..');
const OUT_DIR = join(ROOT, 'bench/out');
const ROUNDS = envInt('STEPS_ROUNDS', 3, { max: 9 });
const SESSIONS = envInt('STEPS_SESSIONS', 150, { max: 5000 });
const CONC_SESSIONS = envInt('STEPS_CONC_SESSIONS', 1000, { min: 0, max: 20_000 });
const CONC_CLIENTS = 50;
const NOOPS = envInt('STEPS_NOOPS', 2000, { min: 0, max: 100_000 });
const CPU_PROF = process.env['STEPS_CPU_PROF'] === '1';
/** STEPS_ALGD_CONFIG: JSON merged over algd's configuration (experiments: another plugin, a log level). */
const EXTRA_CONFIG = JSON.parse(process.env['STEPS_ALGD_CONFIG'] ?? '{}') as Record<string, unknown>;
/** STEPS_PCAP=1: the gateway's two interfaces are captured during the sequential sessions, for the time each packet spends crossing the gateway. */
const PCAP = process.env['STEPS_PCAP'] === '1';
const BUDGET_MS = 10 * 60_000;
const PYTHON = '/usr/bin/python3';

const STEPS = ['connect', 'user', 'pass', 'type', 'port', 'list150', 'data226', 'quit', 'total'] as const;

const CLIENT = `
import ftplib, json, sys, time
host, count, noops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
T = time.perf_counter_ns
steps = []
for _ in range(count):
    s = {}
    t0 = t = T()
    f = ftplib.FTP()
    f.connect(host, 21, timeout=10)
    n = T(); s['connect'] = n - t; t = n
    f.sendcmd('USER anonymous')
    n = T(); s['user'] = n - t; t = n
    f.sendcmd('PASS anonymous@')
    n = T(); s['pass'] = n - t; t = n
    f.voidcmd('TYPE A')
    n = T(); s['type'] = n - t; t = n
    f.set_pasv(False)
    sock = f.makeport()
    n = T(); s['port'] = n - t; t = n
    f.sendcmd('LIST')
    n = T(); s['list150'] = n - t; t = n
    conn, _ = sock.accept()
    sock.close()
    while conn.recv(65536):
        pass
    conn.close()
    f.voidresp()
    n = T(); s['data226'] = n - t; t = n
    f.quit()
    f.close()
    n = T(); s['quit'] = n - t; s['total'] = n - t0
    steps.append(s)
samples = []
if noops > 0:
    f = ftplib.FTP(); f.connect(host, 21, timeout=10); f.login()
    for _ in range(200): f.voidcmd('NOOP')
    for _ in range(noops):
        t = T(); f.voidcmd('NOOP'); samples.append(T() - t)
    f.quit()
print(json.dumps({'steps': steps, 'noops': samples}), flush=True)
`;

/** COUNT sessions (login, PORT + LIST, QUIT) by CONC threads; prints sessions done, failed and the seconds. */
const CONC_CLIENT = `
import ftplib, json, sys, threading, time
host, count, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lock = threading.Lock()
st = {'next': 0, 'ok': 0, 'failed': 0}
def take():
    with lock:
        if st['next'] >= count: return False
        st['next'] += 1
        return True
def worker():
    while take():
        try:
            f = ftplib.FTP(); f.connect(host, 21, timeout=10); f.login(); f.set_pasv(False)
            f.retrlines('LIST', lambda l: None); f.quit()
            with lock: st['ok'] += 1
        except Exception:
            with lock: st['failed'] += 1
t0 = time.monotonic()
ts = [threading.Thread(target=worker) for _ in range(conc)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps({'ok': st['ok'], 'failed': st['failed'], 'seconds': time.monotonic() - t0}), flush=True)
`;

type Setup = 'kernel' | 'algd';
interface TurnResult {
  readonly steps: Record<string, number>[];
  readonly noops: number[];
  readonly concurrent?: { ok: number; failed: number; seconds: number };
  /** algd's CPU during the concurrent sessions, ms per session: its main thread and all its other threads. */
  readonly cpu?: { main: number; others: number };
  /** STEPS_PCAP: microseconds each kind of packet took through the gateway (one sample per packet). */
  readonly transit?: Record<string, number[]>;
}

/**
 * How long packets of the sequential sessions took through the gateway,
 * from the captures of its private and public interfaces (microseconds):
 * each FTP command from its arrival on the private side to its departure
 * on the public side, each reply the other way, matched in order; the SYN
 * of each control connection (private in to public out: for algd the
 * client's handshake with the listener and the upstream connect) and of
 * each active data connection (public in to private out).
 */
function gatewayTransit(privateSide: Pcap, publicSide: Pcap): Record<string, number[]> {
  interface Seen { readonly ts: number; readonly text?: string; readonly syn: boolean; readonly toPort21: boolean; readonly fromPort21: boolean }
  const seen = (pcap: Pcap): Seen[] => ipPackets(pcap).flatMap(({ ts, packet }) => {
    const d = decodeIpPacket(packet);
    if (d.transport.kind !== 'tcp') return [];
    const t = d.transport;
    const syn = (t.flags & TCP_FLAGS.SYN) !== 0 && (t.flags & TCP_FLAGS.ACK) === 0;
    const text = t.payload.length > 0 && (t.srcPort === 21 || t.dstPort === 21) ? t.payload.toString('latin1').split(/[ \r\n]/)[0] : undefined;
    return [{ ts, text, syn, toPort21: t.dstPort === 21, fromPort21: t.srcPort === 21 }];
  });
  const priv = seen(privateSide);
  const pub = seen(publicSide);
  const out: Record<string, number[]> = {};
  const pair = (label: (x: Seen) => string, from: Seen[], to: Seen[]): void => {
    for (let i = 0; i < Math.min(from.length, to.length); i++) {
      const key = label(from[i]!);
      if (key !== label(to[i]!)) break;
      (out[key] ??= []).push((to[i]!.ts - from[i]!.ts) * 1e6);
    }
  };
  pair((x) => `command ${x.text}`, priv.filter((x) => x.text !== undefined && x.toPort21), pub.filter((x) => x.text !== undefined && x.toPort21));
  pair((x) => `reply ${x.text}`, pub.filter((x) => x.text !== undefined && x.fromPort21), priv.filter((x) => x.text !== undefined && x.fromPort21));
  pair(() => 'SYN, control connection', priv.filter((x) => x.syn && x.toPort21), pub.filter((x) => x.syn && x.toPort21));
  pair(() => 'SYN, data connection', pub.filter((x) => x.syn && !x.toPort21), priv.filter((x) => x.syn && !x.toPort21));
  return out;
}

/** utime + stime of each thread of `pid`, in clock ticks, by thread id. */
function threadTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(f[11]) + Number(f[12]));
    } catch {
      // the thread ended
    }
  }
  return out;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function progress(line: string): void {
  process.stderr.write(`[steps] ${line}\n`);
}

async function turn(lab: Lab, setup: Setup, client: string, concClient: string, configFile: string): Promise<TurnResult> {
  await lab.execOk('gateway', ['conntrack', '-F']).catch(() => undefined);
  let algd: LabProcess | undefined;
  if (setup === 'kernel') await installKernelAlg(lab, 'ftp');
  else {
    const profile = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(OUT_DIR, 'prof')}`] : [];
    algd = lab.spawn('gateway', [process.execPath, ...profile, algdEntryPoint(), 'start', '--config', configFile]);
    await algd.waitForOutput(/running/, 20_000);
  }
  const captures = PCAP ? await Promise.all([GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE].map((i) => lab.capture('gateway', i, 'tcp', { snapLen: 200 }))) : [];
  try {
    const r = await lab.exec('client', [PYTHON, '-u', client, SERVER_V4, String(SESSIONS), String(NOOPS)], { timeoutMs: 240_000 });
    const transit = captures.length === 2 ? gatewayTransit(readPcap(await captures[0]!.stop()), readPcap(await captures[1]!.stop())) : undefined;
    if (r.code !== 0) throw new Error(`${setup}: the client exited ${r.code}: ${r.stderr.trim().slice(-800)}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    const result = { ...(JSON.parse(line!) as TurnResult), ...(transit ? { transit } : {}) };
    if (CONC_SESSIONS === 0) return result;
    const pid = algd?.child.pid;
    const before = pid === undefined ? undefined : threadTicks(pid);
    const c = await lab.exec('client', [PYTHON, '-u', concClient, SERVER_V4, String(CONC_SESSIONS), String(CONC_CLIENTS)], { timeoutMs: 240_000 });
    if (c.code !== 0) throw new Error(`${setup}: the concurrent client exited ${c.code}: ${c.stderr.trim().slice(-800)}`);
    const concurrent = JSON.parse(c.stdout.split('\n').find((l) => l.startsWith('{'))!) as TurnResult['concurrent'] & object;
    if (pid === undefined || before === undefined) return { ...result, concurrent };
    const after = threadTicks(pid);
    const tick = 1000 / 100;
    let main = 0;
    let others = 0;
    for (const [tid, t] of after) {
      const d = (t - (before.get(tid) ?? 0)) * tick;
      if (tid === pid) main += d;
      else others += d;
    }
    return { ...result, concurrent, cpu: { main: main / concurrent.ok, others: others / concurrent.ok } };
  } finally {
    if (setup === 'kernel') await removeKernelAlg(lab, 'ftp');
    else if (algd?.running) await algd.kill('SIGTERM', 20_000);
  }
}

async function main(): Promise<number> {
  const results: Record<Setup, TurnResult[]> = { kernel: [], algd: [] };
  await withBenchLab({ ipv6: false, name: 'ftpsteps' }, BUDGET_MS, progress, async (lab) => {
    const base = join(lab.workDir, 'ftp');
    const root = join(base, 'root');
    mkdirSync(join(root, 'pub'), { recursive: true });
    writeFileSync(join(root, 'pub', 'a.txt'), 'a\n');
    chmodSync(root, 0o555);
    await startVsftpd(lab, { base, root });
    const client = join(lab.workDir, 'ftp_steps.py');
    writeFileSync(client, CLIENT);
    const concClient = join(lab.workDir, 'ftp_conc.py');
    writeFileSync(concClient, CONC_CLIENT);
    const configFile = join(lab.workDir, 'algd-steps.json');
    writeFileSync(configFile, JSON.stringify({
      driver: 'nfqueue',
      adapters: [{ name: GATEWAY_PRIVATE_IFACE, type: 'private' }, { name: GATEWAY_PUBLIC_IFACE, type: 'boundary' }],
      plugins: { ftp: { enabled: true }, sip: { enabled: false }, rtsp: { enabled: false } },
      adminSocket: join(lab.workDir, 'algd-steps.sock'),
      ...EXTRA_CONFIG,
    }));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const setup of ['kernel', 'algd'] as const) {
        const r = await turn(lab, setup, client, concClient, configFile);
        results[setup].push(r);
        const totals = r.steps.map((s) => s['total']! / 1e6);
        const conc = r.concurrent === undefined ? '' : `; ${r.concurrent.ok} concurrent sessions (${r.concurrent.failed} failed) at ${(r.concurrent.ok / r.concurrent.seconds).toFixed(1)}/s`;
        const cpu = r.cpu === undefined ? '' : `, algd CPU per session: main thread ${r.cpu.main.toFixed(2)} ms, other threads ${r.cpu.others.toFixed(2)} ms`;
        const late = totals.slice(Math.floor(totals.length * 0.8));
        progress(`${setup} ${round}: ${r.steps.length} sessions, median ${median(totals).toFixed(2)} ms (${(1000 / median(totals)).toFixed(1)}/s; last fifth ${median(late).toFixed(2)} ms), NOOP p50/p99 ${(percentile(r.noops, 50) / 1e3).toFixed(0)}/${(percentile(r.noops, 99) / 1e3).toFixed(0)} µs${conc}${cpu}`);
      }
    }
  });
  const ms = (setup: Setup, step: string): number => median(results[setup].flatMap((r) => r.steps.map((s) => s[step]! / 1e6)));
  const lines = ['step        kernel ms  algd ms  algd extra ms'];
  for (const step of STEPS) {
    const k = ms('kernel', step);
    const a = ms('algd', step);
    lines.push(`${step.padEnd(10)}  ${k.toFixed(3).padStart(9)}  ${a.toFixed(3).padStart(7)}  ${(a - k).toFixed(3).padStart(13)}`);
  }
  const noop = (s: Setup, p: number): number => percentile(results[s].flatMap((r) => r.noops), p) / 1e3;
  lines.push('');
  lines.push(`sessions/s (1 / median total): kernel ${(1000 / ms('kernel', 'total')).toFixed(1)}, algd ${(1000 / ms('algd', 'total')).toFixed(1)}, ratio ${(ms('kernel', 'total') / ms('algd', 'total')).toFixed(2)}`);
  const concRate = (s: Setup): number => median(results[s].flatMap((r) => (r.concurrent ? [r.concurrent.ok / r.concurrent.seconds] : [])));
  if (CONC_SESSIONS > 0) {
    lines.push(`sessions/s by ${CONC_CLIENTS} clients (median of turns): kernel ${concRate('kernel').toFixed(1)}, algd ${concRate('algd').toFixed(1)}, ratio ${(concRate('algd') / concRate('kernel')).toFixed(2)}`);
    const cpu = results.algd.flatMap((r) => (r.cpu ? [r.cpu] : []));
    lines.push(`algd CPU per concurrent session (median of turns): main thread ${median(cpu.map((c) => c.main)).toFixed(2)} ms, other threads ${median(cpu.map((c) => c.others)).toFixed(2)} ms`);
  }
  if (NOOPS > 0) {
    lines.push(`NOOP round trip p50 / p99 µs: kernel ${noop('kernel', 50).toFixed(0)} / ${noop('kernel', 99).toFixed(0)}, algd ${noop('algd', 50).toFixed(0)} / ${noop('algd', 99).toFixed(0)}`);
    lines.push(`added per message p50 / p99 ms: ${((noop('algd', 50) - noop('kernel', 50)) / 2000).toFixed(3)} / ${((noop('algd', 99) - noop('kernel', 99)) / 2000).toFixed(3)}`);
  }
  if (PCAP) {
    const kinds = [...new Set(results.algd.flatMap((r) => Object.keys(r.transit ?? {})))];
    lines.push('', 'through the gateway, median µs (per packet)   kernel     algd');
    for (const k of kinds) {
      const m = (s: Setup): string => {
        const xs = results[s].flatMap((r) => r.transit?.[k] ?? []);
        return xs.length === 0 ? '-' : median(xs).toFixed(0);
      };
      lines.push(`${k.padEnd(44)} ${m('kernel').padStart(7)}  ${m('algd').padStart(7)}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

runBench(main);
