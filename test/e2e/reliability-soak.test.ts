/**
 * Soak: mixed FTP, SIP and RTSP traffic through algd in the lab for a few
 * minutes, the three side by side, each in its own bounded loop:
 *
 * - FTP: curl downloads, active (PORT) and passive (PASV) in turn, each
 *   whole by its hash;
 * - SIP: sipp runs of three calls from the phone to the far UA, UDP and
 *   TCP in turn, both playing RTP, every call completed on both sides with
 *   every RTP packet arrived both ways and the far side's BYE answered;
 * - RTSP: short sessions with the GStreamer server, rtspsrc without hole
 *   punching (video) and ffmpeg over UDP (audio and video), each decoding
 *   its video frames.
 *
 * Meanwhile algd's resident memory is sampled from /proc/<pid>/status. At
 * the end: memory flat (the last third of the samples within a bound of
 * the first third, after a warm-up), no session and no mapping left, no
 * file descriptor leaked (/proc/<pid>/fd counted after the warm-up and at
 * the end), the plugins' counters matching the traffic (every session
 * torn down, every call's media removed), none failed, no packet dropped.
 *
 * ALGD_SOAK_SECONDS sets the traffic time (default 120, as in CI).
 */

import { startRtspServer, type RtspServer } from '../../host/lab/rtsp-server';
import type { LabProcess } from '../../host/lab/lab-process';
import { describeLabNeeding, useLab } from '../lab/require-lab';
import { startVsftpd, type FtpServer } from '../support/ftp-peers';
import { findTool } from '../support/require-tool';
import {
  SIP_CALLS_PER_RUN, ftpDownloads, ftpIsActive, loopUntil, missingRtspPeers, rtspSessions, rtspStreams, sipCalls,
  type SoakTally, type SoakTraffic,
} from '../support/soak-traffic';
import { algdStatus, fdCount, ftpConfig, pidOf, rssKib, startAlgd, untilQuiet, type AlgdStatus } from '../reliability/lab-gateway';

const SOAK_SECONDS = Number(process.env['ALGD_SOAK_SECONDS'] ?? 120);
if (!Number.isFinite(SOAK_SECONDS) || SOAK_SECONDS < 10) throw new Error(`ALGD_SOAK_SECONDS must be at least 10, not ${process.env['ALGD_SOAK_SECONDS']}`);
/** Warm-up iterations of each kind before the baseline: FTP both modes, SIP both transports, both RTSP session kinds. */
const WARMUP = { ftp: 6, sip: 2, rtsp: 2 } as const;
const SAMPLE_MS = 1_000;
/** The last third's mean RSS may exceed the first third's by this factor plus this many KiB (GC noise), no more. */
const RSS_GROWTH_FACTOR = 1.15;
const RSS_SLACK_KIB = 12 * 1024;
/** Iterations each loop must at least reach per second of soak (a download takes about 0.5 s, a sipp run or an RTSP session 2-3 s). */
const MIN_RATE = { ftp: 1 / 5, sip: 1 / 15, rtsp: 1 / 15 } as const;
/**
 * UDP flows (RTP, RTCP, SIP over UDP) and UDP relay sessions idle out after
 * seconds, not minutes, so that what ended calls and sessions leave goes
 * within the test. No RTP or SIP exchange here pauses that long.
 */
const UDP_IDLE_S = 5;

jest.setTimeout((SOAK_SECONDS + 150) * 1000);

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** What the soak's peers need: the FTP and SIP programs, and the RTSP server's and clients'. */
const missingPeers = (): string[] => [...['vsftpd', 'curl', 'sipp'].filter((p) => findTool(p) === undefined), ...missingRtspPeers(findTool)];

/** `n` iterations of `t`, failing on the first that fails. */
async function warmUp(t: SoakTraffic, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await t.next();
    if (!r.ok) throw new Error(`warm-up ${t.name}: ${r.detail}`);
  }
}

const plugin = (s: AlgdStatus, name: string): AlgdStatus['plugins'][number] => {
  const p = s.plugins.find((x) => x.name === name);
  if (!p) throw new Error(`no plugin ${name} in the status`);
  return p;
};
const counter = (s: AlgdStatus, name: string, key: string): number => plugin(s, name).counters[key] ?? 0;

