/**
 * The RTSP plugin end to end, with real peers: a GStreamer RTSP server on
 * the server (203.0.113.2:554; live H.264 video, and G.711 audio on `/av`),
 * GStreamer's rtspsrc and ffmpeg on the clients behind the gateway
 * (198.51.100.2, and client2 192.0.2.2 on a second private network). Each
 * client reports what it decoded; the server reports every SETUP it got.
 *
 * The same cases run through three gateways, each in its own lab:
 *
 * 1. algd (`algd start`, nfqueue driver, RTSP plugin): everything arrives.
 * 2. masquerade alone, no ALG (the kernel has no RTSP helper, so there is
 *    no kernel reference): a client that does not punch holes first
 *    (rtspsrc nat-method=none) gets nothing, since the server sends to a
 *    public port nobody mapped; and of two clients asking for the same
 *    client_port at once for one shared stream (one server port pair),
 *    the masquerade gives the second one's hole punch another public port
 *    (the first already holds that tuple), so the server's stream for it
 *    lands on the first one's port and it gets nothing (conntrack shows
 *    it). Clients that punch holes (ffmpeg, rtspsrc's default) and TCP
 *    interleaved work here, which is why they prove nothing about the ALG
 *    and are run for completeness only.
 * 3. routing, no NAT: everything arrives. With 1 and 2 this proves the tests.
 */


