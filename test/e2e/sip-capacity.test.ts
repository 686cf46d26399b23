/**
 * SIP calls through algd with a small mapping-port pool: each call from a
 * UDP socket of its own (sipp `-t un`, as phones or a proxy that open a
 * socket per call), more calls than the pool could hold if a call's ports
 * stayed held after it ended.
 *
 * Each call takes three ports of the pool while it is up: its signalling
 * session's relay port and an even/odd pair for its RTP and RTCP. At its
 * BYE the plugin closes the media channels with their flows (the pair is
 * free at once), and the session, holding no call and no registration,
 * ends after 5 s without a message instead of the host's 120 s (its relay
 * port then is free too). Kept until the idle timeouts (120 s for the
 * session, 180 s for an answered RTP flow), 45 calls would need at least
 * 90 ports; the pool has 40.
 */

import { port } from '@algd/sdk';

import { SIPP_DTMF_PCAP, sippOutgoingCall, type SippResult } from '../../host/lab/sipp';
import { describeLabNeeding, useLab } from '../lab/require-lab';
import { useLabAlgd } from '../support/lab-algd';

jest.setTimeout(60_000);

const POOL = { from: 61000, to: 61039 } as const;
const POOL_SIZE = POOL.to - POOL.from + 1;
const CALLS = 45;
/** New calls a second: at most about 2 × (5 s + a call) sessions linger at once. */
const RATE = 2;
const CONCURRENCY = 2;
/** The far side holds each call this long after it starts playing (the DTMF digit lasts 0.14 s). */
const HOLD_MS = 300;
/** The SIP plugin's idle timeout for a session whose last call ended (RFC 3261's T4), plus the host's once-a-second sweep. */
const QUIET_CLOSE_MS = 5_000 + 1_000;

interface Status {
  mappingPortsHeld: number;
  mappingPorts: { from: number; to: number };
  sessions: { id: string }[];
  sessionsEnded: Record<string, number>;
  plugins: { name: string; counters: Record<string, number>; failures: Record<string, number> }[];
  engine: { mappings: { owner: string; mapping: string; active: boolean; liveFlows: number }[]; counters: { drops: Record<string, number> } };
}

const describeRun = (what: string, r: SippResult): string =>
  `${what}: exit ${JSON.stringify(r.exit)}, ${r.successfulCalls} ok / ${r.failedCalls} failed, steps ${JSON.stringify(r.steps.map((s) => `${s.direction === 'sent' ? '>' : '<'}${s.message}:${s.count}`))}\nerrors: ${r.errors.slice(-1500)}`;

describeLabNeeding(['sipp'], `SIP through algd with a ${POOL_SIZE}-port mapping pool: ${CALLS} calls, each from a socket of its own`, () => {
  const lab = useLab({ name: 'sipcap' });
  const algd = useLabAlgd(lab, 'sipcap', () => ({ mappingPorts: POOL, plugins: { sip: { enabled: true }, ftp: { enabled: false }, rtsp: { enabled: false } } }));
  const status = (): Promise<Status> => algd.status<Status>();

  it(`completes every call and gives every port back: the media's at the BYE, the session's ${QUIET_CLOSE_MS / 1000} s later`, async () => {
    const before = await status();
    expect(before.mappingPorts).toEqual(POOL);
    expect(before.mappingPortsHeld).toBe(0);

    // The pool's use while the calls run, sampled.
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await status()).mappingPortsHeld);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    let o: Awaited<ReturnType<typeof sippOutgoingCall>>;
    try {
      o = await sippOutgoingCall(lab(), {
        name: 'capacity', transport: 'udp', mediaPorts: { phone: port(10000), server: port(30000) },
        calls: CALLS, concurrency: CONCURRENCY, rate: RATE, socketPerCall: true, pcap: SIPP_DTMF_PCAP, holdMs: HOLD_MS, timeoutS: 40,
      });
    } finally {
      sampling = false;
      await sampler;
    }
    const ended = Date.now();

    // Every call, with its RTP both ways.
    const report = `${describeRun('phone', o.phone)}\n${describeRun('far side', o.far)}`;
    if (o.phone.exit.code !== 0 || o.far.exit.code !== 0) throw new Error(`a call failed\n${report}`);
    expect({ phone: o.phone.successfulCalls, far: o.far.successfulCalls, failed: o.phone.failedCalls + o.far.failedCalls }).toEqual({ phone: CALLS, far: CALLS, failed: 0 });
    expect({ atServer: o.rtpAtServer, atPhone: o.rtpAtPhone }).toEqual({ atServer: o.rtpPlayedEach, atPhone: o.rtpPlayedEach });

    // Right after the last BYE: no call's mapping is left, active or carrying a flow; only the last sessions linger.
    const after = await status();
    expect(after.engine.mappings.map((m) => `${m.owner} ${m.mapping} active=${String(m.active)} flows=${m.liveFlows}`)).toEqual([]);
    expect(after.mappingPortsHeld).toBe(after.sessions.length);
    expect(after.mappingPortsHeld).toBeLessThan(POOL_SIZE);

    // Within the short idle of the last session, the pool is back where it started.
    let s = after;
    while ((s.mappingPortsHeld > before.mappingPortsHeld || s.sessions.length > 0) && Date.now() - ended < QUIET_CLOSE_MS + 3_000) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      s = await status();
    }
    expect({ held: s.mappingPortsHeld, sessions: s.sessions.length }).toEqual({ held: before.mappingPortsHeld, sessions: 0 });
    // Every call's session ended for being idle (the short timeout), none for another reason. A call whose socket drew
    // the same ephemeral port as a phone socket whose session still lingered (about 1 in 20 runs) is that session's second call.
    expect(Object.keys(s.sessionsEnded)).toEqual(['idle']);
    expect(s.sessionsEnded['idle']).toBeGreaterThanOrEqual(CALLS - 2);
    expect(s.sessionsEnded['idle']).toBeLessThanOrEqual(CALLS);
    const sip = s.plugins.find((p) => p.name === 'sip')!;
    // Nothing was refused for want of a port: every call's media was mapped, every session had its relay port.
    expect({ mapped: sip.counters['media-mapped'], removed: sip.counters['media-removed'], refused: sip.counters['media-channel-refused'] ?? 0, upstreamFailed: sip.counters['upstream-failed'] ?? 0 })
      .toEqual({ mapped: CALLS, removed: CALLS, refused: 0, upstreamFailed: 0 });
    expect(Object.values(sip.failures).every((n) => n === 0)).toBe(true);
    expect(s.engine.mappings).toEqual([]);
    expect(s.engine.counters.drops).toEqual({});
    // What the calls held at once stayed within the pool, far below the 3 ports a call would have kept.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(POOL_SIZE);
  });
});
