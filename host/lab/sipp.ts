/**
 * sipp (Debian sip-tester) as the SIP user agents of the lab: runs a
 * scenario of sipp-scenarios.ts in a lab host, bounded in calls and time,
 * and reads back what sipp itself counted (messages per scenario step,
 * successful and failed calls, the peak of simultaneous calls) and what the
 * scenario logged (`seen NAME=ADDRESS:PORT`). Media arrivals are counted
 * by the receiving host's kernel (nftables counters on the media ports),
 * not by sipp, so "RTP arrived" means packets reached the phone's or the
 * server's address and port.
 *
 * Used by the SIP end-to-end tests and meant for `algd lab` as well.
 */

import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { endpoint, formatEndpoint, port, type Endpoint, type IpAddress, type Port } from '@algd/sdk';

import { CLIENT_V4, GATEWAY_PUBLIC_V4, SERVER_V4 } from './addresses';
import type { Lab, LabHost } from './lab';
import type { LabProcess, ProcessExit } from './lab-process';
import { readPcap } from './pcap';
import { calleeScenario, callerScenario, registeringPhoneScenario, registrarScenario } from './sipp-scenarios';

/** Where Debian's sip-tester puts the RTP pcaps sipp can play. */
export const SIPP_PCAP_DIR = '/usr/share/sip-tester';
/** About 7 s of G.711 A-law speech (236 RTP packets). */
export const SIPP_SPEECH_PCAP = join(SIPP_PCAP_DIR, 'g711a.pcap');
/** One RFC 2833 DTMF digit (10 RTP packets, 0.14 s): media for many short calls. */
export const SIPP_DTMF_PCAP = join(SIPP_PCAP_DIR, 'dtmf_2833_1.pcap');

/** RTP packets in a pcap sipp plays: what must arrive at the other side. */
export function rtpPacketsIn(pcap: string): number {
  return readPcap(pcap).packets.length;
}

export interface SippOptions {
  /** Names the run's folder in the lab's work dir (scenario, logs); unique per lab. */
  readonly name: string;
  /** The scenario XML (sipp-scenarios.ts). */
  readonly scenario: string;
  readonly transport: 'udp' | 'tcp';
  /**
   * A new socket for each call (sipp `-t un`): each call then leaves from
   * a port of its own, as if made by a separate phone. UDP only.
   */
  readonly socketPerCall?: boolean;
  /** The address sipp binds and writes in Via/Contact/SDP. */
  readonly address: IpAddress;
  /** The SIP port it listens on and sends from (-p). */
  readonly sipPort: Port;
  /** The media port of call 1; call n uses this + 4(n-1) (`[auto_media_port]`). */
  readonly mediaPort: Port;
  /** Whom a scenario that starts by sending talks to; absent for one that waits for a request. */
  readonly remote?: Endpoint;
  /** Calls to make or take; sipp exits after them (-m). */
  readonly calls: number;
  /** Calls at a time (-l); default 1. */
  readonly concurrency?: number;
  /** New calls per second (-r); default 10. */
  readonly rate?: number;
  /** sipp gives up after this long (-timeout, counted as a failure: -timeout_error). */
  readonly timeoutS: number;
}

/** One step of the scenario screen: a message sent or received and sipp's counts for it. */
export interface SippStep {
  /** The method or status code (`INVITE`, `200`). */
  readonly message: string;
  readonly direction: 'sent' | 'received';
  readonly count: number;
  readonly retransmissions: number;
  readonly timeouts: number;
  /** Unexpected messages received while waiting at this step. */
  readonly unexpected: number;
}

export interface SippResult {
  readonly exit: ProcessExit;
  /** The scenario's send and receive steps, in order, with sipp's counts. */
  readonly steps: readonly SippStep[];
  readonly successfulCalls: number;
  readonly failedCalls: number;
  /** The most calls sipp had open at once. */
  readonly peakCalls: number;
  /** What the scenario logged as `seen NAME=ADDRESS:PORT`, by name, in order. */
  readonly seen: Readonly<Record<string, readonly string[]>>;
  /** sipp's error log (unexpected messages, failed sends), for messages. */
  readonly errors: string;
  /** The scenario's stdout (final screens), for messages. */
  readonly output: string;
}