describeLabNeeding(missingPeers, 'reliability: soak, FTP, SIP and RTSP side by side through algd for ALGD_SOAK_SECONDS', () => {
  const lab = useLab({ name: 'relsoak' });
  let ftpServer: FtpServer;
  let rtspServer: RtspServer;
  let algd: LabProcess;
  let config: string;
  beforeAll(async () => {
    ftpServer = await startVsftpd(lab());
    rtspServer = await startRtspServer(lab());
    config = ftpConfig(lab(), 'soak', {}, {
      plugins: { ftp: { enabled: true }, sip: { enabled: true }, rtsp: { enabled: true } },
      // Closed connections' and idle UDP flows go after seconds, not conntrack's minutes, so their mappings are released within the test.
      flowTimeouts: { tcpFinWait: 5, tcpCloseWait: 5, tcpLastAck: 5, tcpTimeWait: 5, tcpClose: 2, udpUnreplied: UDP_IDLE_S, udpReplied: UDP_IDLE_S },
      sessions: { udpIdleTimeoutMs: UDP_IDLE_S * 1000 },
    });
    algd = await startAlgd(lab(), config);
  }, 60_000);
  afterAll(async () => {
    if (algd?.running) expect((await algd.kill('SIGTERM')).code).toBe(0);
  });

  it('every download whole, every call with RTP both ways, every RTSP session receiving; memory flat, nothing left, no descriptor leaked', async () => {
    const pid = pidOf(algd);
    const ftp = ftpDownloads(lab, () => ftpServer);
    const sip = sipCalls(lab);
    const rtsp = rtspSessions(lab, () => rtspServer);
    await Promise.all([warmUp(ftp, WARMUP.ftp), warmUp(sip, WARMUP.sip), warmUp(rtsp, WARMUP.rtsp)]);
    const warm = await untilQuiet(lab(), config, 20_000);
    expect(warm.sessions).toEqual([]);
    const fdsBefore = fdCount(pid);

    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssKib(pid)), SAMPLE_MS);
    let tallies: SoakTally[];
    const started = Date.now();
    const deadline = started + SOAK_SECONDS * 1000;
    try {
      tallies = await Promise.all([loopUntil(ftp, deadline), loopUntil(sip, deadline), loopUntil(rtsp, deadline)]);
    } finally {
      clearInterval(sampler);
    }
    const trafficS = (Date.now() - started) / 1000;

    const quiet = await untilQuiet(lab(), config, 30_000);
    // Mappings whose last flow is still running (a closing connection, UDP until it idles out) go with it: wait for the list to empty.
    let s = quiet;
    for (let i = 0; i < 40 && s.engine.mappings.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      s = await algdStatus(lab(), config);
    }
    const fdsAfter = fdCount(pid);
    const third = Math.floor(samples.length / 3);
    const first = mean(samples.slice(0, third));
    const last = mean(samples.slice(-third));
    const [ftpTally, sipTally, rtspTally] = tallies;
    process.stderr.write(
      `[soak] ${trafficS.toFixed(0)} s: ${ftpTally!.iterations} downloads, ${sipTally!.iterations} sipp runs (${sipTally!.iterations * SIP_CALLS_PER_RUN} calls), ${rtspTally!.iterations} RTSP sessions; ` +
      `RSS first third ${Math.round(first / 1024)} MiB, last third ${Math.round(last / 1024)} MiB, peak ${Math.round(Math.max(...samples) / 1024)} MiB; fds ${fdsBefore} -> ${fdsAfter}; ` +
      `drops ${JSON.stringify(s.engine.counters.drops)}; sip ${JSON.stringify(plugin(s, 'sip').counters)}; rtsp ${JSON.stringify(plugin(s, 'rtsp').counters)}\n`,
    );

    expect(tallies.flatMap((t) => t.failures)).toEqual([]);
    expect({ ftp: ftpTally!.iterations >= SOAK_SECONDS * MIN_RATE.ftp, sip: sipTally!.iterations >= SOAK_SECONDS * MIN_RATE.sip, rtsp: rtspTally!.iterations >= SOAK_SECONDS * MIN_RATE.rtsp })
      .toEqual({ ftp: true, sip: true, rtsp: true });
    expect(samples.length).toBeGreaterThanOrEqual(third * 3);
    expect(third).toBeGreaterThan(2);
    expect(last).toBeLessThanOrEqual(first * RSS_GROWTH_FACTOR + RSS_SLACK_KIB);
    expect(quiet.sessions).toEqual([]);
    expect(quiet.engine.mappings.filter((m) => m.active)).toEqual([]);
    expect(s.engine.mappings).toEqual([]);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore);

    // The counters match the traffic: every download, call stream and RTSP stream was mapped, and every call's media removed again.
    let active = 0;
    for (let i = 0; i < ftp.iterations; i++) if (ftpIsActive(i)) active++;
    expect({ active: counter(s, 'ftp', 'active-mapped'), passive: counter(s, 'ftp', 'passive-mapped') }).toEqual({ active, passive: ftp.iterations - active });
    const calls = sip.iterations * SIP_CALLS_PER_RUN;
    expect({ mapped: counter(s, 'sip', 'media-mapped'), removed: counter(s, 'sip', 'media-removed') }).toEqual({ mapped: calls, removed: calls });
    expect({ streams: counter(s, 'rtsp', 'stream-mapped'), teardowns: counter(s, 'rtsp', 'teardown') }).toEqual({ streams: rtspStreams(rtsp.iterations), teardowns: rtsp.iterations });
    // Nothing dropped: no malformed packet, no full flow table, no tuple taken by another flow (a phone reusing its RTP port).
    expect(s.engine.counters.drops).toEqual({});
    for (const name of ['ftp', 'sip', 'rtsp']) {
      expect({ name, state: plugin(s, name).state, failures: Object.entries(plugin(s, name).failures).filter(([, n]) => n > 0) }).toEqual({ name, state: 'enabled', failures: [] });
    }
  });
});
