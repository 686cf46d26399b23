/**
 * RTSP clients in lab hosts, each returning what it really received:
 *
 * - GStreamer's rtspsrc (a small /usr/bin/python3 script, python3-gi):
 *   RTP packets and decoded buffers per medium (video, audio), the local
 *   ports it received on, and the error it stopped with. Its `nat-method`
 *   matters: `dummy` (GStreamer's default) sends a packet from each RTP and
 *   RTCP port to the server first, which opens a plain masquerade for the
 *   stream when the NAT keeps the port; `none` sends nothing, so the stream
 *   reaches the client only when the gateway mapped the client_port of its
 *   SETUP, which is what an ALG does.
 * - ffmpeg (`-rtsp_transport udp|tcp`): decoded video frames. ffmpeg
 *   punches holes like nat-method=dummy.
 *
 * A client stops as soon as it has what it was asked for, or at its
 * deadline; then it ends the session (TEARDOWN) and reports. Scripts are
 * written to the lab's work dir at run time (dist/ carries no .py files).
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Lab, LabHost } from './lab';
import { GI_PYTHON } from './rtsp-server';

const CLIENT_SCRIPT = String.raw`
import json, sys, time
import gi
gi.require_version('Gst', '1.0')
from gi.repository import GLib, Gst

cfg = json.loads(sys.argv[1])
Gst.init(None)
pipe = Gst.Pipeline.new('client')
src = Gst.ElementFactory.make('rtspsrc')
src.set_property('location', cfg['url'])
Gst.util_set_object_arg(src, 'protocols', cfg['protocols'])
Gst.util_set_object_arg(src, 'nat-method', cfg['natMethod'])
if cfg['portRange']:
    src.set_property('port-range', cfg['portRange'])
src.set_property('latency', 100)
# Without UDP data for this long rtspsrc gives up (protocols rules out its TCP fallback).
src.set_property('timeout', int(cfg['timeoutS'] * 1000000))
pipe.add(src)

media = {}
def medium(name):
    return media.setdefault(name, {'rtp': 0, 'decoded': 0})

def counter(name, key):
    def probe(pad, info):
        medium(name)[key] += 1
        return Gst.PadProbeReturn.OK
    return probe

def on_src_pad(_src, pad):
    caps = pad.get_current_caps() or pad.query_caps(None)
    name = caps.get_structure(0).get_string('media') or 'unknown'
    medium(name)
    pad.add_probe(Gst.PadProbeType.BUFFER, counter(name, 'rtp'))
    dec = Gst.ElementFactory.make('decodebin')
    def on_dec_pad(_dec, dpad):
        sink = Gst.ElementFactory.make('fakesink')
        sink.set_property('sync', False)
        pipe.add(sink)
        sink.sync_state_with_parent()
        sink.get_static_pad('sink').add_probe(Gst.PadProbeType.BUFFER, counter(name, 'decoded'))
        dpad.link(sink.get_static_pad('sink'))
    dec.connect('pad-added', on_dec_pad)
    pipe.add(dec)
    dec.sync_state_with_parent()
    pad.link(dec.get_static_pad('sink'))

src.connect('pad-added', on_src_pad)

def local_ports():
    ports = []
    it = src.iterate_recurse()
    while True:
        res, el = it.next()
        if res != Gst.IteratorResult.OK:
            break
        if el.get_factory() is not None and el.get_factory().get_name() == 'udpsrc':
            ports.append(el.get_property('port'))
    return sorted(set(p for p in ports if p))

result = {'error': None, 'eos': False}
loop = GLib.MainLoop()
start = time.monotonic()
def on_message(_bus, msg):
    if msg.type == Gst.MessageType.ERROR:
        err, _dbg = msg.parse_error()
        result['error'] = err.message
        loop.quit()
    elif msg.type == Gst.MessageType.EOS:
        result['eos'] = True
        loop.quit()

def enough():
    want = cfg['want']
    return all(medium(name)['decoded'] >= n for name, n in want.items())

def tick():
    if enough() or time.monotonic() - start > cfg['timeoutS']:
        loop.quit()
        return False
    return True

bus = pipe.get_bus()
bus.add_signal_watch()
bus.connect('message', on_message)
pipe.set_state(Gst.State.PLAYING)
GLib.timeout_add(50, tick)
loop.run()
elapsed = time.monotonic() - start
# Every stream's udpsrc exists by now (they come and go with the pipeline).
ports = local_ports()
# PLAYING -> NULL: rtspsrc sends TEARDOWN on the way down.
pipe.set_state(Gst.State.NULL)
print(json.dumps({'media': media, 'error': result['error'], 'eos': result['eos'], 'ports': ports,
                  'complete': enough(), 'elapsedMs': int(elapsed * 1000)}))
`;

/** RTP packets rtspsrc received for a medium, and buffers decoded from them. */
export interface MediumCount {
  readonly rtp: number;
  readonly decoded: number;
}

