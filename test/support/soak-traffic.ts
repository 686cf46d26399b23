/**
 * The traffic of the reliability soak, one kind per protocol, each a
 * bounded iteration that checks what arrived: an FTP download (whole, by
 * its hash), a run of SIP calls with sipp (every call completed on both
 * sides, every RTP packet arrived both ways, the far side's BYE answered)
 * and an RTSP session (rtspsrc without hole punching or ffmpeg over UDP,
 * enough decoded video frames). The soak runs the kinds side by side, each in
 * its own loop until a deadline.
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { GATEWAY_PUBLIC_V4, SERVER_V4 } from '../../host/lab/addresses';
import type { Lab } from '../../host/lab/lab';
import { decoded, describeGstResult, runFfmpegRtspClient, runGstRtspClient } from '../../host/lab/rtsp-clients';
import { GI_PYTHON, RTSP_MOUNTS, type RtspServer } from '../../host/lab/rtsp-server';
import { SIPP_DTMF_PCAP, sippOutgoingCall, stepCount, type SippCallOutcome, type SippResult } from '../../host/lab/sipp';
import { BIG_FILE, sha256File, type FtpServer } from './ftp-peers';

/** One iteration's verdict; `detail` says what happened, for the failure list. */
export interface SoakOutcome {
  readonly ok: boolean;
  readonly detail: string;
}

/** One kind of traffic: iterations numbered from 0, each bounded in time. */
export interface SoakTraffic {
  readonly name: string;
  /** Runs the next iteration. */
  next(): Promise<SoakOutcome>;
  /** Iterations run so far. */
  readonly iterations: number;
}

/** What a loop did: its iterations and the details of those that failed. */
export interface SoakTally {
  readonly name: string;
  readonly iterations: number;
  readonly failures: readonly string[];
}

/** Runs `traffic` one iteration after another until `deadline` (ms since the epoch); an iteration started goes to its end. */
export async function loopUntil(traffic: SoakTraffic, deadline: number): Promise<SoakTally> {
  const failures: string[] = [];
  let iterations = 0;
  while (Date.now() < deadline) {
    const r = await traffic.next();
    iterations++;
    if (!r.ok) failures.push(`${traffic.name}: ${r.detail}`);
  }
  return { name: traffic.name, iterations, failures };
}

/** A traffic kind from its iteration body. */
function traffic(name: string, run: (i: number) => Promise<SoakOutcome>): SoakTraffic {
  let n = 0;
  return {
    name,
    next: () => run(n++),
    get iterations() {
      return n;
    },
  };
}

// ---- FTP ----

/** Even iterations active (PORT), odd ones passive (PASV): the FTP plugin counts active-mapped and passive-mapped once each. */
export const ftpIsActive = (i: number): boolean => i % 2 === 0;

/** Downloads of BIG_FILE by curl, active and passive in turn, each compared by hash. */
export function ftpDownloads(lab: () => Lab, server: () => FtpServer): SoakTraffic {
  return traffic('ftp', async (i) => {
    const active = ftpIsActive(i);
    const out = join(server().clientDir, `soak-${i}.bin`);
    const r = await lab().exec('client', ['timeout', '30', 'curl', '-sS', '--disable-eprt', '--disable-epsv', ...(active ? ['-P', '-'] : []), '-o', out, `ftp://${SERVER_V4}/${BIG_FILE}`], { timeoutMs: 40_000 });
    const ok = r.code === 0 && sha256File(out) === server().hashes.get(BIG_FILE);
    await lab().exec('client', ['rm', '-f', out]);
    return { ok, detail: `download ${i} ${active ? 'active' : 'passive'}: exit ${r.code} ${r.stderr.trim().slice(0, 200)}` };
  });
}

// ---- SIP ----

/** Calls in each sipp run, one after another from the phone (the same SIP and media ports each time). */
export const SIP_CALLS_PER_RUN = 3;
/** The far side holds each call this long after it starts playing the DTMF digit (0.14 s). */
const SIP_HOLD_MS = 300;
/** sipp's limit per run; a run takes about 2 s. */
const SIP_TIMEOUT_S = 30;

/** Even iterations over UDP, odd ones over TCP. */
export const sipTransport = (i: number): 'udp' | 'tcp' => (i % 2 === 0 ? 'udp' : 'tcp');

const sippSummary = (what: string, r: SippResult): string =>
  `${what} exit ${JSON.stringify(r.exit)} ${r.successfulCalls} ok/${r.failedCalls} failed, steps ${r.steps.map((s) => `${s.direction === 'sent' ? '>' : '<'}${s.message}:${s.count}`).join(' ')}${r.errors ? `, errors ${r.errors.slice(-300)}` : ''}`;

/** Every call completed on both sides with RTP both ways and the far side's BYE answered. */
function sipCallsComplete(o: SippCallOutcome, calls: number): boolean {
  return o.phone.exit.code === 0 && o.far.exit.code === 0
    && o.phone.successfulCalls === calls && o.far.successfulCalls === calls
    && o.phone.failedCalls === 0 && o.far.failedCalls === 0
    && o.rtpPlayedEach > 0 && o.rtpAtServer === o.rtpPlayedEach && o.rtpAtPhone === o.rtpPlayedEach
    && stepCount(o.phone, 'received', 'BYE') === calls && stepCount(o.far, 'sent', 'BYE') === calls;
}

/**
 * sipp runs of SIP_CALLS_PER_RUN calls from the phone (client) to the UA
 * on the server, UDP and TCP in turn, both playing a DTMF digit. Every run
 * uses the same media ports: a phone's next call from the RTP port of its
 * last one must get its media too.
 */
