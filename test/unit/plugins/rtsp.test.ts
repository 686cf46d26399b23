/**
 * The RTSP plugin through the SDK test kit: exact bytes each side receives,
 * the port pairs reserved, the data channels created, restricted, renewed
 * and removed, and every refusal or oddity counted.
 */

import { endpoint } from '@algd/sdk';
import { PluginTestSession } from '@algd/sdk/testing';
import rtsp, { DEFAULT_RTSP_OPTIONS, rtspOptions } from '@algd/plugin-rtsp';

const CLIENT = endpoint('198.51.100.2', 40000);
const SERVER = endpoint('203.0.113.2', 554);
const BOUNDARY = endpoint('203.0.113.1', 45000);
type Setup = ConstructorParameters<typeof PluginTestSession>[1];
const session = (extra: Setup = {}) => new PluginTestSession(rtsp, { client: CLIENT, server: SERVER, boundary: BOUNDARY, ...extra });

const URL = 'rtsp://203.0.113.2/cam';
const setup = (cseq: number, transport: string, extra = '') => `SETUP ${URL}/track1 RTSP/1.0\r\nCSeq: ${cseq}\r\n${extra}Transport: ${transport}\r\nUser-Agent: test\r\n\r\n`;
const reply = (cseq: number, transport: string, sessionHeader = 'Session: 12345678;timeout=30') => `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n${sessionHeader}\r\nTransport: ${transport}\r\n\r\n`;

/** A channel as [private port, public port, remote, lifetime, open]. */
const shape = (t: PluginTestSession) => t.dataChannels.map((c) => [c.private.port, c.public.port, c.request.remote, c.request.lifetimeMs, c.open]);