export interface GstClientOptions {
  readonly url: string;
  /** rtspsrc `protocols`: media over UDP, or interleaved in the control connection. */
  readonly protocols: 'udp' | 'tcp';
  /** rtspsrc `nat-method`: `dummy` punches holes first (GStreamer's default), `none` does not. */
  readonly natMethod: 'none' | 'dummy';
  /** rtspsrc `port-range` (`from-to`), to ask for exactly these client ports. */
  readonly portRange?: { readonly from: number; readonly to: number };
  /** Decoded buffers per medium (`video`, `audio`) after which the client stops early. */
  readonly want: Readonly<Partial<Record<'video' | 'audio', number>>>;
  /** The client stops after this long whatever it got. */
  readonly timeoutS: number;
}

export interface GstClientResult {
  /** Per medium (`video`, `audio`) that rtspsrc set up. */
  readonly media: Readonly<Record<string, MediumCount>>;
  /** The error the pipeline stopped with (e.g. no UDP data within the timeout). */
  readonly error: string | null;
  readonly eos: boolean;
  /** The local UDP ports rtspsrc received on. */
  readonly ports: readonly number[];
  /** Every `want` was met. */
  readonly complete: boolean;
  readonly elapsedMs: number;
  readonly exitCode: number | null;
  readonly stderr: string;
}

/** Decoded buffers of `name` (0 when the medium never came up). */
export function decoded(r: GstClientResult, name: 'video' | 'audio'): number {
  return r.media[name]?.decoded ?? 0;
}

/** A short description for failure messages. */
export function describeGstResult(r: GstClientResult): string {
  const media = Object.entries(r.media).map(([k, v]) => `${k} rtp=${v.rtp} decoded=${v.decoded}`).join(', ') || 'no media';
  return `${media}; ports ${r.ports.join(',') || '-'}; error ${r.error ?? '-'}; exit ${r.exitCode}; ${r.elapsedMs} ms${r.stderr ? `; stderr ${r.stderr.slice(-500)}` : ''}`;
}

let scriptCount = 0;

function writeScript(lab: Lab, name: string, text: string): string {
  const file = join(lab.workDir, `${name}-${++scriptCount}.py`);
  writeFileSync(file, text);
  return file;
}

/** Runs GStreamer's rtspsrc in `host` until it has `want` or `timeoutS` passed, and reports what it received. */
export async function runGstRtspClient(lab: Lab, host: LabHost, opts: GstClientOptions): Promise<GstClientResult> {
  const script = writeScript(lab, 'rtsp-gst-client', CLIENT_SCRIPT);
  const cfg = {
    url: opts.url,
    protocols: opts.protocols,
    natMethod: opts.natMethod,
    portRange: opts.portRange ? `${opts.portRange.from}-${opts.portRange.to}` : '',
    want: opts.want,
    timeoutS: opts.timeoutS,
  };
  // The script keeps its own deadline; this one only catches a hung GStreamer.
  const r = await lab.exec(host, ['timeout', '-k', '3', String(opts.timeoutS + 10), GI_PYTHON, '-u', script, JSON.stringify(cfg)], {
    timeoutMs: (opts.timeoutS + 20) * 1000,
  });
  const line = r.stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  if (line === undefined) {
    return { media: {}, error: `no report (exit ${r.code})`, eos: false, ports: [], complete: false, elapsedMs: 0, exitCode: r.code, stderr: r.stderr };
  }
  const report = JSON.parse(line) as Omit<GstClientResult, 'exitCode' | 'stderr'>;
  return { ...report, exitCode: r.code, stderr: r.stderr };
}

export interface FfmpegClientOptions {
  readonly url: string;
  /** `-rtsp_transport` */
  readonly transport: 'udp' | 'tcp';
  /** Video frames to decode (`-frames:v`); ffmpeg stops there. */
  readonly frames: number;
  /** ffmpeg is interrupted (SIGINT, it still reports) after this long. */
  readonly timeoutS: number;
}

export interface FfmpegClientResult {
  /** Video frames decoded (the last `frame=` of `-progress`). */
  readonly frames: number;
  /** The input streams ffmpeg found, as it printed them (`Video: h264 ...`). */
  readonly streams: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;
}

/** Decodes video with ffmpeg in `host` (`-f null`), and reports how many frames it decoded. */
export async function runFfmpegRtspClient(lab: Lab, host: LabHost, opts: FfmpegClientOptions): Promise<FfmpegClientResult> {
  const argv = [
    'timeout', '-s', 'INT', '-k', '3', String(opts.timeoutS),
    'ffmpeg', '-hide_banner', '-nostdin', '-loglevel', 'info',
    '-rtsp_transport', opts.transport, '-i', opts.url,
    '-map', '0:v:0', '-frames:v', String(opts.frames), '-f', 'null', '-',
    '-progress', 'pipe:1', '-nostats',
  ];
  const r = await lab.exec(host, argv, { timeoutMs: (opts.timeoutS + 10) * 1000 });
  const frames = [...r.stdout.matchAll(/^frame=(\d+)$/gm)].map((m) => Number(m[1]));
  // The input's streams: listed between `Input #0` and the stream mapping (the output's follow it).
  const input = /^Input #0[\s\S]*?(?=^Stream mapping:|^Output #0|(?![\s\S]))/m.exec(r.stderr)?.[0] ?? '';
  const streams = [...input.matchAll(/^\s*Stream #0:\d+[^:]*: (.*)$/gm)].map((m) => m[1]!.trim());
  return { frames: frames.length > 0 ? frames[frames.length - 1]! : 0, streams, exitCode: r.code, stderr: r.stderr };
}
