/**
 * SIP end to end with sipp as the user agents: a phone behind the gateway
 * (the client, 198.51.100.2) and a UA or registrar on the public side (the
 * server, 203.0.113.2), SIP on port 5060 on both sides, RTP played by sipp
 * from the pcaps it ships and counted where it arrives (nftables counters
 * in the receiving namespace). The cases:
 *
 * - the phone calls out over UDP and over TCP; both sides play speech;
 *   the far side hangs up, over UDP with its BYE sent to the Contact the
 *   INVITE carried (sipp `setdest`), over TCP on the connection;
 * - the phone REGISTERs; the registrar then calls it at the registered
 *   Contact, both play speech, the registrar hangs up;
 * - 50 calls one after another from one phone, and 10 at once from ten
 *   sockets (ten phones), each playing a DTMF digit both ways.
 *
 * The same cases run through three gateways, each in its own lab:
 *
 * 1. algd (`algd start`, nfqueue driver, SIP plugin): everything arrives,
 *    and afterwards no mapping is left active (`algd status`).
 * 2. the kernel's own SIP ALG (nf_conntrack_sip / nf_nat_sip through
 *    `ct helper "sip"` on UDP and TCP 5060), no algd: everything arrives.
 *    This proves the tests.
 * 3. no ALG (the masquerade alone): the far side sees the phone's private
 *    address in Contact and SDP; its RTP and its BYE to the Contact cannot
 *    arrive, nor can the registrar's INVITE. This proves the checks fail
 *    without an ALG.
 */

import { port, type Port } from '@algd/sdk';

import { CLIENT_V4, GATEWAY_PUBLIC_V4, SERVER_V4 } from '../../host/lab/addresses';
import type { Lab } from '../../host/lab/lab';
import {
  SIPP_DTMF_PCAP, SIPP_LAB_PORTS, SIPP_SPEECH_PCAP, sippIncomingCall, sippOutgoingCall, stepCount,
  type SippCallOutcome, type SippResult,
} from '../../host/lab/sipp';
import { describeLabNeeding, useLab } from '../lab/require-lab';
import { installKernelAlg, kernelAlgTable, removeKernelAlg } from '../../host/lab/kernel-alg';
import { useLabAlgd } from '../support/lab-algd';

jest.setTimeout(90_000);

/** The far side holds a speech call this long after it starts playing (the pcap lasts 7.05 s). */
const SPEECH_HOLD_MS = 8_000;
/** A short call's hold (the DTMF digit lasts 0.14 s). */
const SHORT_HOLD_MS = 300;
/** Held long enough for all ten concurrent calls to be up together. */
const CONCURRENT_HOLD_MS = 2_000;
/** Where a call should work: sipp's own limit per run (a speech call takes about 8 s). */
const CALL_TIMEOUT_S = 30;
/** Where a call is expected to fail: the side left waiting gives up after this. */
const FAILING_TIMEOUT_S = 15;
const SEQUENTIAL_CALLS = 50;
const CONCURRENT_CALLS = 10;

/** `text` as a literal in a regular expression. */
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const PUBLIC_CONTACT = new RegExp(`^${escape(GATEWAY_PUBLIC_V4)}:\\d+$`);
const PRIVATE_CONTACT = `${CLIENT_V4}:${SIPP_LAB_PORTS.sip}`;
const PRIVATE_SDP = `${CLIENT_V4}:${SIPP_LAB_PORTS.phoneMedia}`;

/**
 * Media ports of each working case, apart from the others': a case's RTP
 * flows outlive its calls in the gateway, and only the case about a reused
 * media port should meet an earlier call's flow.
 */
const MEDIA: Readonly<Record<string, { phone: Port; server: Port }>> = {
  udp: { phone: port(6000), server: port(20000) },
  tcp: { phone: port(6100), server: port(20100) },
  incoming: { phone: port(6200), server: port(20200) },
  sequential: { phone: port(7000), server: port(21000) },
  concurrent: { phone: port(8000), server: port(22000) },
  reused: { phone: port(9000), server: port(23000) },
};