/** A started sipp. */
export interface SippRun {
  readonly process: LabProcess;
  /** Resolves when sipp has exited (it always does, within its -timeout; killed 10 s later). */
  finished(): Promise<SippResult>;
}

/** Grace beyond sipp's own -timeout before the run is killed. */
const EXIT_GRACE_MS = 10_000;

/** The command line for `opts` with its files in `dir`. */
export function sippArgv(opts: SippOptions, dir: string): string[] {
  if (opts.socketPerCall === true && opts.transport !== 'udp') throw new Error('sipp: a socket per call is for UDP only here');
  const transport = opts.transport === 'udp' ? (opts.socketPerCall === true ? 'un' : 'u1') : 't1';
  return [
    'sipp',
    ...(opts.remote !== undefined ? [formatEndpoint(opts.remote)] : []),
    '-sf', join(dir, 'scenario.xml'),
    '-t', transport,
    '-i', opts.address,
    '-p', String(opts.sipPort),
    '-mi', opts.address,
    '-mp', String(opts.mediaPort),
    '-m', String(opts.calls),
    '-l', String(opts.concurrency ?? 1),
    '-r', String(opts.rate ?? 10),
    '-timeout', `${opts.timeoutS}s`,
    '-timeout_error',
    // -t un opens a socket per call; sipp's default (50000) exceeds the open-file limit and makes it refuse to start.
    '-max_socket', '1000',
    '-nostdin',
    '-trace_err', '-error_file', join(dir, 'errors.log'),
    '-trace_msg', '-message_file', join(dir, 'messages.log'),
    '-trace_logs', '-log_file', join(dir, 'logs.log'),
  ];
}

/**
 * Writes the scenario and starts sipp in `host`. A scenario that waits for
 * requests resolves once sipp listens on its SIP port; one that sends
 * resolves at once.
 */
