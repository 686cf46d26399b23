/**
 * A GStreamer RTSP server (gst-rtsp-server through python3-gi) in a lab
 * host, the real peer of the RTSP end-to-end tests. It serves live test
 * sources:
 *
 * - `/av`: H.264 video (videotestsrc -> x264enc -> rtph264pay, stream 0)
 *   and G.711 mu-law audio (audiotestsrc -> mulawenc -> rtppcmupay, stream 1);
 * - `/video`: the same video alone;
 *
 * each encoded per client, so every session has its own server ports; and
 *
 * - `/shared`: the video once for all its clients, sent from one server
 *   port pair to each of them (a camera's single stream).
 *
 * Every SETUP and TEARDOWN the server handles is printed as one JSON line
 * (the Transport it received, where it will send the stream, the peer),
 * so a test can see what reached the server, e.g. the client_port a
 * gateway rewrote.
 *
 * The script lives here as a string and is written to the lab's work dir
 * at run time (dist/ carries no .py files). It runs with /usr/bin/python3,
 * Debian's, which has python3-gi and gir1.2-gst-rtsp-server-1.0; the
 * `python3` first on PATH may be another one without gi.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { IpAddress } from '@algd/sdk';

import type { Lab, LabHost } from './lab';
import type { LabProcess } from './lab-process';

/** Debian's Python, the one with python3-gi (GStreamer's introspection bindings). */
export const GI_PYTHON = '/usr/bin/python3';

/** The server's mount points. */
export const RTSP_MOUNTS = { audioVideo: '/av', video: '/video', sharedVideo: '/shared' } as const;

/** Video the server sends: small and cheap to encode, so many streams fit in a short test. */
export const RTSP_VIDEO = { width: 160, height: 120, fps: 25 } as const;

const SERVER_SCRIPT = String.raw`
import json, signal, sys
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtsp', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

port, width, height, fps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
Gst.init(None)

# Live sources, so the server paces the stream in real time; zerolatency and
# ultrafast keep x264 cheap; a key frame every second and SPS/PPS with each
# one, so a client joining late still decodes within a second.
VIDEO = ('videotestsrc is-live=true pattern=ball ! video/x-raw,width=%d,height=%d,framerate=%d/1 '
         '! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d bitrate=256 '
         '! rtph264pay name=pay0 pt=96 config-interval=-1') % (width, height, fps, fps)
AUDIO = ('audiotestsrc is-live=true wave=sine samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1 '
         '! mulawenc ! rtppcmupay name=pay1 pt=0')

def out(event, **fields):
    fields['event'] = event
    sys.stdout.write(json.dumps(fields) + '\n')
    sys.stdout.flush()

def header(msg, field):
    if msg is None:
        return None
    res, value = msg.get_header(field, 0)
    return value if res == GstRtsp.RTSPResult.OK else None

def peer(client):
    conn = client.get_connection()
    return conn.get_ip() if conn is not None else None

clients = [0]

# Each control connection gets a number, bound into its handlers, so a reply pairs with its SETUP.
def on_client(server, client):
    clients[0] += 1
    n = clients[0]
    out('client', client=n, peer=peer(client))

    # setup-request comes once the SETUP is answered: the stream transport then says where the
    # server will send RTP and RTCP (destination, client_port).
    def on_setup(client, ctx):
        tr = ctx.trans.get_transport() if ctx.trans is not None else None
        out('setup', client=n, peer=peer(client), uri=ctx.uri.abspath if ctx.uri else None,
            request=header(ctx.request, GstRtsp.RTSPHeaderField.TRANSPORT), sendsTo=tr.as_text() if tr else None)

    def on_teardown(client, ctx):
        out('teardown', client=n, peer=peer(client))

    client.connect('setup-request', on_setup)
    client.connect('teardown-request', on_teardown)

server = GstRtspServer.RTSPServer()
server.set_service(port)
mounts = server.get_mount_points()
for path, launch, shared in (('/av', '( %s %s )' % (VIDEO, AUDIO), False),
                             ('/video', '( %s )' % VIDEO, False),
                             ('/shared', '( %s )' % VIDEO, True)):
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(shared)
    mounts.add_factory(path, factory)
server.connect('client-connected', on_client)
if server.attach(None) == 0:
    out('error', message='cannot listen on port ' + port)
    sys.exit(1)
loop = GLib.MainLoop()
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
out('ready', port=int(port))
loop.run()
`;

export interface RtspServerOptions {
  /** The host it runs in; default the server. */
  readonly host?: LabHost;
  /** The RTSP port; default 554. */
  readonly port?: number;
}

/** One SETUP the server handled. */
export interface RtspSetupSeen {
  /** The control connection's peer as the server saw it (the gateway's public address through NAT). */
  readonly peer: string;
  /** The request path (`/av/stream=0`). */
  readonly uri: string | null;
  /** The Transport header the server received, e.g. `RTP/AVP;unicast;client_port=61000-61001`. */
  readonly request: string | null;
  /** The transport the server set up for the stream: where it sends RTP/RTCP (`destination=...;client_port=...`). */
  readonly sendsTo: string | null;
}

export interface RtspServer {
  readonly process: LabProcess;
  readonly port: number;
  /** `rtsp://ADDRESS:PORT/path` for a mount (`RTSP_MOUNTS`). */
  url(address: IpAddress, mount: string): string;
  /** Every SETUP handled so far, in order. */
  setups(): RtspSetupSeen[];
  /** TEARDOWNs handled so far, by peer. */
  teardowns(): string[];
}

interface ServerEvent {
  readonly event: string;
  /** The server's number for the control connection. */
  readonly client?: number;
  readonly peer?: string;
  readonly uri?: string | null;
  readonly request?: string | null;
  readonly sendsTo?: string | null;
}

function events(stdout: string): ServerEvent[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ServerEvent);
}

/** Writes the script to the lab's work dir and starts the server; resolves once it listens. */
export async function startRtspServer(lab: Lab, opts: RtspServerOptions = {}): Promise<RtspServer> {
  const port = opts.port ?? 554;
  const script = join(lab.workDir, 'rtsp-server.py');
  writeFileSync(script, SERVER_SCRIPT);
  const proc = lab.spawn(opts.host ?? 'server', [
    GI_PYTHON, '-u', script, String(port), String(RTSP_VIDEO.width), String(RTSP_VIDEO.height), String(RTSP_VIDEO.fps),
  ]);
  await proc.waitForOutput(/"event": "ready"/, 15_000, 'stdout');
  await proc.waitForPort('tcp', port, 10_000);
  return {
    process: proc,
    port,
    url: (address, mount) => `rtsp://${address.includes(':') ? `[${address}]` : address}:${port}${mount}`,
    setups: () =>
      events(proc.stdout)
        .filter((e) => e.event === 'setup')
        .map((e) => ({ peer: e.peer ?? '', uri: e.uri ?? null, request: e.request ?? null, sendsTo: e.sendsTo ?? null })),
    teardowns: () => events(proc.stdout).filter((e) => e.event === 'teardown').map((e) => e.peer ?? ''),
  };
}