/** sipp's view, for failure messages. */
const describeRun = (what: string, r: SippResult): string =>
  `${what}: exit ${JSON.stringify(r.exit)}, ${r.successfulCalls} ok / ${r.failedCalls} failed, steps ${JSON.stringify(r.steps.map((s) => `${s.direction === 'sent' ? '>' : '<'}${s.message}:${s.count}`))}, seen ${JSON.stringify(r.seen)}\nerrors: ${r.errors.slice(-2000)}`;

/** Every call succeeded on both sides (sipp's exit code and counts). */
function expectAllCallsOk(o: SippCallOutcome, calls: number): void {
  const report = `${describeRun('phone', o.phone)}\n${describeRun('far side', o.far)}`;
  if (o.phone.exit.code !== 0 || o.far.exit.code !== 0) throw new Error(`a call failed\n${report}`);
  expect(o.phone.successfulCalls).toBe(calls);
  expect(o.far.successfulCalls).toBe(calls);
  expect(o.phone.failedCalls).toBe(0);
  expect(o.far.failedCalls).toBe(0);
}

/** RTP arrived in both directions: every packet each side played reached the other. */
function expectMediaBothWays(o: SippCallOutcome): void {
  expect(o.rtpPlayedEach).toBeGreaterThan(0);
  expect({ atServer: o.rtpAtServer, atPhone: o.rtpAtPhone }).toEqual({ atServer: o.rtpPlayedEach, atPhone: o.rtpPlayedEach });
}

/** The far side's BYE reached the phone and was answered, once per call. */
function expectByeFromFarSide(o: SippCallOutcome, calls: number): void {
  expect(stepCount(o.phone, 'received', 'BYE')).toBe(calls);
  expect(stepCount(o.phone, 'sent', '200')).toBeGreaterThanOrEqual(calls);
  expect(stepCount(o.far, 'sent', 'BYE')).toBe(calls);
  // The far side's last step: the 200 answering its BYE.
  expect(o.far.steps.at(-1)).toMatchObject({ direction: 'received', message: '200', count: calls });
}

interface WorkingCaseOptions {
  /** Run after each case (algd: its status). */
  readonly check?: (what: string, calls: number) => Promise<void>;
}