export async function startSipp(lab: Lab, host: LabHost, opts: SippOptions): Promise<SippRun> {
  const dir = join(lab.workDir, `sipp-${opts.name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'scenario.xml'), opts.scenario);
  const proc = lab.spawn(host, sippArgv(opts, dir), { cwd: dir });
  if (opts.remote === undefined) await proc.waitForPort(opts.transport, opts.sipPort, 10_000);
  const read = (file: string): string => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'latin1') : '');
  let result: Promise<SippResult> | undefined;
  return {
    process: proc,
    finished: () => {
      result ??= (async () => {
        const exit = await proc.waitForExit(opts.timeoutS * 1000 + EXIT_GRACE_MS).catch(async () => proc.kill('SIGKILL'));
        // Kept with the logs for diagnosis (ALGD_LAB_KEEP=1 keeps the work dir).
        writeFileSync(join(dir, 'screen.txt'), `${proc.stdout}\n--- stderr ---\n${proc.stderr}`);
        return { exit, ...parseSippScreens(proc.stdout), seen: parseSeen(read('logs.log')), errors: read('errors.log'), output: proc.stdout };
      })();
      return result;
    },
  };
}

/** Runs the agent that waits (on the far side) and the one that starts, and resolves with both results. */
export async function runSippPair(lab: Lab, waiting: { host: LabHost; opts: SippOptions }, starting: { host: LabHost; opts: SippOptions }): Promise<{ waiting: SippResult; starting: SippResult }> {
  const w = await startSipp(lab, waiting.host, waiting.opts);
  try {
    const s = await startSipp(lab, starting.host, starting.opts);
    const [sr, wr] = await Promise.all([s.finished(), w.finished()]);
    return { waiting: wr, starting: sr };
  } finally {
    await w.process.kill();
  }
}

/**
 * A step line of the scenario screen. sipp draws the agent that starts
 * the scenario on the left (`INVITE ---------->`: sent) and one that waits
 * for a request on the right (`----------> INVITE`: received). Counts
 * follow: messages, retransmissions, timeouts, unexpected (not every
 * column on every line); an `E-RTD1` mark may precede them.
 */
const STEP_LEFT = /^\s*(\S+) (---------->|<----------)\s+(?:[A-Z]-RTD\d+\s+)?(\d+)\s+(\d+)(?:\s+(\d+))?(?:\s+(\d+))?\s*$/;
const STEP_RIGHT = /^\s*(---------->|<----------) (\S+)\s+(?:[A-Z]-RTD\d+\s+)?(\d+)\s+(\d+)(?:\s+(\d+))?(?:\s+(\d+))?\s*$/;

function parseStep(line: string): SippStep | undefined {
  const left = STEP_LEFT.exec(line);
  const right = left ? undefined : STEP_RIGHT.exec(line);
  const m = left ?? right;
  if (!m) return undefined;
  const arrow = left ? m[2]! : m[1]!;
  const toTheRight = arrow === '---------->';
  return {
    message: left ? m[1]! : m[2]!,
    // On the left, a right arrow leaves us; on the right, it comes to us.
    direction: toTheRight === (left !== null) ? 'sent' : 'received',
    count: Number(m[3]),
    retransmissions: Number(m[4]),
    timeouts: Number(m[5] ?? 0),
    unexpected: Number(m[6] ?? 0),
  };
}

const CUMULATIVE = (label: string): RegExp => new RegExp(`^\\s*${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`, 'm');

/**
 * sipp's final screens (printed on exit): the last scenario screen's steps,
 * the cumulative successful/failed calls, the peak of simultaneous calls.
 */
export function parseSippScreens(stdout: string): Pick<SippResult, 'steps' | 'successfulCalls' | 'failedCalls' | 'peakCalls'> {
  const screens = stdout.split(/^-+ Scenario Screen -+/m);
  const last = screens.length > 1 ? screens[screens.length - 1]! : '';
  const steps: SippStep[] = [];
  for (const line of last.split('\n')) {
    if (/^-+ (Test Terminated|Statistics Screen)/.test(line)) break;
    const step = parseStep(line);
    if (step) steps.push(step);
  }
  const number = (re: RegExp): number => Number(re.exec(stdout)?.[1] ?? Number.NaN);
  const peaks = [...stdout.matchAll(/Peak was (\d+) calls/g)];
  return {
    steps,
    successfulCalls: number(CUMULATIVE('Successful call')),
    failedCalls: number(CUMULATIVE('Failed call')),
    peakCalls: peaks.length > 0 ? Number(peaks[peaks.length - 1]![1]) : Number.NaN,
  };
}

/** `seen NAME=VALUE` lines of the scenario's log, by name. */
export function parseSeen(log: string): Record<string, string[]> {
  const seen: Record<string, string[]> = {};
  for (const m of log.matchAll(/^seen ([a-z]+)=(\S+)$/gm)) (seen[m[1]!] ??= []).push(m[2]!);
  return seen;
}

/** How many of the scenario's messages named `message` sipp sent or received (summed over the steps naming it). */
export function stepCount(result: SippResult, direction: SippStep['direction'], message: string): number {
  return result.steps.filter((s) => s.direction === direction && s.message === message).reduce((n, s) => n + s.count, 0);
}

/** What one host counts: UDP packets from `from` to a port in `ports` (inclusive). */
export interface ArrivalWatch {
  readonly from: IpAddress;
  readonly ports: { readonly from: Port; readonly to: Port };
}

/** Per-host packet counters of media arrivals (nftables, input hook). */
export interface ArrivalCounter {
  /** Packets counted so far. */
  read(): Promise<number>;
  /** Removes the counter's table. */
  remove(): Promise<void>;
}

const ARRIVALS_TABLE = { family: 'inet', name: 'algd_lab_sipp_arrivals' } as const;

/**
 * Counts UDP packets arriving in `host` from `watch.from` on the watched
 * ports, from now on (a fresh table replaces an earlier one). The input
 * hook counts before any socket lookup, so a packet counts even if no
 * program reads it.
 */
export async function countArrivals(lab: Lab, host: LabHost, watch: ArrivalWatch): Promise<ArrivalCounter> {
  const family = watch.from.includes(':') ? 'ip6' : 'ip';
  const table = `${ARRIVALS_TABLE.family} ${ARRIVALS_TABLE.name}`;
  await lab.exec(host, ['nft', 'delete', 'table', ARRIVALS_TABLE.family, ARRIVALS_TABLE.name]);
  await lab.execOk(host, ['nft', '-f', '-'], {
    input: [
      `table ${table} {`,
      '  counter arrivals { }',
      '  chain input {',
      '    type filter hook input priority filter; policy accept;',
      `    ${family} saddr ${watch.from} udp dport ${watch.ports.from}-${watch.ports.to} counter name "arrivals"`,
      '  }',
      '}',
      '',
    ].join('\n'),
  });
  return {
    read: async () => {
      const out = (await lab.execOk(host, ['nft', '-j', 'list', 'counter', ARRIVALS_TABLE.family, ARRIVALS_TABLE.name, 'arrivals'])).stdout;
      const doc = JSON.parse(out) as { nftables: { counter?: { packets: number } }[] };
      const counter = doc.nftables.find((e) => e.counter !== undefined)?.counter;
      if (counter === undefined) throw new Error(`no counter in: ${out}`);
      return counter.packets;
    },
    remove: async () => {
      await lab.exec(host, ['nft', 'delete', 'table', ARRIVALS_TABLE.family, ARRIVALS_TABLE.name]);
    },
  };
}

// ---- the lab's SIP cases: a phone on the client, its peer on the server ----

/** SIP and media ports of the two sides (media: call n uses base + 4(n-1)). */
export const SIPP_LAB_PORTS = { sip: port(5060), phoneMedia: port(6000), serverMedia: port(20000) } as const;

export interface SippCallCase {
  /** Names the runs' folders; unique per lab. */
  readonly name: string;
  readonly transport: 'udp' | 'tcp';
  /** Calls, one after the other unless `concurrency` says otherwise; default 1. */
  readonly calls?: number;
  readonly concurrency?: number;
  /** New calls per second; default 100 with `concurrency`, else 10. */
  readonly rate?: number;
  /** Each call from its own socket (a phone of its own); UDP only. */
  readonly socketPerCall?: boolean;
  /** Media ports of call 1 on each side; default SIPP_LAB_PORTS. Cases that must not meet each other's media flows use their own. */
  readonly mediaPorts?: { readonly phone: Port; readonly server: Port };
  /** Audio both sides play; none: signalling and SDP only. */
  readonly pcap?: string;
  /** How long the far side holds each call before its BYE (from when it starts playing). */
  readonly holdMs: number;
  /** Both agents give up after this long. */
  readonly timeoutS: number;
}

/** What a case produced: both agents' results and the RTP packets that reached each side. */
export interface SippCallOutcome {
  /** The phone behind the gateway. */
  readonly phone: SippResult;
  /** The UA, or registrar, on the public side. */
  readonly far: SippResult;
  /** RTP packets that reached the server's media ports from the gateway's public address. */
  readonly rtpAtServer: number;
  /** RTP packets that reached the phone's media ports from the server. */
  readonly rtpAtPhone: number;
  /** RTP packets each side played in all its calls (what should arrive at the other). */
  readonly rtpPlayedEach: number;
}

/** The media port range of `calls` calls from `base`. */
const mediaPorts = (base: Port, calls: number): ArrivalWatch['ports'] => ({ from: base, to: port(base + 4 * (calls - 1) + 1) });

/** The media ports of call 1 of a case. */
const mediaBases = (c: Pick<SippCallCase, 'mediaPorts'>): { phone: Port; server: Port } => c.mediaPorts ?? { phone: SIPP_LAB_PORTS.phoneMedia, server: SIPP_LAB_PORTS.serverMedia };

async function withArrivalCounters(lab: Lab, calls: number, c: Pick<SippCallCase, 'mediaPorts' | 'pcap'>, run: () => Promise<{ phone: SippResult; far: SippResult }>): Promise<SippCallOutcome> {
  const pcap = c.pcap;
  const atServer = await countArrivals(lab, 'server', { from: GATEWAY_PUBLIC_V4, ports: mediaPorts(mediaBases(c).server, calls) });
  const atPhone = await countArrivals(lab, 'client', { from: SERVER_V4, ports: mediaPorts(mediaBases(c).phone, calls) });
  try {
    const { phone, far } = await run();
    return { phone, far, rtpAtServer: await atServer.read(), rtpAtPhone: await atPhone.read(), rtpPlayedEach: pcap === undefined ? 0 : calls * rtpPacketsIn(pcap) };
  } finally {
    await atServer.remove();
    await atPhone.remove();
  }
}

/**
 * The phone (client) calls the UA on the server, both play `pcap`, and the
 * UA hangs up: over UDP with its BYE sent to the phone's Contact as the
 * INVITE carried it, over TCP on the connection.
 */
export function sippOutgoingCall(lab: Lab, c: SippCallCase): Promise<SippCallOutcome> {
  const calls = c.calls ?? 1;
  const common = { transport: c.transport, sipPort: SIPP_LAB_PORTS.sip, calls, timeoutS: c.timeoutS } as const;
  return withArrivalCounters(lab, calls, c, async () => {
    const r = await runSippPair(
      lab,
      { host: 'server', opts: { ...common, name: `${c.name}-callee`, scenario: calleeScenario({ pcap: c.pcap, holdMs: c.holdMs, byeTo: c.transport === 'udp' ? 'contact' : 'connection' }), address: SERVER_V4, mediaPort: mediaBases(c).server, concurrency: calls } },
      { host: 'client', opts: { ...common, name: `${c.name}-caller`, scenario: callerScenario({ pcap: c.pcap }), address: CLIENT_V4, mediaPort: mediaBases(c).phone, remote: endpoint(SERVER_V4, SIPP_LAB_PORTS.sip), concurrency: c.concurrency ?? 1, rate: c.rate ?? (c.concurrency !== undefined ? 100 : 10), socketPerCall: c.socketPerCall } },
    );
    return { phone: r.starting, far: r.waiting };
  });
}

/**
 * The phone (client) registers with the registrar on the server, which
 * then calls it at the registered Contact; both play `pcap`, the registrar
 * hangs up. UDP: the registrar's requests go to the Contact's address.
 */
export function sippIncomingCall(lab: Lab, c: Pick<SippCallCase, 'name' | 'pcap' | 'holdMs' | 'timeoutS' | 'mediaPorts'>): Promise<SippCallOutcome> {
  const common = { transport: 'udp', sipPort: SIPP_LAB_PORTS.sip, calls: 1, timeoutS: c.timeoutS } as const;
  return withArrivalCounters(lab, 1, c, async () => {
    const r = await runSippPair(
      lab,
      { host: 'server', opts: { ...common, name: `${c.name}-registrar`, scenario: registrarScenario({ pcap: c.pcap, holdMs: c.holdMs }), address: SERVER_V4, mediaPort: mediaBases(c).server } },
      { host: 'client', opts: { ...common, name: `${c.name}-phone`, scenario: registeringPhoneScenario({ pcap: c.pcap }), address: CLIENT_V4, mediaPort: mediaBases(c).phone, remote: endpoint(SERVER_V4, SIPP_LAB_PORTS.sip) } },
    );
    return { phone: r.starting, far: r.waiting };
  });
}
