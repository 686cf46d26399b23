/**
 * UDP control channels through algd with the windivert driver (the
 * WinDivert-compatible library over NFQUEUE), as an ICS gateway running
 * algd carries them: the SIP plugin over UDP, with sipp on both sides.
 *
 * WinDivert's filter is static, so the host's own datagrams are told from
 * a client's by their source port: the relay's upstream sockets bind in
 * listenerPorts, and the filter captures what arrives there from outside
 * (a registrar's requests to the phone's registered Contact).
 *
 * - A call out over UDP: speech both ways, every RTP packet counted where
 *   it arrives, the far side's BYE to the Contact reaches the phone.
 * - An incoming call after REGISTER: the registrar's INVITE to the
 *   registered Contact (the relay's public port) reaches the phone.
 * - The relay sessions' boundary ports lie in listenerPorts, and nothing
 *   failed, errored or was dropped.
 */

import { port } from '@algd/sdk';

import { GATEWAY_PUBLIC_V4 } from '../../host/lab/addresses';
import { SIPP_SPEECH_PCAP, sippIncomingCall, sippOutgoingCall, stepCount, type SippCallOutcome } from '../../host/lab/sipp';
import { buildCompatLibrary } from '../../host/nat-engine/drivers/windivert/compat-library';
import { describeLabNeeding, useLab } from '../lab/require-lab';
import { useLabAlgd } from '../support/lab-algd';

jest.setTimeout(90_000);

const LISTENER_PORTS = { from: 3000, to: 5000 };
const PUBLIC_CONTACT = new RegExp(`^${GATEWAY_PUBLIC_V4.replace(/\./g, '\\.')}:(\\d+)$`);

interface Status {
  driver: string;
  plugins: { name: string; state: string; failures: Record<string, number> }[];
  sessions: { protocol: string; boundary: string }[];
  engine: { counters: { drops: Record<string, number> } };
  driverStats: { errors: number };
}

/** One call that worked both ways: sipp's counts, the gateway in Contact and SDP, every RTP packet arrived, the far side's BYE answered. */
function expectCallWorked(o: SippCallOutcome): void {
  if (o.phone.exit.code !== 0 || o.far.exit.code !== 0) throw new Error(`the call failed: phone ${JSON.stringify(o.phone.steps)} ${o.phone.errors.slice(-1500)}\nfar ${JSON.stringify(o.far.steps)} ${o.far.errors.slice(-1500)}`);
  expect([o.phone.successfulCalls, o.far.successfulCalls]).toEqual([1, 1]);
  expect(o.far.seen['contact']).toEqual([expect.stringMatching(PUBLIC_CONTACT)]);
  expect(o.far.seen['sdp']).toEqual([expect.stringMatching(PUBLIC_CONTACT)]);
  expect(o.rtpPlayedEach).toBeGreaterThan(0);
  expect({ atServer: o.rtpAtServer, atPhone: o.rtpAtPhone }).toEqual({ atServer: o.rtpPlayedEach, atPhone: o.rtpPlayedEach });
  expect(stepCount(o.phone, 'received', 'BYE')).toBe(1);
}

describeLabNeeding(['gcc', 'sipp'], 'SIP over UDP through algd with the windivert driver (WinDivert-compatible library over NFQUEUE)', () => {
  const lab = useLab({ name: 'wdudp' });
  let library: string;
  beforeAll(() => {
    library = buildCompatLibrary();
  });
  const algd = useLabAlgd(lab, 'wdudp', () => ({
    driver: 'windivert',
    windivert: { path: library },
    listenerPorts: LISTENER_PORTS,
    plugins: { ftp: { enabled: false }, rtsp: { enabled: false }, sip: { enabled: true } },
  }));
  const status = (): Promise<Status> => algd.status<Status>();
  let registeredContactPort: number | undefined;

  it('algd runs the SIP plugin with the windivert driver', async () => {
    const s = await status();
    expect(s.driver).toBe('windivert');
    expect(s.plugins.find((p) => p.name === 'sip')?.state).toBe('enabled');
  });

  it('a call out over UDP: the far side sees the gateway in Contact and SDP, RTP arrives both ways, its BYE to the Contact reaches the phone', async () => {
    const o = await sippOutgoingCall(lab(), { name: 'wd-out', transport: 'udp', mediaPorts: { phone: port(6000), server: port(20000) }, pcap: SIPP_SPEECH_PCAP, holdMs: 8_000, timeoutS: 30 });
    expectCallWorked(o);
  });

  it('an incoming call after REGISTER: the registrar\'s INVITE to the registered Contact (the relay\'s port, in listenerPorts) reaches the phone', async () => {
    const o = await sippIncomingCall(lab(), { name: 'wd-in', mediaPorts: { phone: port(6200), server: port(20200) }, pcap: SIPP_SPEECH_PCAP, holdMs: 8_000, timeoutS: 30 });
    expectCallWorked(o);
    expect(stepCount(o.phone, 'received', 'INVITE')).toBe(1);
    registeredContactPort = Number(PUBLIC_CONTACT.exec(o.far.seen['contact']![0]!)![1]);
    expect(registeredContactPort).toBeGreaterThanOrEqual(LISTENER_PORTS.from);
    expect(registeredContactPort).toBeLessThanOrEqual(LISTENER_PORTS.to);
  });

  it('status: the relay sessions are bound in listenerPorts; no plugin failure, no driver error, no drop', async () => {
    const s = await status();
    const udpBoundaryPorts = s.sessions.filter((x) => x.protocol === 'udp').map((x) => Number(x.boundary.split(':').at(-1)));
    // The registration keeps the phone's session (its pinhole lasts as long as the registration).
    expect(udpBoundaryPorts).toContain(registeredContactPort);
    for (const p of udpBoundaryPorts) expect(p >= LISTENER_PORTS.from && p <= LISTENER_PORTS.to).toBe(true);
    expect(Object.values(s.plugins.find((p) => p.name === 'sip')!.failures).every((n) => n === 0)).toBe(true);
    expect(s.driverStats.errors).toBe(0);
    expect(s.engine.counters.drops).toEqual({});
  });
});
