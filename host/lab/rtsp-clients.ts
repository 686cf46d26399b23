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
import json, sys, threading, time
import gi
gi.require_version('Gst', '1.0')
from gi.repository import GLib, Gst

cfg = json.loads(sys.argv[1])
Gst.init(None)
# PyGObject registers a wrapper type on first use; rtspsrc adds its pads from two threads at once, and
# two first uses racing there fail ("Expected Gst.Structure"). Used once here first, and handlers serialised.
Gst.Caps.from_string('application/x-rtp,media=video').get_structure(0).get_string('media')
pad_lock = threading.RLock()
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
    with pad_lock:
        link_src_pad(pad)

def link_src_pad(pad):
    caps = pad.get_current_caps() or pad.query_caps(None)
    name = caps.get_structure(0).get_string('media') or 'unknown'
    medium(name)
    pad.add_probe(Gst.PadProbeType.BUFFER, counter(name, 'rtp'))
    dec = Gst.ElementFactory.make('decodebin')
    def on_dec_pad(_dec, dpad):
        with pad_lock:
            link_dec_pad(dpad)
    def link_dec_pad(dpad):
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
    return [p for p in ports if p]

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

# Every port seen while running: udpsrc elements come with the streams and may go with an error.
ports = set()

def tick():
    ports.update(local_ports())
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
ports.update(local_ports())
# PLAYING -> NULL: rtspsrc sends TEARDOWN on the way down.
pipe.set_state(Gst.State.NULL)
print(json.dumps({'media': media, 'error': result['error'], 'eos': result['eos'], 'ports': sorted(ports),
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

/**
 * A hand-driven RTSP session over a plain socket (DESCRIBE, SETUP, PLAY,
 * then TEARDOWN when told), which keeps its control connection open after
 * TEARDOWN until told to close: so a test can look at the gateway between
 * TEARDOWN and the end of the connection. Media over UDP to `clientPort`
 * (RTP) and `clientPort + 1` (RTCP), no hole punching.
 */
const SESSION_SCRIPT = String.raw`
import json, re, socket, sys, time

cfg = json.loads(sys.argv[1])
m = re.match(r'rtsp://([^/:]+):(\d+)(/.*)$', cfg['url'])
host, port, path = m.group(1), int(m.group(2)), m.group(3)
deadline = time.monotonic() + cfg['timeoutS']

def out(event, **fields):
    fields['event'] = event
    sys.stdout.write(json.dumps(fields) + '\n')
    sys.stdout.flush()

def fail(message):
    out('error', message=message)
    sys.exit(1)

ctl = socket.create_connection((host, port), timeout=5)
buf = b''
cseq = 0

def request(method, uri, headers):
    global buf, cseq
    cseq += 1
    lines = ['%s %s RTSP/1.0' % (method, uri), 'CSeq: %d' % cseq] + ['%s: %s' % kv for kv in headers] + ['', '']
    ctl.sendall('\r\n'.join(lines).encode())
    while b'\r\n\r\n' not in buf:
        chunk = ctl.recv(4096)
        if not chunk:
            fail('connection closed waiting for the %s reply' % method)
        buf += chunk
    head, buf = buf.split(b'\r\n\r\n', 1)
    text = head.decode('latin-1')
    fields = {}
    for line in text.split('\r\n')[1:]:
        name, _, value = line.partition(':')
        fields[name.strip().lower()] = value.strip()
    length = int(fields.get('content-length', '0'))
    while len(buf) < length:
        chunk = ctl.recv(4096)
        if not chunk:
            fail('connection closed in the %s reply body' % method)
        buf += chunk
    body, buf = buf[:length], buf[length:]
    status = int(text.split(' ')[1])
    if status != 200:
        fail('%s answered %s' % (method, text.split('\r\n')[0]))
    return fields, body.decode('latin-1')

rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rtp.bind(('0.0.0.0', cfg['clientPort']))
rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rtcp.bind(('0.0.0.0', cfg['clientPort'] + 1))

base = 'rtsp://%s:%d%s' % (host, port, path)
_, sdp = request('DESCRIBE', base, [('Accept', 'application/sdp')])
control = re.search(r'^a=control:(\S+)', sdp.split('m=video', 1)[1], re.M).group(1)
stream = control if control.startswith('rtsp://') else base + '/' + control
fields, _ = request('SETUP', stream, [('Transport', 'RTP/AVP;unicast;client_port=%d-%d' % (cfg['clientPort'], cfg['clientPort'] + 1))])
session = fields['session'].split(';')[0]
request('PLAY', base, [('Session', session), ('Range', 'npt=0-')])

def receive(want, until):
    n = 0
    rtp.settimeout(0.2)
    while n < want and time.monotonic() < until:
        try:
            rtp.recv(2048)
            n += 1
        except socket.timeout:
            pass
    return n

got = receive(cfg['rtpPackets'], deadline)
out('playing', rtp=got, transport=fields.get('transport'))
if sys.stdin.readline().strip() != 'teardown':
    fail('expected "teardown" on stdin')
request('TEARDOWN', base, [('Session', session)])
out('torn-down')
if sys.stdin.readline().strip() != 'close':
    fail('expected "close" on stdin')
ctl.close()
out('closed')
`;

/** What the hand-driven session reported once playing. */
export interface RawSessionPlaying {
  /** RTP packets received (up to the number asked for). */
  readonly rtp: number;
  /** The Transport header of the SETUP reply, as the client received it. */
  readonly transport: string | null;
}

export interface RawRtspSession {
  /** Resolves once PLAY is answered and the RTP asked for arrived (or the deadline passed). */
  playing(): Promise<RawSessionPlaying>;
  /** Sends TEARDOWN and resolves once it is answered; the control connection stays open. */
  teardown(): Promise<void>;
  /** Closes the control connection; resolves when the client has exited. */
  close(): Promise<void>;
}

export interface RawRtspSessionOptions {
  readonly url: string;
  /** The RTP port (even); RTCP is the next one. */
  readonly clientPort: number;
  /** RTP packets to wait for after PLAY. */
  readonly rtpPackets: number;
  readonly timeoutS: number;
}

/** Starts the hand-driven session in `host` (see SESSION_SCRIPT); each step waits for the client's report. */
export function startRawRtspSession(lab: Lab, host: LabHost, opts: RawRtspSessionOptions): RawRtspSession {
  const script = writeScript(lab, 'rtsp-raw-session', SESSION_SCRIPT);
  const cfg = { url: opts.url, clientPort: opts.clientPort, rtpPackets: opts.rtpPackets, timeoutS: opts.timeoutS };
  const proc = lab.spawn(host, ['timeout', '-k', '3', String(opts.timeoutS + 30), GI_PYTHON, '-u', script, JSON.stringify(cfg)]);
  const step = async (event: string): Promise<Record<string, unknown>> => {
    const m = await proc.waitForOutput(new RegExp(`^\\{.*"event": "(${event}|error)"\\}$`, 'm'), (opts.timeoutS + 10) * 1000, 'stdout');
    const report = JSON.parse(m[0]) as Record<string, unknown>;
    if (report['event'] === 'error') throw new Error(`RTSP session failed: ${String(report['message'])}`);
    return report;
  };
  return {
    playing: async () => {
      const r = await step('playing');
      return { rtp: Number(r['rtp']), transport: typeof r['transport'] === 'string' ? r['transport'] : null };
    },
    teardown: async () => {
      proc.write('teardown\n');
      await step('torn-down');
    },
    close: async () => {
      proc.write('close\n');
      await step('closed');
      await proc.waitForExit(10_000);
    },
  };
}