export function sipCalls(lab: () => Lab): SoakTraffic {
  return traffic('sip', async (i) => {
    const transport = sipTransport(i);
    const o = await sippOutgoingCall(lab(), { name: `soak-${i}`, transport, calls: SIP_CALLS_PER_RUN, pcap: SIPP_DTMF_PCAP, holdMs: SIP_HOLD_MS, timeoutS: SIP_TIMEOUT_S });
    return {
      ok: sipCallsComplete(o, SIP_CALLS_PER_RUN),
      detail: `run ${i} over ${transport}: RTP at server ${o.rtpAtServer}, at phone ${o.rtpAtPhone} of ${o.rtpPlayedEach}; ${sippSummary('phone', o.phone)}; ${sippSummary('far', o.far)}`,
    };
  });
}

// ---- RTSP ----

/** Decoded video frames (25 fps) and audio buffers (20 ms) that count as a session that received. */
const RTSP_FRAMES = 30;
/** A client stops as soon as it has its frames (about 1.5 s); this is its limit. */
const RTSP_TIMEOUT_S = 20;

interface RtspKind {
  readonly name: string;
  readonly mount: string;
  /** UDP streams the session sets up, each one SETUP and one mapped stream in the plugin. */
  readonly streams: number;
  readonly run: (lab: Lab, url: string) => Promise<SoakOutcome>;
}

/**
 * The sessions in turn: rtspsrc without hole punching on video (only the
 * gateway's mapping of the SETUP's client_port brings the stream in), then
 * ffmpeg over UDP on audio and video (two streams mapped in one session).
 * Not rtspsrc on audio and video: its two pads come up on two streaming
 * threads at once, and the client script's pad-added handler then
 * sometimes fails inside PyGObject (`Expected Gst.Structure, but got
 * gi.repository.Gst.Structure`), losing a stream the gateway delivered.
 */
const RTSP_KINDS: readonly RtspKind[] = [
  {
    name: 'rtspsrc video',
    mount: RTSP_MOUNTS.video,
    streams: 1,
    run: async (lab, url) => {
      const r = await runGstRtspClient(lab, 'client', { url, protocols: 'udp', natMethod: 'none', want: { video: RTSP_FRAMES }, timeoutS: RTSP_TIMEOUT_S });
      return { ok: decoded(r, 'video') >= RTSP_FRAMES, detail: describeGstResult(r) };
    },
  },
  {
    name: 'ffmpeg audio+video',
    mount: RTSP_MOUNTS.audioVideo,
    // ffmpeg sets up every stream of the description, the audio too, though it decodes only the video.
    streams: 2,
    run: async (lab, url) => {
      const r = await runFfmpegRtspClient(lab, 'client', { url, transport: 'udp', frames: RTSP_FRAMES, timeoutS: RTSP_TIMEOUT_S });
      return { ok: r.frames >= RTSP_FRAMES && /^Video: h264/.test(r.streams[0] ?? ''), detail: `${r.frames} frames of ${JSON.stringify(r.streams)}, exit ${r.exitCode}: ${r.stderr.slice(-300)}` };
    },
  },
];

/** The UDP streams `iterations` RTSP sessions set up, in the order they run. */
export function rtspStreams(iterations: number): number {
  let n = 0;
  for (let i = 0; i < iterations; i++) n += RTSP_KINDS[i % RTSP_KINDS.length]!.streams;
  return n;
}

/**
 * RTSP sessions of the kinds in RTSP_KINDS in turn, from the client to the
 * GStreamer server. Besides the frames: the server got one SETUP per
 * stream, from the gateway's public address, its client_port rewritten
 * (through algd never the client's own ports).
 */
export function rtspSessions(lab: () => Lab, server: () => RtspServer): SoakTraffic {
  return traffic('rtsp', async (i) => {
    const kind = RTSP_KINDS[i % RTSP_KINDS.length]!;
    const before = server().setups().length;
    const r = await kind.run(lab(), server().url(SERVER_V4, kind.mount));
    const setups = server().setups().slice(before);
    const setupsOk = setups.length === kind.streams && setups.every((s) => s.peer === GATEWAY_PUBLIC_V4 && /(?:^|;)client_port=\d+-\d+/.test(s.request ?? ''));
    return { ok: r.ok && setupsOk, detail: `session ${i} ${kind.name}: ${r.detail}; setups ${JSON.stringify(setups.map((s) => [s.peer, s.request]))}` };
  });
}

/** What the RTSP peers need besides the lab: ffmpeg, and Debian's Python with GStreamer's RTSP server and the elements used. */
export function missingRtspPeers(findTool: (name: string) => string | undefined): string[] {
  const missing = findTool('ffmpeg') === undefined ? ['ffmpeg'] : [];
  const probe = [
    'import gi',
    "gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0')",
    'from gi.repository import Gst, GstRtspServer',
    'Gst.init(None)',
    "print(' '.join(e for e in ['x264enc', 'rtph264pay', 'mulawenc', 'rtppcmupay', 'rtspsrc', 'decodebin', 'avdec_h264', 'fakesink'] if Gst.ElementFactory.find(e) is None))",
  ].join('\n');
  const r = spawnSync(GI_PYTHON, ['-c', probe], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) missing.push(`${GI_PYTHON} with python3-gi and gir1.2-gst-rtsp-server-1.0 (${(r.stderr || String(r.error)).trim().split('\n').pop()})`);
  else if (r.stdout.trim() !== '') missing.push(`GStreamer elements ${r.stdout.trim()}`);
  return missing;
}