import { CLIENT2_V4, CLIENT_V4, GATEWAY_PUBLIC_V4, SERVER_V4 } from '../../host/lab/addresses';
import type { Lab, LabHost } from '../../host/lab/lab';
import {
  decoded, describeGstResult, runFfmpegRtspClient, runGstRtspClient, startRawRtspSession,
  type FfmpegClientResult, type GstClientOptions, type GstClientResult,
} from '../../host/lab/rtsp-clients';
import { RTSP_MOUNTS, startRtspServer, type RtspServer, type RtspSetupSeen } from '../../host/lab/rtsp-server';
import { GATEWAY_PRIVATE2_IFACE, GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from '../../host/lab/topology';
import { runCommand } from '../../host/os/run-command';
import { describeLabNeeding, useLab } from '../lab/require-lab';
import { useLabAlgd } from '../support/lab-algd';
import { findTool } from '../support/require-tool';
import { missingRtspPeers } from '../support/soak-traffic';
import { until } from '../support/wait';

jest.setTimeout(60_000);

/** Decoded video buffers (frames) that count as "receives": over a second of the 25 fps stream. */
const VIDEO_FRAMES = 30;
/** Decoded audio buffers (20 ms each) that count as "receives". */
const AUDIO_BUFFERS = 30;
/** Seconds a client may take where it must receive (it stops as soon as it has enough, ~1.5 s). */
const RECEIVE_TIMEOUT_S = 20;
/** Seconds a client waits where it must get nothing. */
const NOTHING_TIMEOUT_S = 6;
/** The client ports both clients ask for at once in the two-clients case. */
const SHARED_PORTS = { from: 5000, to: 5001 } as const;

type Gateway = 'algd' | 'masquerade' | 'routing';

interface CaseRun {
  readonly lab: Lab;
  readonly server: RtspServer;
  readonly gateway: Gateway;
}

interface RtspCase {
  readonly name: string;
  /** What the case asserts through this gateway, as a test title. */
  readonly title: (g: Gateway) => string;
  readonly run: (c: CaseRun) => Promise<void>;
}

const videoUrl = (s: RtspServer): string => s.url(SERVER_V4, RTSP_MOUNTS.video);
const avUrl = (s: RtspServer): string => s.url(SERVER_V4, RTSP_MOUNTS.audioVideo);

/** The address the server sees a client's control connection come from. */
function seenAs(gateway: Gateway, host: LabHost): string {
  if (gateway !== 'routing') return GATEWAY_PUBLIC_V4;
  return host === 'client2' ? CLIENT2_V4 : CLIENT_V4;
}

/** SETUPs the server handled while `body` ran. */
async function setupsDuring<T>(server: RtspServer, body: () => Promise<T>): Promise<[T, RtspSetupSeen[]]> {
  const before = server.setups().length;
  const result = await body();
  return [result, server.setups().slice(before)];
}

function gst(c: CaseRun, host: LabHost, opts: Omit<GstClientOptions, 'timeoutS'>, mustReceive: boolean): Promise<GstClientResult> {
  return runGstRtspClient(c.lab, host, { ...opts, timeoutS: mustReceive ? RECEIVE_TIMEOUT_S : NOTHING_TIMEOUT_S });
}

function expectVideo(r: GstClientResult): void {
  if (decoded(r, 'video') < VIDEO_FRAMES) throw new Error(`expected ${VIDEO_FRAMES} decoded video frames: ${describeGstResult(r)}`);
}

function expectNothing(r: GstClientResult): void {
  const got = Object.values(r.media).reduce((n, m) => n + m.rtp, 0);
  if (got > 0) throw new Error(`expected no RTP at all: ${describeGstResult(r)}`);
}

function expectFfmpegVideo(r: FfmpegClientResult): void {
  if (r.frames < VIDEO_FRAMES || !/^Video: h264/.test(r.streams[0] ?? '')) {
    throw new Error(`ffmpeg decoded ${r.frames} frames of ${JSON.stringify(r.streams)} (exit ${r.exitCode}): ${r.stderr.slice(-1500)}`);
  }
}

/** `client_port=A-B` of a Transport header. */
function clientPorts(transport: string | null): string | undefined {
  return /(?:^|;)client_port=(\d+-\d+)/.exec(transport ?? '')?.[1];
}

/** algd's public ports for data channels (the configuration's default mappingPorts). */
const MAPPING_PORTS = { from: 61000, to: 64999 } as const;

/**
 * The client_port pairs the server was asked for, against the ports the
 * client listened on: through algd each is a public even/odd pair of the
 * gateway's mapping range; without algd the client's own, unchanged.
 */
function expectClientPortsSeen(gateway: Gateway, listened: readonly number[], setups: readonly RtspSetupSeen[]): void {
  const pairs = setups.map((s) => clientPorts(s.request)?.split('-').map(Number) ?? []);
  if (gateway === 'algd') {
    for (const [rtp, rtcp] of pairs) {
      expect([rtp! % 2, rtcp! - rtp!, rtp! >= MAPPING_PORTS.from && rtcp! <= MAPPING_PORTS.to]).toEqual([0, 1, true]);
    }
    expect(pairs.flat().filter((p) => listened.includes(p))).toEqual([]);
  } else {
    expect(pairs.flat().sort()).toEqual([...listened].sort());
  }
}

/** The gateway's conntrack: the public port each client's UDP flow from `port` to the server was masqueraded to, by client address. */
async function masqueradedPorts(lab: Lab, port: number): Promise<Map<string, number>> {
  const out = (await lab.execOk('gateway', ['conntrack', '-L', '-p', 'udp', '--orig-port-src', String(port), '--orig-dst', SERVER_V4], { timeoutMs: 10_000 })).stdout;
  const ports = new Map<string, number>();
  for (const line of out.split('\n')) {
    // udp 17 27 src=CLIENT dst=SERVER sport=5000 dport=X src=SERVER dst=203.0.113.1 sport=X dport=PUBLIC ...
    const m = /src=(\S+) dst=\S+ sport=\d+ dport=\d+ .*?src=\S+ dst=\S+ sport=\d+ dport=(\d+)/.exec(line);
    if (m) ports.set(m[1]!, Number(m[2]));
  }
  return ports;
}

/** The UDP cases over rtspsrc nat-method=none: only a mapping of the SETUP's client_port brings the stream in. */
const mustMap = (g: Gateway): boolean => g !== 'masquerade';

const CASES: readonly RtspCase[] = [
  {
    name: 'rtspsrc-udp-none',
    title: (g) => `GStreamer rtspsrc protocols=udp nat-method=none: ${mustMap(g) ? `decodes ${VIDEO_FRAMES} video frames` : 'gets no RTP at all (nobody mapped its client_port)'}`,
    run: async (c) => {
      const receive = mustMap(c.gateway);
      const [r, setups] = await setupsDuring(c.server, () => gst(c, 'client', { url: videoUrl(c.server), protocols: 'udp', natMethod: 'none', want: { video: VIDEO_FRAMES } }, receive));
      // The client got as far as SETUP over UDP either way: a failure is the media's, not the control connection's.
      expect(setups.map((s) => [s.peer, s.uri, /^RTP\/AVP(\/UDP)?;unicast;client_port=\d+-\d+$/.test(s.request ?? '')])).toEqual([[seenAs(c.gateway, 'client'), '/video/stream=0', true]]);
      expectClientPortsSeen(c.gateway, r.ports, setups);
      if (receive) expectVideo(r);
      else expectNothing(r);
    },
  },
  {
    name: 'two-clients-same-ports',
    title: (g) =>
      `two clients on two private networks ask for client_port ${SHARED_PORTS.from}-${SHARED_PORTS.to} at once (rtspsrc port-range, default nat-method): ${
        mustMap(g) ? 'both decode video' : 'one decodes video, the other gets nothing'}`,
    run: async (c) => {
      const receive = mustMap(c.gateway);
      // The shared stream comes from one server port pair to both, so the masquerade cannot tell the clients' flows apart by the server's port.
      const opts = { url: c.server.url(SERVER_V4, RTSP_MOUNTS.sharedVideo), protocols: 'udp', natMethod: 'dummy', portRange: SHARED_PORTS, want: { video: VIDEO_FRAMES } } as const;
      // The gateway's three sides are captured, for the failure message: who sent what to which port.
      const captures = await Promise.all([GATEWAY_PUBLIC_IFACE, GATEWAY_PRIVATE_IFACE, GATEWAY_PRIVATE2_IFACE].map((i) => c.lab.capture('gateway', i, 'udp')));
      const [[one, two], setups] = await setupsDuring(c.server, () =>
        // Without an ALG either may be the one that gets nothing, so both wait the shorter time; a stream arrives within about 1.5 s.
        Promise.all([gst(c, 'client', opts, receive), gst(c, 'client2', opts, receive)]));
      const pcaps = await Promise.all(captures.map((cap) => cap.stop()));
      const conversations = async (): Promise<string> =>
        (await Promise.all(pcaps.map(async (f) => (await runCommand(['tshark', '-n', '-r', f, '-q', '-z', 'conv,udp'], { timeoutMs: 20_000 })).stdout))).join('\n');
      // Both really listened on the same ports, each behind its own private network, on one stream.
      const both = `client: ${describeGstResult(one)}\nclient2: ${describeGstResult(two)}`;
      if (receive && !(one.complete && two.complete)) throw new Error(`${both}\nserver: ${JSON.stringify(setups)}\n${await conversations()}`);
      expect([one.ports, two.ports, both]).toEqual([[SHARED_PORTS.from, SHARED_PORTS.to], [SHARED_PORTS.from, SHARED_PORTS.to], both]);
      expect(setups.map((s) => s.peer).sort()).toEqual([seenAs(c.gateway, 'client'), seenAs(c.gateway, 'client2')].sort());
      const asked = setups.map((s) => clientPorts(s.request));
      if (c.gateway === 'masquerade') {
        // Unchanged, the two SETUPs name the same public port pair: the server sends both streams there.
        expect(asked).toEqual([`${SHARED_PORTS.from}-${SHARED_PORTS.to}`, `${SHARED_PORTS.from}-${SHARED_PORTS.to}`]);
        const got = [one, two].map((r) => decoded(r, 'video') >= VIDEO_FRAMES);
        expect(got.filter(Boolean)).toHaveLength(1);
        expectNothing(got[0] ? two : one);
        // Why: the masquerade kept port 5000 for the winner's RTP flow and moved the other's elsewhere.
        const publicPorts = await masqueradedPorts(c.lab, SHARED_PORTS.from);
        expect(publicPorts.get(got[0] ? CLIENT_V4 : CLIENT2_V4)).toBe(SHARED_PORTS.from);
        expect(publicPorts.get(got[0] ? CLIENT2_V4 : CLIENT_V4)).not.toBe(SHARED_PORTS.from);
      } else {
        if (c.gateway === 'algd') {
          // Rewritten to two different public pairs on the gateway.
          expect(new Set(asked).size).toBe(2);
          expectClientPortsSeen('algd', [SHARED_PORTS.from, SHARED_PORTS.to], setups);
        } else {
          expect(asked).toEqual([`${SHARED_PORTS.from}-${SHARED_PORTS.to}`, `${SHARED_PORTS.from}-${SHARED_PORTS.to}`]);
        }
        expectVideo(one);
        expectVideo(two);
      }
    },
  },
  {
    name: 'rtspsrc-av-none',
    title: (g) =>
      `audio and video in one session (rtspsrc nat-method=none): ${mustMap(g) ? `decodes ${VIDEO_FRAMES} video frames and ${AUDIO_BUFFERS} audio buffers` : 'gets no RTP at all'}`,
    run: async (c) => {
      const receive = mustMap(c.gateway);
      const [r, setups] = await setupsDuring(c.server, () =>
        gst(c, 'client', { url: avUrl(c.server), protocols: 'udp', natMethod: 'none', want: { video: VIDEO_FRAMES, audio: AUDIO_BUFFERS } }, receive));
      expect(setups.map((s) => s.uri)).toEqual(['/av/stream=0', '/av/stream=1']);
      expectClientPortsSeen(c.gateway, r.ports, setups);
      if (receive) {
        expectVideo(r);
        if (decoded(r, 'audio') < AUDIO_BUFFERS) throw new Error(`expected ${AUDIO_BUFFERS} decoded audio buffers: ${describeGstResult(r)}`);
      } else {
        expectNothing(r);
      }
    },
  },
  {
    name: 'ffmpeg-udp',
    title: () => `ffmpeg -rtsp_transport udp: decodes ${VIDEO_FRAMES} H.264 frames (it punches holes, so this works through the masquerade too)`,
    run: async (c) => {
      const [r, setups] = await setupsDuring(c.server, () =>
        runFfmpegRtspClient(c.lab, 'client', { url: videoUrl(c.server), transport: 'udp', frames: VIDEO_FRAMES, timeoutS: RECEIVE_TIMEOUT_S }));
      expect(setups.map((s) => /client_port=\d+-\d+/.test(s.request ?? ''))).toEqual([true]);
      expectFfmpegVideo(r);
    },
  },
  {
    name: 'rtspsrc-tcp',
    title: () => `GStreamer rtspsrc protocols=tcp (interleaved in the control connection): decodes ${VIDEO_FRAMES} video frames`,
    run: async (c) => {
      const [r, setups] = await setupsDuring(c.server, () =>
        gst(c, 'client', { url: videoUrl(c.server), protocols: 'tcp', natMethod: 'none', want: { video: VIDEO_FRAMES } }, true));
      expect(setups.map((s) => s.request)).toEqual(['RTP/AVP/TCP;unicast;interleaved=0-1']);
      expect(r.ports).toEqual([]);
      expectVideo(r);
    },
  },
  {
    name: 'ffmpeg-tcp',
    title: () => `ffmpeg -rtsp_transport tcp: decodes ${VIDEO_FRAMES} H.264 frames`,
    run: async (c) => {
      const [r, setups] = await setupsDuring(c.server, () =>
        runFfmpegRtspClient(c.lab, 'client', { url: videoUrl(c.server), transport: 'tcp', frames: VIDEO_FRAMES, timeoutS: RECEIVE_TIMEOUT_S }));
      expect(setups.map((s) => /^RTP\/AVP\/TCP;unicast;interleaved=0-1/.test(s.request ?? ''))).toEqual([true]);
      expectFfmpegVideo(r);
    },
  },
];

function caseTests(gateway: Gateway, lab: () => Lab, server: () => RtspServer): void {
  for (const c of CASES) {
    it(c.title(gateway), () => c.run({ lab: lab(), server: server(), gateway }));
  }
}

/** The RTSP server in the lab's server namespace for the tests of one block. */
function useRtspServer(lab: () => Lab): () => RtspServer {
  let server: RtspServer | undefined;
  beforeAll(async () => {
    server = await startRtspServer(lab());
  }, 30_000);
  return () => {
    if (!server) throw new Error('the RTSP server did not start (see beforeAll)');
    return server;
  };
}


/** What is missing to run the peers: the RTSP peers the soak needs too, and conntrack for the two-clients case. */
const missingPeers = (): string[] => [...missingRtspPeers(findTool), ...(findTool('conntrack') === undefined ? ['conntrack'] : [])];

/** describeLab when the peers are installed. */
function describeRtspLab(title: string, fn: () => void): void {
  describeLabNeeding(missingPeers, title, fn);
}

interface Status {
  plugins: { name: string; state: string; counters: Record<string, number>; failures: Record<string, number>; sessions: number }[];
  sessions: { id: string }[];
  engine: {
    redirects: string[];
    mappings: { id: number; owner: string; mapping: string; active: boolean; uses: number }[];
    counters: { mappingsCreated: number; mappingsEnded: number; drops: Record<string, number> };
  };
}

const rtspPlugin = (s: Status): Status['plugins'][number] => s.plugins.find((p) => p.name === 'rtsp')!;

/** Polls algd's status until no session and no active mapping is left, at most `timeoutMs`. */
async function untilQuiet(status: () => Promise<Status>, timeoutMs: number): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  let s = await status();
  while ((s.sessions.length > 0 || s.engine.mappings.some((m) => m.active)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    s = await status();
  }
  return s;
}

describeRtspLab('RTSP through algd (nfqueue driver, RTSP plugin): GStreamer server, rtspsrc and ffmpeg clients', () => {
  const lab = useLab({ name: 'rtspalgd', secondClient: true });
  const server = useRtspServer(lab);
  const algd = useLabAlgd(lab, 'rtsp', () => ({
    adapters: [
      { name: GATEWAY_PRIVATE_IFACE, type: 'private' },
      { name: GATEWAY_PRIVATE2_IFACE, type: 'private' },
      { name: GATEWAY_PUBLIC_IFACE, type: 'boundary' },
    ],
    plugins: { rtsp: { enabled: true }, ftp: { enabled: false }, sip: { enabled: false } },
  }));
  const status = (): Promise<Status> => algd.status<Status>();

  it('algd captures RTSP on port 554', async () => {
    const s = await status();
    expect(rtspPlugin(s).state).toBe('enabled');
    expect(s.engine.redirects.filter((r) => r.startsWith('tcp port 554 (IPv4)'))).toHaveLength(1);
  });

  caseTests('algd', lab, server);

  it('maps each UDP stream of a session while it plays, and after TEARDOWN no session and no active mapping is left', async () => {
    const before = await untilQuiet(status, 10_000);
    const teardowns = server().teardowns().length;
    let during: Status | undefined;
    const client = gst({ lab: lab(), server: server(), gateway: 'algd' }, 'client', { url: avUrl(server()), protocols: 'udp', natMethod: 'none', want: { video: VIDEO_FRAMES, audio: AUDIO_BUFFERS } }, true);
    // While the client plays: the session's mappings are there.
    const deadline = Date.now() + RECEIVE_TIMEOUT_S * 1000;
    while (Date.now() < deadline) {
      const s = await status();
      if (s.engine.mappings.filter((m) => m.active && /^rtsp-/.test(m.owner)).length >= 4) {
        during = s;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await client;
    expectVideo(r);
    expect(during?.sessions).toHaveLength(1);
    // RTP and RTCP of video and audio: each from the server only, to one of the ports the client listened on, on even/odd public pairs.
    const mapped = (during?.engine.mappings ?? []).filter((m) => m.active).map((m) => {
      const parts = /^udp 198\.51\.100\.2:(\d+) <-> 203\.0\.113\.1:(\d+) both remote 203\.0\.113\.2:\d+$/.exec(m.mapping);
      if (!parts) throw new Error(`unexpected mapping ${m.mapping}`);
      return { client: Number(parts[1]), public: Number(parts[2]) };
    });
    expect(mapped.map((m) => m.client).sort()).toEqual([...r.ports].sort());
    const publicPorts = mapped.map((m) => m.public).sort((a, b) => a - b);
    expect([publicPorts[0]! % 2, publicPorts[1]! - publicPorts[0]!, publicPorts[2]! % 2, publicPorts[3]! - publicPorts[2]!]).toEqual([0, 1, 0, 1]);
    await until('the server to see the TEARDOWN', () => server().teardowns().length > teardowns, 5_000);
    expect(server().teardowns().slice(teardowns)).toEqual([GATEWAY_PUBLIC_V4]);
    const after = await untilQuiet(status, 10_000);
    expect(after.sessions).toEqual([]);
    // Nothing active; whatever the plugin opened (a stream's channel may be replaced when the reply names the server's ports) has ended.
    expect(after.engine.mappings.filter((m) => m.active)).toEqual([]);
    expect(after.engine.counters.mappingsCreated - before.engine.counters.mappingsCreated).toBeGreaterThanOrEqual(4);
    expect(after.engine.counters.mappingsEnded).toBe(after.engine.counters.mappingsCreated);
    const delta = (name: string): number => (rtspPlugin(after).counters[name] ?? 0) - (rtspPlugin(before).counters[name] ?? 0);
    expect([delta('teardown'), delta('stream-mapped')]).toEqual([1, 2]);
    expect(Object.values(rtspPlugin(after).failures).every((n) => n === 0)).toBe(true);
  });

  it('removes the mappings on TEARDOWN itself, while the control connection is still open (a hand-driven session)', async () => {
    await untilQuiet(status, 10_000);
    const clientPort = 42000;
    const session = startRawRtspSession(lab(), 'client', { url: videoUrl(server()), clientPort, rtpPackets: 20, timeoutS: RECEIVE_TIMEOUT_S });
    try {
      const playing = await session.playing();
      expect(playing.rtp).toBe(20);
      // The reply is rewritten back: the client reads its own ports.
      expect(clientPorts(playing.transport)).toBe(`${clientPort}-${clientPort + 1}`);
      const open = await status();
      expect(open.sessions).toHaveLength(1);
      expect(open.engine.mappings.filter((m) => m.active).map((m) => m.mapping.replace(/:\d+ both/, ':P both').replace(/remote 203\.0\.113\.2:\d+$/, 'remote 203.0.113.2:S')).sort()).toEqual([
        `udp 198.51.100.2:${clientPort} <-> 203.0.113.1:P both remote 203.0.113.2:S`,
        `udp 198.51.100.2:${clientPort + 1} <-> 203.0.113.1:P both remote 203.0.113.2:S`,
      ]);
      await session.teardown();
      let tornDown = await status();
      for (let i = 0; i < 20 && tornDown.engine.mappings.some((m) => m.active); i++) {
        await new Promise((r) => setTimeout(r, 100));
        tornDown = await status();
      }
      expect(tornDown.sessions).toHaveLength(1);
      expect(tornDown.engine.mappings.filter((m) => m.active)).toEqual([]);
    } finally {
      await session.close();
    }
    expect((await untilQuiet(status, 10_000)).sessions).toEqual([]);
  });
});

describeRtspLab('RTSP through the masquerade alone (no ALG; the kernel has no RTSP helper): clients that do not punch holes get nothing', () => {
  const lab = useLab({ name: 'rtspnone', secondClient: true });
  const server = useRtspServer(lab);

  it('the gateway runs no helper and no algd', async () => {
    const rules = (await lab().execOk('gateway', ['nft', 'list', 'ruleset'])).stdout;
    expect(rules).not.toContain('ct helper');
    expect(rules).not.toMatch(/algd(?!_lab)/);
  });

  caseTests('masquerade', lab, server);
});

describeRtspLab('RTSP routed without NAT: every case receives, proving the tests', () => {
  const lab = useLab({ name: 'rtsproute', routing: true, secondClient: true });
  const server = useRtspServer(lab);

  caseTests('routing', lab, server);
});