describe('RTSP plugin: SETUP and its reply', () => {
  it('maps client_port a-b to an even/odd public pair, both ways, persistent, and sends the pair on', async () => {
    const t = session();
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001'));
    expect(t.server.text).toBe(setup(3, 'RTP/AVP;unicast;client_port=61000-61001'));
    expect(t.reservations).toMatchObject([{ protocol: 'udp', request: { protocol: 'udp', parity: 'even-odd' }, address: '203.0.113.1', ports: [61000, 61001], released: false }]);
    expect(t.dataChannels.map((c) => c.request)).toEqual([
      { protocol: 'udp', private: { address: '198.51.100.2', port: 5000 }, public: { address: '203.0.113.1', port: 61000 }, remote: { address: '203.0.113.2' }, direction: 'both', persistent: true, lifetimeMs: 70_000 },
      { protocol: 'udp', private: { address: '198.51.100.2', port: 5001 }, public: { address: '203.0.113.1', port: 61001 }, remote: { address: '203.0.113.2' }, direction: 'both', persistent: true, lifetimeMs: 70_000 },
    ]);
    expect(t.counters).toEqual({ 'setup-mapped': 1 });
  });

  it('writes the reply back with the client\'s own ports and restricts the pair to the server\'s source and ports for the session timeout', async () => {
    const t = session();
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001'));
    await t.serverSends(reply(3, 'RTP/AVP;unicast;client_port=61000-61001;server_port=6970-6971;ssrc=1A2B3C4D'));
    expect(t.client.text).toBe(reply(3, 'RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=1A2B3C4D'));
    expect(shape(t)).toEqual([
      [5000, 61000, { address: '203.0.113.2' }, 70_000, false],
      [5001, 61001, { address: '203.0.113.2' }, 70_000, false],
      // Recreated on the same reserved ports: 30 s announced plus 10 s slack.
      [5000, 61000, { address: '203.0.113.2', port: 6970 }, 40_000, true],
      [5001, 61001, { address: '203.0.113.2', port: 6971 }, 40_000, true],
    ]);
    expect(t.dataChannels.slice(0, 2).map((c) => c.endReason)).toEqual(['removed', 'removed']);
    expect(t.reservations[0]!.released).toBe(false);
    expect(t.counters).toEqual({ 'setup-mapped': 1, 'stream-mapped': 1 });
  });

  it('maps a single client port with RTCP on the next, and keeps the single-port form both ways', async () => {
    const t = session();
    await t.clientSends(setup(2, 'RTP/AVP;unicast;client_port=5002'));
    expect(t.server.text).toBe(setup(2, 'RTP/AVP;unicast;client_port=61000'));
    await t.serverSends(reply(2, 'RTP/AVP;unicast;client_port=61000;server_port=7000'));
    expect(t.client.text).toBe(reply(2, 'RTP/AVP;unicast;client_port=5002;server_port=7000'));
    expect(shape(t).slice(2)).toEqual([
      [5002, 61000, { address: '203.0.113.2', port: 7000 }, 40_000, true],
      [5003, 61001, { address: '203.0.113.2', port: 7001 }, 40_000, true],
    ]);
  });

  it('rewrites destination= naming the client to the public address, and back in the reply', async () => {
    const t = session();
    await t.clientSends(setup(4, 'RTP/AVP/UDP;unicast;destination=198.51.100.2;client_port=5000-5001'));
    expect(t.server.text).toBe(setup(4, 'RTP/AVP/UDP;unicast;destination=203.0.113.1;client_port=61000-61001'));
    await t.serverSends(reply(4, 'RTP/AVP/UDP;unicast;destination=203.0.113.1;source=203.0.113.2;client_port=61000-61001;server_port=6970-6971'));
    expect(t.client.text).toBe(reply(4, 'RTP/AVP/UDP;unicast;destination=198.51.100.2;source=203.0.113.2;client_port=5000-5001;server_port=6970-6971'));
  });

  it('leaves an alternative whose destination= names a third party untouched and unmapped, counted', async () => {
    const t = session();
    const request = setup(4, 'RTP/AVP;unicast;destination=192.0.2.9;client_port=5000-5001');
    await t.clientSends(request);
    expect(t.server.text).toBe(request);
    expect(t.dataChannels).toEqual([]);
    expect(t.reservations).toEqual([]);
    expect(t.counters).toEqual({ 'third-party-destination': 1 });
  });

  it('restricts the pair to a source= other than the control connection\'s server', async () => {
    const t = session();
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001'));
    await t.serverSends(reply(3, 'RTP/AVP;unicast;client_port=61000-61001;source=203.0.113.7;server_port=6970-6971'));
    expect(t.client.text).toBe(reply(3, 'RTP/AVP;unicast;client_port=5000-5001;source=203.0.113.7;server_port=6970-6971'));
    expect(shape(t).slice(2).map((c) => c[2])).toEqual([{ address: '203.0.113.7', port: 6970 }, { address: '203.0.113.7', port: 6971 }]);
  });

  it('falls back to the server\'s address for a source= that is a host name, counted', async () => {
    const t = session();
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001'));
    await t.serverSends(reply(3, 'RTP/AVP;unicast;client_port=61000-61001;source=media.example.com;server_port=6970-6971'));
    expect(shape(t).slice(2).map((c) => c[2])).toEqual([{ address: '203.0.113.2', port: 6970 }, { address: '203.0.113.2', port: 6971 }]);
    expect(t.counters['bad-source']).toBe(1);
  });

  it('uses the default 60 s timeout when the Session header announces none, and any port of the server without server_port', async () => {
    const t = session();
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001'));
    await t.serverSends(reply(3, 'RTP/AVP;unicast;client_port=61000-61001', 'Session: abcdef'));
    expect(shape(t).slice(2)).toEqual([
      [5000, 61000, { address: '203.0.113.2' }, 70_000, true],
      [5001, 61001, { address: '203.0.113.2' }, 70_000, true],
    ]);
    expect(t.state?.sessions.get('abcdef')?.timeoutS).toBe(60);
  });

  it('bounds an announced timeout by maxSessionTimeoutS', async () => {
    const t = session({ options: { maxSessionTimeoutS: 120, timeoutSlackMs: 0 } });
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001'));
    await t.serverSends(reply(3, 'RTP/AVP;unicast;client_port=61000-61001', 'Session: abcdef;timeout=99999999'));
    expect(shape(t).slice(2).map((c) => c[3])).toEqual([120_000, 120_000]);
  });

  it('reads header names in any case and rewrites a folded Transport header onto one line', async () => {
    const t = session();
    await t.clientSends(`SETUP ${URL} RTSP/1.0\r\ncseq: 5\r\ntransport: RTP/AVP;unicast;\r\n client_port=5000-5001\r\n\r\n`);
    expect(t.server.text).toBe(`SETUP ${URL} RTSP/1.0\r\ncseq: 5\r\ntransport: RTP/AVP;unicast; client_port=61000-61001\r\n\r\n`);
  });

  it('handles an IPv6 client: the pair on the public IPv6 address, destination= bare or in brackets', async () => {
    const t = session({ client: endpoint('2001:db8:1::2', 40000), server: endpoint('2001:db8:2::2', 554), boundary: endpoint('2001:db8:2::1', 45000) });
    await t.clientSends(setup(3, 'RTP/AVP;unicast;destination=2001:db8:1::2;client_port=5000-5001,RTP/AVP;unicast;destination=[2001:db8:1::2];client_port=5002-5003'));
    expect(t.server.text).toBe(setup(3, 'RTP/AVP;unicast;destination=2001:db8:2::1;client_port=61000-61001,RTP/AVP;unicast;destination=[2001:db8:2::1];client_port=61002-61003'));
    await t.serverSends(reply(3, 'RTP/AVP;unicast;destination=[2001:db8:2::1];client_port=61002-61003;server_port=6970-6971;source=2001:db8:2::2'));
    expect(t.client.text).toBe(reply(3, 'RTP/AVP;unicast;destination=[2001:db8:1::2];client_port=5002-5003;server_port=6970-6971;source=2001:db8:2::2'));
    expect(t.dataChannels.filter((c) => c.open).map((c) => [c.private, c.public, c.request.remote])).toEqual([
      [{ address: '2001:db8:1::2', port: 5002 }, { address: '2001:db8:2::1', port: 61002 }, { address: '2001:db8:2::2', port: 6970 }],
      [{ address: '2001:db8:1::2', port: 5003 }, { address: '2001:db8:2::1', port: 61003 }, { address: '2001:db8:2::2', port: 6971 }],
    ]);
    expect(t.reservations.map((r) => r.released)).toEqual([true, false]);
  });

  it('passes an error reply unchanged and releases what the SETUP held', async () => {
    const t = session();
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001'));
    const refusal = 'RTSP/1.0 461 Unsupported Transport\r\nCSeq: 3\r\n\r\n';
    await t.serverSends(refusal);
    expect(t.client.text).toBe(refusal);
    expect(t.dataChannels.map((c) => c.open)).toEqual([false, false]);
    expect(t.reservations[0]!.released).toBe(true);
    expect(t.state?.pending.size).toBe(0);
    expect(t.counters['setup-failed']).toBe(1);
  });

  it('handles pipelined SETUPs of two tracks and their replies in one chunk each', async () => {
    const t = session();
    const second = `SETUP ${URL}/track2 RTSP/1.0\r\nCSeq: 4\r\nSession: 12345678\r\nTransport: RTP/AVP;unicast;client_port=5002-5003\r\n\r\n`;
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001') + second);
    expect(t.server.text).toBe(setup(3, 'RTP/AVP;unicast;client_port=61000-61001') + second.replace('5002-5003', '61002-61003'));
    await t.serverSends(reply(3, 'RTP/AVP;unicast;client_port=61000-61001;server_port=6970-6971') + reply(4, 'RTP/AVP;unicast;client_port=61002-61003;server_port=6972-6973'));
    expect(t.client.text).toBe(reply(3, 'RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971') + reply(4, 'RTP/AVP;unicast;client_port=5002-5003;server_port=6972-6973'));
    expect(t.state?.sessions.get('12345678')?.streams.map((s) => [s.url, s.publicPorts])).toEqual([[`${URL}/track1`, [61000, 61001]], [`${URL}/track2`, [61002, 61003]]]);
    expect(t.dataChannels.filter((c) => c.open)).toHaveLength(4);
  });

  it('keeps the body of a message byte for byte', async () => {
    const t = session();
    const body = 'v=0\r\no=- 1 1 IN IP4 198.51.100.2\r\nc=IN IP4 198.51.100.2\r\n';
    const announce = `ANNOUNCE ${URL} RTSP/1.0\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    await t.clientSends(announce);
    expect(t.server.text).toBe(announce);
  });
});

describe('RTSP plugin: several alternatives', () => {
  const offer = 'RTP/AVP;unicast;client_port=5000-5001, RTP/AVP;unicast;client_port=5010-5011, RTP/AVP/TCP;unicast;interleaved=0-1';

  it('maps every UDP unicast alternative and passes the TCP one', async () => {
    const t = session();
    await t.clientSends(setup(3, offer));
    expect(t.server.text).toBe(setup(3, 'RTP/AVP;unicast;client_port=61000-61001, RTP/AVP;unicast;client_port=61002-61003, RTP/AVP/TCP;unicast;interleaved=0-1'));
    expect(t.dataChannels.map((c) => [c.private.port, c.public.port])).toEqual([[5000, 61000], [5001, 61001], [5010, 61002], [5011, 61003]]);
    expect(t.counters).toEqual({ 'setup-mapped': 1, 'tcp-passed': 1 });
  });

  it('keeps only the alternative the server chose and releases the others', async () => {
    const t = session();
    await t.clientSends(setup(3, offer));
    await t.serverSends(reply(3, 'RTP/AVP;unicast;client_port=61002-61003;server_port=6970-6971'));
    expect(t.client.text).toBe(reply(3, 'RTP/AVP;unicast;client_port=5010-5011;server_port=6970-6971'));
    expect(t.dataChannels.map((c) => [c.private.port, c.public.port, c.open])).toEqual([
      [5000, 61000, false], [5001, 61001, false], [5010, 61002, false], [5011, 61003, false],
      [5010, 61002, true], [5011, 61003, true],
    ]);
    expect(t.reservations.map((r) => [r.ports, r.released])).toEqual([[[61000, 61001], true], [[61002, 61003], false]]);
  });

  it('releases every UDP alternative when the server chooses interleaved TCP, and passes the reply unchanged', async () => {
    const t = session();
    await t.clientSends(setup(3, offer));
    const chosen = reply(3, 'RTP/AVP/TCP;unicast;interleaved=0-1');
    await t.serverSends(chosen);
    expect(t.client.text).toBe(chosen);
    expect(t.dataChannels.every((c) => !c.open)).toBe(true);
    expect(t.reservations.every((r) => r.released)).toBe(true);
    expect(t.state?.sessions.size).toBe(0);
  });

  it('reads at most maxTransportsPerSetup alternatives and drops the rest, counted', async () => {
    const t = session({ options: { maxTransportsPerSetup: 2 } });
    await t.clientSends(setup(3, `${offer},RTP/AVP;multicast`));
    expect(t.server.text).toBe(setup(3, 'RTP/AVP;unicast;client_port=61000-61001, RTP/AVP;unicast;client_port=61002-61003'));
    expect(t.counters).toEqual({ 'setup-mapped': 1, 'transports-dropped': 2 });
  });
});

describe('RTSP plugin: what passes unchanged', () => {
  it.each([
    ['multicast', 'RTP/AVP;multicast;destination=232.1.2.3;port=5000-5001;ttl=16', 'multicast-passed'],
    ['TCP interleaved', 'RTP/AVP/TCP;unicast;interleaved=0-1', 'tcp-passed'],
    ['UDP without client_port', 'RTP/AVP;unicast', 'unmapped-passed'],
  ])('a %s transport: untouched, unmapped', async (_name, transport, counter) => {
    const t = session();
    await t.clientSends(setup(3, transport));
    expect(t.server.text).toBe(setup(3, transport));
    await t.serverSends(reply(3, transport));
    expect(t.client.text).toBe(reply(3, transport));
    expect(t.dataChannels).toEqual([]);
    expect(t.reservations).toEqual([]);
    expect(t.counters).toEqual({ [counter]: 1 });
  });

  it('passes interleaved $ data untouched in both directions, between messages', async () => {
    const t = session();
    await t.clientSends(setup(3, 'RTP/AVP/TCP;unicast;interleaved=0-1'));
    const rtp = Buffer.concat([Buffer.from([0x24, 0x00, 0x00, 0x0c]), Buffer.from('RTSP/1.0 200', 'latin1')]);
    const rtcp = Buffer.from([0x24, 0x01, 0x00, 0x06, 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0xff]);
    const data = Buffer.concat([rtp, rtcp, Buffer.from(reply(3, 'RTP/AVP/TCP;unicast;interleaved=0-1')), rtp]);
    await t.serverSends(data);
    expect(Buffer.concat(t.client.messages.map((m) => Buffer.from(m)))).toEqual(data);
    await t.clientSends(rtcp);
    expect(t.server.messages.at(-1)).toEqual(new Uint8Array(rtcp));
  });

  it('passes everything of a published server\'s session (client on the public side) unchanged, releasing it', async () => {
    const t = session({ clientSide: 'public' });
    const request = setup(3, 'RTP/AVP;unicast;client_port=5000-5001');
    await t.clientSends(request);
    expect(t.server.text).toBe(request);
    expect(t.released).toBe(true);
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ 'published-released': 1 });
  });

  it('maps nothing for a SETUP without CSeq (its reply could not be matched)', async () => {
    const t = session();
    const request = `SETUP ${URL} RTSP/1.0\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n`;
    await t.clientSends(request);
    expect(t.server.text).toBe(request);
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ 'no-cseq': 1 });
  });

  it.each([
    ['an unbalanced quote', 'RTP/AVP;unicast;mode="PLAY;client_port=5000-5001'],
    ['a port above 65535', 'RTP/AVP;unicast;client_port=70000-70001'],
    ['port 0', 'RTP/AVP;unicast;client_port=0-1'],
    ['a port that is not a number', 'RTP/AVP;unicast;client_port=abc'],
    ['an RTCP port equal to the RTP port', 'RTP/AVP;unicast;client_port=5000-5000'],
    ['a signed port', 'RTP/AVP;unicast;client_port=+5000'],
    ['client_port twice', 'RTP/AVP;unicast;client_port=5000-5001;client_port=6000-6001'],
    ['an empty alternative', 'RTP/AVP;unicast;client_port=5000-5001,,RTP/AVP/TCP'],
    ['a missing profile', 'RTP;unicast;client_port=5000-5001'],
    ['an empty client_port', 'RTP/AVP;unicast;client_port='],
    ['a bad parameter name', 'RTP/AVP;uni cast;client_port=5000-5001'],
  ])('passes a Transport header with %s unchanged, counted', async (_name, transport) => {
    const t = session();
    await t.clientSends(setup(3, transport));
    expect(t.server.text).toBe(setup(3, transport));
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ 'bad-transport': 1 });
  });

  it('passes a SETUP with two Transport headers unchanged, counted (which one the server reads is unknown)', async () => {
    const t = session();
    const request = setup(3, 'RTP/AVP;unicast;client_port=5000-5001', 'Transport: RTP/AVP;unicast;client_port=6000-6001\r\n');
    await t.clientSends(request);
    expect(t.server.text).toBe(request);
    expect(t.counters).toEqual({ 'bad-transport': 1 });
  });

  it.each([
    ['a header line longer than maxLineLength', setup(3, `RTP/AVP;unicast;client_port=5000-5001;x=${'a'.repeat(300)}`), { maxLineLength: 256 }, 'unread-line-too-long'],
    ['more headers than maxHeaderLines', setup(3, 'RTP/AVP;unicast;client_port=5000-5001', 'X-A: 1\r\n'.repeat(10)), { maxHeaderLines: 8 }, 'unread-too-many-headers'],
    ['a NUL in a header', setup(3, 'RTP/AVP;unicast;client_port=5000-5001\x00'), {}, 'unread-bad-header'],
    ['a header line without a colon', setup(3, 'RTP/AVP;unicast;client_port=5000-5001', 'Oops\r\n'), {}, 'unread-bad-header'],
    ['a start line that is not RTSP', 'SETUP rtsp://203.0.113.2/cam HTTP/1.1\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n', {}, 'unread-bad-start-line'],
  ])('leaves a message with %s unread: unchanged, counted', async (_name, message, options, counter) => {
    const t = session({ options });
    await t.clientSends(message);
    expect(t.server.text).toBe(message);
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ [counter]: 1 });
  });
});

describe('RTSP plugin: caps', () => {
  it('answers a SETUP beyond maxStreamsPerSession itself with 453, never forwarded', async () => {
    const t = session({ options: { maxStreamsPerSession: 1 } });
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001'));
    await t.serverSends(reply(3, 'RTP/AVP;unicast;client_port=61000-61001;server_port=6970-6971'));
    const server = t.server.text;
    await t.clientSends(setup(4, 'RTP/AVP;unicast;client_port=5002-5003', 'Session: 12345678\r\n'));
    expect(t.server.text).toBe(server);
    expect(t.client.text.endsWith('RTSP/1.0 453 Not Enough Bandwidth\r\nCSeq: 4\r\n\r\n')).toBe(true);
    expect(t.reservations).toHaveLength(1);
    expect(t.counters['stream-cap-refused']).toBe(1);
  });

  it('counts pending SETUPs against the cap too', async () => {
    const t = session({ options: { maxStreamsPerSession: 1 } });
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001') + setup(4, 'RTP/AVP;unicast;client_port=5002-5003'));
    expect(t.client.text).toBe('RTSP/1.0 453 Not Enough Bandwidth\r\nCSeq: 4\r\n\r\n');
  });

  it('a SETUP the host gives no channels to: the UDP alternative is dropped and a TCP one goes on alone', async () => {
    const t = session({ maxDataChannels: 1 });
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=0-1'));
    expect(t.server.text).toBe(setup(3, 'RTP/AVP/TCP;unicast;interleaved=0-1'));
    // The RTP channel was made, the RTCP one refused: nothing of the stream is left.
    expect(t.dataChannels.map((c) => c.open)).toEqual([false]);
    expect(t.reservations[0]!.released).toBe(true);
    expect(t.counters).toEqual({ 'tcp-passed': 1, 'channel-refused': 1 });
  });

  it('a SETUP with nothing left to offer is answered with 453', async () => {
    const t = session({ maxDataChannels: 0 });
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001'));
    expect(t.server.text).toBe('');
    expect(t.client.text).toBe('RTSP/1.0 453 Not Enough Bandwidth\r\nCSeq: 3\r\n\r\n');
    expect(t.counters).toEqual({ 'setup-unmapped-refused': 1 });
  });
});

describe('RTSP plugin: session lifetime', () => {
  async function playing(t: PluginTestSession): Promise<void> {
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001'));
    await t.serverSends(reply(3, 'RTP/AVP;unicast;client_port=61000-61001;server_port=6970-6971'));
    await t.clientSends(`SETUP ${URL}/track2 RTSP/1.0\r\nCSeq: 4\r\nSession: 12345678\r\nTransport: RTP/AVP;unicast;client_port=5002-5003\r\n\r\n`);
    await t.serverSends(reply(4, 'RTP/AVP;unicast;client_port=61002-61003;server_port=6972-6973'));
  }
  const open = (t: PluginTestSession) => t.dataChannels.filter((c) => c.open).map((c) => [c.private.port, c.public.port, c.request.remote, c.request.lifetimeMs]);

  it.each(['GET_PARAMETER', 'OPTIONS', 'PLAY', 'PAUSE', 'SET_PARAMETER'])('a %s carrying the Session id renews every channel of the session on the same ports', async (method) => {
    const t = session();
    await playing(t);
    const before = open(t);
    const count = t.dataChannels.length;
    // The second SETUP, naming the session, was already a keep-alive.
    expect(t.counters['keepalive-refreshed']).toBe(1);
    const request = `${method} ${URL} RTSP/1.0\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n`;
    await t.clientSends(request);
    expect(t.server.text.endsWith(request)).toBe(true);
    // Renewed in place: no channel removed or created, each of the four renewed once more.
    expect(t.dataChannels).toHaveLength(count);
    expect(open(t)).toEqual(before);
    const lifetimeMs = 40_000; // the announced timeout=30 plus the default 10 s slack
    expect(t.dataChannels.filter((c) => c.open).map((c) => c.renewals)).toEqual([[lifetimeMs, lifetimeMs], [lifetimeMs, lifetimeMs], [lifetimeMs], [lifetimeMs]]);
    expect(t.counters['keepalive-refreshed']).toBe(2);
    expect(t.counters['renew-refused']).toBeUndefined();
  });

  it('a keep-alive after a channel has expired maps that stream again on the same reserved ports', async () => {
    const t = session();
    await playing(t);
    const before = open(t);
    const [rtp] = t.dataChannels.filter((c) => c.open);
    await t.dataChannelEnded(rtp!.id, 'expired');
    const count = t.dataChannels.length;
    await t.clientSends(`GET_PARAMETER ${URL} RTSP/1.0\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n`);
    // The first stream: its RTCP channel removed, both created again; the second stream renewed.
    expect(t.dataChannels).toHaveLength(count + 2);
    expect(t.dataChannels.slice(count).map((c) => [c.private.port, c.public.port, c.open])).toEqual([[5000, 61000, true], [5001, 61001, true]]);
    expect(open(t).sort()).toEqual([...before].sort());
    expect(t.counters['renew-refused']).toBe(1);
    expect(t.counters['keepalive-refreshed']).toBe(2);
  });

  it('a request without a Session id, or with another one, renews nothing', async () => {
    const t = session();
    await playing(t);
    const count = t.dataChannels.length;
    await t.clientSends(`OPTIONS * RTSP/1.0\r\nCSeq: 5\r\n\r\nGET_PARAMETER ${URL} RTSP/1.0\r\nCSeq: 6\r\nSession: 87654321\r\n\r\n`);
    expect(t.dataChannels).toHaveLength(count);
    expect(t.counters['keepalive-refreshed']).toBe(1);
  });

  it('TEARDOWN of the aggregate URL removes every channel of the session and releases its ports', async () => {
    const t = session();
    await playing(t);
    await t.clientSends(`TEARDOWN ${URL} RTSP/1.0\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n`);
    expect(t.dataChannels.filter((c) => c.open)).toEqual([]);
    expect(t.reservations.map((r) => r.released)).toEqual([true, true]);
    expect(t.state?.sessions.size).toBe(0);
    expect(t.counters.teardown).toBe(1);
  });

  it('TEARDOWN of one stream\'s URL removes that stream only', async () => {
    const t = session();
    await playing(t);
    await t.clientSends(`TEARDOWN ${URL}/track1 RTSP/1.0\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n`);
    expect(open(t).map((c) => c[0])).toEqual([5002, 5003]);
    expect(t.reservations.map((r) => r.released)).toEqual([true, false]);
    expect(t.state?.sessions.get('12345678')?.streams.map((s) => s.url)).toEqual([`${URL}/track2`]);
  });

  it('TEARDOWN of another session leaves the channels alone', async () => {
    const t = session();
    await playing(t);
    await t.clientSends(`TEARDOWN ${URL} RTSP/1.0\r\nCSeq: 5\r\nSession: 999\r\n\r\n`);
    expect(open(t)).toHaveLength(4);
  });

  it('the control connection closing ends every channel and reservation (the host does it)', async () => {
    const t = session();
    await playing(t);
    await t.end();
    expect(t.dataChannels.filter((c) => c.open)).toEqual([]);
    expect(t.reservations.every((r) => r.released)).toBe(true);
  });

  it('a SETUP whose CSeq is used again before its reply releases what the first one held', async () => {
    const t = session();
    await t.clientSends(setup(3, 'RTP/AVP;unicast;client_port=5000-5001') + setup(3, 'RTP/AVP;unicast;client_port=5002-5003'));
    expect(t.reservations.map((r) => r.released)).toEqual([true, false]);
    expect(t.dataChannels.map((c) => c.open)).toEqual([false, false, true, true]);
  });
});

describe('RTSP plugin options', () => {
  it('defaults to safe values', () => {
    expect(rtspOptions.parse(undefined)).toEqual(DEFAULT_RTSP_OPTIONS);
    expect(DEFAULT_RTSP_OPTIONS).toEqual({ maxTransportsPerSetup: 4, maxStreamsPerSession: 4, maxLineLength: 4096, maxHeaderLines: 64, defaultSessionTimeoutS: 60, maxSessionTimeoutS: 3600, timeoutSlackMs: 10_000 });
  });

  it.each([
    [{ maxStreams: 3 }, /unknown option "maxStreams"/],
    [{ maxStreamsPerSession: 0 }, /maxStreamsPerSession must be an integer from 1 to 8/],
    [{ maxTransportsPerSetup: 2.5 }, /maxTransportsPerSetup must be an integer from 1 to 16/],
    [{ maxLineLength: '4096' }, /maxLineLength must be an integer/],
    [{ defaultSessionTimeoutS: 600, maxSessionTimeoutS: 300 }, /defaultSessionTimeoutS must not exceed maxSessionTimeoutS/],
    [[], /must be an object/],
  ])('refuses %j', (input, message) => {
    expect(() => rtspOptions.parse(input)).toThrow(message);
  });
});