/** The cases with an ALG on the gateway: every call works, with media both ways. */
function workingCases(lab: () => Lab, after?: WorkingCaseOptions): void {
  it('a call out over UDP: the far side sees the gateway in Contact and SDP, RTP arrives both ways, its BYE to the Contact reaches the phone', async () => {
    const o = await sippOutgoingCall(lab(), { name: 'udp-call', transport: 'udp', mediaPorts: MEDIA['udp'], pcap: SIPP_SPEECH_PCAP, holdMs: SPEECH_HOLD_MS, timeoutS: CALL_TIMEOUT_S });
    expectAllCallsOk(o, 1);
    expect(o.far.seen['contact']).toEqual([expect.stringMatching(PUBLIC_CONTACT)]);
    expect(o.far.seen['sdp']).toEqual([expect.stringMatching(PUBLIC_CONTACT)]);
    expectMediaBothWays(o);
    expectByeFromFarSide(o, 1);
    await after?.check?.('udp-call', 1);
  });

  it('a call out over TCP: the far side sees the gateway in Contact and SDP, RTP arrives both ways, its BYE on the connection reaches the phone', async () => {
    const o = await sippOutgoingCall(lab(), { name: 'tcp-call', transport: 'tcp', mediaPorts: MEDIA['tcp'], pcap: SIPP_SPEECH_PCAP, holdMs: SPEECH_HOLD_MS, timeoutS: CALL_TIMEOUT_S });
    expectAllCallsOk(o, 1);
    expect(o.far.seen['contact']).toEqual([expect.stringMatching(PUBLIC_CONTACT)]);
    expect(o.far.seen['sdp']).toEqual([expect.stringMatching(PUBLIC_CONTACT)]);
    expectMediaBothWays(o);
    expectByeFromFarSide(o, 1);
    await after?.check?.('tcp-call', 1);
  });

  it('an incoming call after REGISTER: the registrar\'s INVITE to the registered Contact reaches the phone, RTP arrives both ways, the BYE is answered', async () => {
    const o = await sippIncomingCall(lab(), { name: 'incoming', mediaPorts: MEDIA['incoming'], pcap: SIPP_SPEECH_PCAP, holdMs: SPEECH_HOLD_MS, timeoutS: CALL_TIMEOUT_S });
    expectAllCallsOk(o, 1);
    expect(o.far.seen['contact']).toEqual([expect.stringMatching(PUBLIC_CONTACT)]);
    // The phone's answer, as the registrar saw it.
    expect(o.far.seen['sdp']).toEqual([expect.stringMatching(PUBLIC_CONTACT)]);
    expect(stepCount(o.phone, 'received', 'INVITE')).toBe(1);
    expectMediaBothWays(o);
    expectByeFromFarSide(o, 1);
    await after?.check?.('incoming', 1);
  });

  it(`${SEQUENTIAL_CALLS} calls one after another from one phone, each with RTP both ways and the far side's BYE`, async () => {
    const o = await sippOutgoingCall(lab(), { name: 'sequential', transport: 'udp', mediaPorts: MEDIA['sequential'], calls: SEQUENTIAL_CALLS, pcap: SIPP_DTMF_PCAP, holdMs: SHORT_HOLD_MS, timeoutS: 90 });
    expectAllCallsOk(o, SEQUENTIAL_CALLS);
    expect(o.far.peakCalls).toBe(1);
    expect(o.far.seen['contact']).toHaveLength(SEQUENTIAL_CALLS);
    for (const c of o.far.seen['contact'] ?? []) expect(c).toMatch(PUBLIC_CONTACT);
    expectMediaBothWays(o);
    expectByeFromFarSide(o, SEQUENTIAL_CALLS);
    await after?.check?.('sequential', SEQUENTIAL_CALLS);
  }, 120_000);

  it(`${CONCURRENT_CALLS} calls at once from ${CONCURRENT_CALLS} sockets (phones), each with RTP both ways and the far side's BYE`, async () => {
    const o = await sippOutgoingCall(lab(), { name: 'concurrent', transport: 'udp', mediaPorts: MEDIA['concurrent'], calls: CONCURRENT_CALLS, concurrency: CONCURRENT_CALLS, socketPerCall: true, pcap: SIPP_DTMF_PCAP, holdMs: CONCURRENT_HOLD_MS, timeoutS: CALL_TIMEOUT_S });
    expectAllCallsOk(o, CONCURRENT_CALLS);
    expect(o.far.peakCalls).toBe(CONCURRENT_CALLS);
    // Ten phones: ten different Contacts, each the gateway's.
    expect(new Set(o.far.seen['contact']).size).toBe(CONCURRENT_CALLS);
    for (const c of o.far.seen['contact'] ?? []) expect(c).toMatch(PUBLIC_CONTACT);
    expectMediaBothWays(o);
    expectByeFromFarSide(o, CONCURRENT_CALLS);
    await after?.check?.('concurrent', CONCURRENT_CALLS);
  });

  // A phone with a fixed RTP port calls the same media endpoint twice in a row: the second call's media must flow too.
  const reusedTitle = 'two calls in a row from the same RTP port to the same far media port: RTP arrives both ways in the second call too';
  it(reusedTitle, async () => {
    for (const n of [1, 2]) {
      const o = await sippOutgoingCall(lab(), { name: `reused-${n}`, transport: 'udp', mediaPorts: MEDIA['reused'], pcap: SIPP_DTMF_PCAP, holdMs: SHORT_HOLD_MS, timeoutS: CALL_TIMEOUT_S });
      expectAllCallsOk(o, 1);
      expect({ call: n, atServer: o.rtpAtServer, atPhone: o.rtpAtPhone }).toEqual({ call: n, atServer: o.rtpPlayedEach, atPhone: o.rtpPlayedEach });
      expectByeFromFarSide(o, 1);
    }
  });
}

/** describeLab when sipp (Debian sip-tester) is installed. */
function describeSipLab(title: string, fn: () => void): void {
  describeLabNeeding(['sipp'], title, fn);
}

interface Status {
  plugins: { name: string; state: string; counters: Record<string, number>; failures: Record<string, number> }[];
  sessions: { id: string; protocol: string }[];
  engine: {
    mappings: { id: number; owner: string; mapping: string; active: boolean; liveFlows: number }[];
    counters: { mappingsCreated: number; mappingsEnded: number; drops: Record<string, number> };
  };
}

/**
 * The phone's registration pinhole: its SIP endpoint reachable from the
 * registrar, carried by its relay session, as long as the registration
 * lasts (the phone registered for 300 s). It belongs to the registration,
 * not to a call, so it rightly outlives the calls.
 */
const REGISTRATION_PINHOLE = new RegExp(`^udp ${escape(`${CLIENT_V4}:${SIPP_LAB_PORTS.sip}`)} <-> ${escape(GATEWAY_PUBLIC_V4)}:\\d+ inbound remote ${escape(`${SERVER_V4}:${SIPP_LAB_PORTS.sip}`)} carried by its session$`);

/** Active mappings other than the registration's pinhole: what calls left behind. */
const callMappingsLeft = (s: Status): string[] => s.engine.mappings.filter((m) => m.active && !REGISTRATION_PINHOLE.test(m.mapping)).map((m) => `${m.owner} ${m.mapping}`);

/** Polls algd's status until no call's mapping is active, at most `timeoutMs`. */
async function untilCallMappingsEnd(status: () => Promise<Status>, timeoutMs: number): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  let s = await status();
  while (callMappingsLeft(s).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    s = await status();
  }
  return s;
}


describeSipLab('SIP through algd (nfqueue driver, SIP plugin): sipp on both sides', () => {
  const lab = useLab({ name: 'sipalgd' });
  const algd = useLabAlgd(lab, 'sip', () => ({ plugins: { sip: { enabled: true }, ftp: { enabled: false }, rtsp: { enabled: false } } }));
  const status = (): Promise<Status> => algd.status<Status>();
  let before: Status;

  it('algd runs the SIP plugin on UDP and TCP 5060', async () => {
    before = await status();
    expect(before.plugins.find((p) => p.name === 'sip')?.state).toBe('enabled');
    expect(before.engine.mappings).toEqual([]);
  });

  let last: Status | undefined;
  workingCases(lab, {
    // After each case: every mapping its calls made has ended (BYE removes the media channels); none is left active.
    check: async (what, calls) => {
      const prev = last ?? before;
      const s = await untilCallMappingsEnd(status, 5_000);
      last = s;
      const created = s.engine.counters.mappingsCreated - prev.engine.counters.mappingsCreated;
      const ended = s.engine.counters.mappingsEnded - prev.engine.counters.mappingsEnded;
      // RTP and RTCP for the phone's media in every call, at least.
      expect({ what, createdAtLeast: 2 * calls, created: Math.min(created, 2 * calls) }).toEqual({ what, createdAtLeast: 2 * calls, created: 2 * calls });
      expect(callMappingsLeft(s)).toEqual([]);
      // The registration's pinhole stays (it is the one mapping of the case not ended).
      const registrations = what === 'incoming' ? 1 : 0;
      expect({ what, ended }).toEqual({ what, ended: created - registrations });
    },
  });

  it('status: the plugin never failed, no call left a mapping active, nothing was dropped', async () => {
    const s = await untilCallMappingsEnd(status, 5_000);
    const sip = s.plugins.find((p) => p.name === 'sip')!;
    expect(sip.state).toBe('enabled');
    expect(Object.values(sip.failures).every((n) => n === 0)).toBe(true);
    expect(callMappingsLeft(s)).toEqual([]);
    expect(s.engine.mappings.filter((m) => m.active).map((m) => m.mapping)).toEqual([expect.stringMatching(REGISTRATION_PINHOLE)]);
    for (const m of s.engine.mappings) expect(m.owner).toMatch(/^sip-\d+$/);
    expect(s.engine.counters.drops).toEqual({});
  });
});

describeSipLab('SIP through the kernel\'s own SIP ALG (ct helper "sip", no algd): the same calls, the reference', () => {
  const lab = useLab({ name: 'sipkern' });
  describe('the helper installed on the gateway', () => {
    beforeAll(async () => {
      await installKernelAlg(lab(), 'sip');
    });
    afterAll(async () => {
      await removeKernelAlg(lab(), 'sip');
      expect((await lab().execOk('gateway', ['nft', 'list', 'ruleset'])).stdout).not.toContain('ct helper');
    });

    it('the gateway runs the helper on UDP and TCP 5060, and no algd', async () => {
      const rules = (await lab().execOk('gateway', ['nft', 'list', 'ruleset'])).stdout;
      const table = kernelAlgTable('sip');
      expect(rules).toContain(`table ${table.family} ${table.name}`);
      expect(rules).toMatch(/udp dport 5060 ct helper set "sip-udp"/);
      expect(rules).toMatch(/tcp dport 5060 ct helper set "sip-tcp"/);
      expect(rules).not.toMatch(/algd(?!_lab)/);
    });

    workingCases(lab);
  });
});

describeSipLab('SIP through the masquerade alone (no ALG): the far side\'s media, its BYE to the Contact and the incoming call must fail', () => {
  const lab = useLab({ name: 'sipnone' });

  it('the gateway has no SIP helper and no algd', async () => {
    const rules = (await lab().execOk('gateway', ['nft', 'list', 'ruleset'])).stdout;
    expect(rules).not.toContain('ct helper');
    expect(rules).not.toMatch(/algd(?!_lab)/);
  });

  it('a call out over UDP: the far side sees the private Contact and SDP; its RTP and its BYE never reach the phone; the phone\'s RTP does arrive', async () => {
    const o = await sippOutgoingCall(lab(), { name: 'udp-call', transport: 'udp', pcap: SIPP_SPEECH_PCAP, holdMs: SPEECH_HOLD_MS, timeoutS: FAILING_TIMEOUT_S });
    expect(o.far.seen['contact']).toEqual([PRIVATE_CONTACT]);
    expect(o.far.seen['sdp']).toEqual([PRIVATE_SDP]);
    // The call was set up (the answer came back through the masquerade) ...
    expect(stepCount(o.phone, 'received', '200')).toBe(1);
    // ... the phone's RTP left through the masquerade, the far side's went to an address it cannot reach ...
    expect(o.rtpAtServer).toBe(o.rtpPlayedEach);
    expect(o.rtpAtPhone).toBe(0);
    // ... and so did its BYE: the phone never got it, both sides count the call as failed.
    expect(stepCount(o.phone, 'received', 'BYE')).toBe(0);
    expect(o.phone.successfulCalls).toBe(0);
    expect(o.far.successfulCalls).toBe(0);
    expect(o.phone.exit.code).not.toBe(0);
    expect(o.far.exit.code).not.toBe(0);
  });

  it('a call out over TCP: the far side sees the private Contact and SDP; its RTP never reaches the phone (its BYE returns on the connection)', async () => {
    const o = await sippOutgoingCall(lab(), { name: 'tcp-call', transport: 'tcp', pcap: SIPP_SPEECH_PCAP, holdMs: SPEECH_HOLD_MS, timeoutS: FAILING_TIMEOUT_S });
    expect(o.far.seen['contact']).toEqual([PRIVATE_CONTACT]);
    expect(o.far.seen['sdp']).toEqual([PRIVATE_SDP]);
    expect(o.rtpAtServer).toBe(o.rtpPlayedEach);
    expect(o.rtpAtPhone).toBe(0);
  });

  it('an incoming call after REGISTER: the registrar sees the private Contact, and its INVITE there never reaches the phone', async () => {
    const o = await sippIncomingCall(lab(), { name: 'incoming', pcap: SIPP_SPEECH_PCAP, holdMs: SPEECH_HOLD_MS, timeoutS: FAILING_TIMEOUT_S });
    expect(o.far.seen['contact']).toEqual([PRIVATE_CONTACT]);
    // The registration itself works (its answer comes back through the masquerade) ...
    expect(stepCount(o.phone, 'received', '200')).toBe(1);
    // ... the call to the registered Contact does not.
    expect(stepCount(o.phone, 'received', 'INVITE')).toBe(0);
    expect(o.rtpAtPhone).toBe(0);
    expect(o.rtpAtServer).toBe(0);
    expect(o.phone.successfulCalls).toBe(0);
    expect(o.far.successfulCalls).toBe(0);
  });
});
