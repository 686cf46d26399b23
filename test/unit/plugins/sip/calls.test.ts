/**
 * The SIP plugin's media: the RTP/RTCP pairs it reserves and the channels
 * it opens, restricts, moves and removes through a call's life.
 */
import { endpoint } from '@algd/sdk';
import { audio, phoneHeaders, phoneHeadersOut, sdp, serverResponse, serverResponseIn, sipMessage, udpSession } from './sip-fixtures';

const SDP_TYPE = 'Content-Type: application/sdp';
const invite = (callId: string, body: string, cseq = '1 INVITE') => sipMessage('INVITE sip:bob@203.0.113.2 SIP/2.0', phoneHeaders(callId, cseq, [SDP_TYPE]), body);
const inviteOut = (callId: string, body: string, cseq = '1 INVITE') => sipMessage('INVITE sip:bob@203.0.113.2 SIP/2.0', phoneHeadersOut(callId, cseq, [SDP_TYPE]), body);
const answer = (callId: string, body: string, cseq = '1 INVITE') => serverResponse('200 OK', callId, cseq, ['Contact: <sip:bob@203.0.113.2>', SDP_TYPE], body);
const answerIn = (callId: string, body: string, cseq = '1 INVITE') => serverResponseIn('200 OK', callId, cseq, ['Contact: <sip:bob@203.0.113.2>', SDP_TYPE], body);
const request = (method: string, callId: string, cseq: string) => sipMessage(`${method} sip:bob@203.0.113.2 SIP/2.0`, phoneHeaders(callId, cseq));

/** The channels as [id, private port, public port, remote, open]. */
const channels = (t: ReturnType<typeof udpSession>) => t.dataChannels.map((c) => [c.id, c.private.port, c.public.port, c.request.remote?.address ?? '*', c.open]);

describe('SIP plugin: a whole call', () => {
  it('INVITE/100/180/200/ACK/BYE/200: a pair on the offer, restricted to the answerer on the answer, removed on BYE', async () => {
    const t = udpSession();
    await t.clientSends(invite('call-1', sdp('198.51.100.2', audio(6000))));
    expect(t.server.text).toBe(inviteOut('call-1', sdp('203.0.113.1', audio(61000))));
    expect(t.reservations).toEqual([expect.objectContaining({ id: 1, protocol: 'udp', ports: [61000, 61001], released: false, request: { protocol: 'udp', parity: 'even-odd' } })]);
    expect(t.dataChannels.map((c) => c.request)).toEqual([
      { protocol: 'udp', direction: 'both', private: { address: '198.51.100.2', port: 6000 }, public: { address: '203.0.113.1', port: 61000 }, persistent: true, lifetimeMs: 3_600_000, notify: { ended: ['expired'] } },
      { protocol: 'udp', direction: 'both', private: { address: '198.51.100.2', port: 6001 }, public: { address: '203.0.113.1', port: 61001 }, persistent: true, lifetimeMs: 3_600_000, notify: { ended: ['expired'] } },
    ]);

    await t.serverSends(serverResponse('100 Trying', 'call-1', '1 INVITE'));
    await t.serverSends(serverResponse('180 Ringing', 'call-1', '1 INVITE'));
    expect(t.dataChannels).toHaveLength(2);
    await t.serverSends(answer('call-1', sdp('203.0.113.2', audio(7000))));
    expect(t.client.messages.map((m) => m.toString('latin1'))).toEqual([
      serverResponseIn('100 Trying', 'call-1', '1 INVITE'),
      serverResponseIn('180 Ringing', 'call-1', '1 INVITE'),
      answerIn('call-1', sdp('203.0.113.2', audio(7000))),
    ]);
    // Confirmed: the same public ports, now only for the answerer.
    expect(channels(t)).toEqual([
      [1, 6000, 61000, '*', false], [2, 6001, 61001, '*', false],
      [3, 6000, 61000, '203.0.113.2', true], [4, 6001, 61001, '203.0.113.2', true],
    ]);
    expect(t.dataChannels[2]!.endReason).toBeUndefined();
    expect(t.dataChannels[0]!.endReason).toBe('removed');

    await t.clientSends(request('ACK', 'call-1', '1 ACK'));
    expect(t.dataChannels).toHaveLength(4);
    await t.clientSends(request('BYE', 'call-1', '2 BYE'));
    expect(t.server.messages[2]!.toString('latin1')).toBe(sipMessage('BYE sip:bob@203.0.113.2 SIP/2.0', phoneHeadersOut('call-1', '2 BYE')));
    expect(channels(t).map((c) => c[4])).toEqual([false, false, false, false]);
    expect(t.reservations[0]!.released).toBe(true);
    await t.serverSends(serverResponse('200 OK', 'call-1', '2 BYE'));
    expect(t.dataChannels).toHaveLength(4);
    expect(t.state!.dialogs.size).toBe(0);
    expect(t.counters).toEqual({ 'media-mapped': 1, 'media-removed': 1, rewritten: 7 });
  });

  it('a BYE from the other side ends the call too', async () => {
    const t = udpSession();
    await t.clientSends(invite('call-2', sdp('198.51.100.2', audio(6000))));
    await t.serverSends(answer('call-2', sdp('203.0.113.2', audio(7000))));
    await t.serverSends(sipMessage('BYE sip:alice@203.0.113.1:61234 SIP/2.0', ['Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bK-b', 'From: <sip:bob@203.0.113.2>;tag=b1', 'To: <sip:alice@203.0.113.1>;tag=a1', 'Call-ID: call-2', 'CSeq: 9 BYE']));
    expect(t.client.messages[1]!.toString('latin1')).toBe(sipMessage('BYE sip:alice@198.51.100.2:5060 SIP/2.0', ['Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bK-b', 'From: <sip:bob@203.0.113.2>;tag=b1', 'To: <sip:alice@198.51.100.2>;tag=a1', 'Call-ID: call-2', 'CSeq: 9 BYE']));
    expect(t.dataChannels.every((c) => !c.open)).toBe(true);
  });

  it('CANCEL before the answer removes the pair; the 487 after it changes nothing', async () => {
    const t = udpSession();
    await t.clientSends(invite('call-3', sdp('198.51.100.2', audio(6000))));
    await t.clientSends(request('CANCEL', 'call-3', '1 CANCEL'));
    expect(channels(t)).toEqual([[1, 6000, 61000, '*', false], [2, 6001, 61001, '*', false]]);
    expect(t.reservations[0]!.released).toBe(true);
    await t.serverSends(serverResponse('487 Request Terminated', 'call-3', '1 INVITE'));
    expect(t.dataChannels).toHaveLength(2);
    expect(t.state!.dialogs.size).toBe(0);
  });

  it('a final failure (486) to the INVITE removes the pair', async () => {
    const t = udpSession();
    await t.clientSends(invite('call-4', sdp('198.51.100.2', audio(6000))));
    await t.serverSends(serverResponse('486 Busy Here', 'call-4', '1 INVITE'));
    expect(t.client.text).toBe(serverResponseIn('486 Busy Here', 'call-4', '1 INVITE'));
    expect(channels(t)).toEqual([[1, 6000, 61000, '*', false], [2, 6001, 61001, '*', false]]);
    expect(t.reservations[0]!.released).toBe(true);
    expect(t.counters['media-removed']).toBe(1);
  });

  it('an incoming call: the peer\'s offer is remembered, the phone\'s answer opens channels restricted to it at once', async () => {
    const t = udpSession();
    const offer = (ruri: string, to: string) => sipMessage(`INVITE sip:alice@${ruri} SIP/2.0`, [
      'Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bK-in', 'From: <sip:carol@203.0.113.2>;tag=c1', `To: <sip:alice@${to}>`, 'Call-ID: call-5', 'CSeq: 1 INVITE', 'Contact: <sip:carol@203.0.113.2>', SDP_TYPE,
    ], sdp('203.0.113.2', audio(8000, 'a=rtcp:8003\r\n')));
    await t.serverSends(offer('203.0.113.1:61234', '203.0.113.1'));
    expect(t.client.text).toBe(offer('198.51.100.2:5060', '198.51.100.2'));
    expect(t.dataChannels).toEqual([]);
    const ok = (contact: string, body: string) => sipMessage('SIP/2.0 200 OK', [
      'Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bK-in', 'From: <sip:carol@203.0.113.2>;tag=c1', 'To: <sip:alice@203.0.113.2>;tag=a9', 'Call-ID: call-5', 'CSeq: 1 INVITE', `Contact: <sip:alice@${contact}>`, SDP_TYPE,
    ], body);
    await t.clientSends(ok('198.51.100.2:5060', sdp('198.51.100.2', audio(6100))));
    expect(t.server.text).toBe(ok('203.0.113.1:61234', sdp('203.0.113.1', audio(61000))));
    expect(channels(t)).toEqual([[1, 6100, 61000, '203.0.113.2', true], [2, 6101, 61001, '203.0.113.2', true]]);
  });

  it('restricts to the peer\'s ports as well with mediaPeerPort', async () => {
    const t = udpSession({ options: { mediaPeerPort: true } });
    await t.clientSends(invite('call-6', sdp('198.51.100.2', audio(6000))));
    await t.serverSends(answer('call-6', sdp('203.0.113.2', audio(7000, 'a=rtcp:7005\r\n'))));
    expect(t.dataChannels.slice(2).map((c) => c.request.remote)).toEqual([{ address: '203.0.113.2', port: 7000 }, { address: '203.0.113.2', port: 7005 }]);
  });

  it('maps the phone\'s a=rtcp port and address on the odd public port', async () => {
    const t = udpSession();
    await t.clientSends(invite('call-7', sdp('198.51.100.2', audio(6000, 'a=rtcp:6009 IN IP4 198.51.100.2\r\n'))));
    expect(t.server.text).toBe(inviteOut('call-7', sdp('203.0.113.1', audio(61000, 'a=rtcp:61001 IN IP4 203.0.113.1\r\n'))));
    expect(channels(t)).toEqual([[1, 6000, 61000, '*', true], [2, 6009, 61001, '*', true]]);
  });
});

describe('SIP plugin: re-INVITE, UPDATE and hold', () => {
  async function established() {
    const t = udpSession();
    await t.clientSends(invite('call-r', sdp('198.51.100.2', audio(6000))));
    await t.serverSends(answer('call-r', sdp('203.0.113.2', audio(7000))));
    await t.clientSends(request('ACK', 'call-r', '1 ACK'));
    return t;
  }

  it('a re-INVITE with the same media keeps the channels', async () => {
    const t = await established();
    await t.clientSends(invite('call-r', sdp('198.51.100.2', audio(6000)), '2 INVITE'));
    expect(t.server.messages[2]!.toString('latin1')).toBe(inviteOut('call-r', sdp('203.0.113.1', audio(61000)), '2 INVITE'));
    await t.serverSends(answer('call-r', sdp('203.0.113.2', audio(7000)), '2 INVITE'));
    expect(t.dataChannels).toHaveLength(4);
    expect(channels(t).filter((c) => c[4])).toEqual([[3, 6000, 61000, '203.0.113.2', true], [4, 6001, 61001, '203.0.113.2', true]]);
  });

  it('a re-INVITE changing the phone\'s port moves the channels, keeping the public pair', async () => {
    const t = await established();
    await t.clientSends(invite('call-r', sdp('198.51.100.2', audio(6002)), '2 INVITE'));
    expect(t.server.messages[2]!.toString('latin1')).toBe(inviteOut('call-r', sdp('203.0.113.1', audio(61000)), '2 INVITE'));
    expect(channels(t).filter((c) => c[4])).toEqual([[5, 6002, 61000, '203.0.113.2', true], [6, 6003, 61001, '203.0.113.2', true]]);
    expect(t.reservations).toHaveLength(1);
  });

  it('an UPDATE answered with a new peer address restricts the channels to the new peer', async () => {
    const t = await established();
    await t.clientSends(sipMessage('UPDATE sip:bob@203.0.113.2 SIP/2.0', phoneHeaders('call-r', '2 UPDATE', [SDP_TYPE]), sdp('198.51.100.2', audio(6000))));
    expect(t.dataChannels).toHaveLength(4);
    await t.serverSends(serverResponse('200 OK', 'call-r', '2 UPDATE', [SDP_TYPE], sdp('203.0.113.2', audio(7100))));
    expect(channels(t).filter((c) => c[4])).toEqual([[5, 6000, 61000, '203.0.113.2', true], [6, 6001, 61001, '203.0.113.2', true]]);
  });

  it('a failed re-INVITE leaves the call\'s media as it was', async () => {
    const t = await established();
    await t.clientSends(invite('call-r', sdp('198.51.100.2', audio(6000)), '2 INVITE'));
    await t.serverSends(serverResponse('488 Not Acceptable Here', 'call-r', '2 INVITE'));
    expect(channels(t).filter((c) => c[4])).toEqual([[3, 6000, 61000, '203.0.113.2', true], [4, 6001, 61001, '203.0.113.2', true]]);
  });

  it('adding a video stream maps a second pair; unchanged audio keeps its channels', async () => {
    const t = await established();
    const video = (p: number) => `m=video ${p} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n`;
    await t.clientSends(invite('call-r', sdp('198.51.100.2', audio(6000), video(6200)), '2 INVITE'));
    expect(t.server.messages[2]!.toString('latin1')).toBe(inviteOut('call-r', sdp('203.0.113.1', audio(61000), video(61002)), '2 INVITE'));
    expect(channels(t).filter((c) => c[4])).toEqual([[3, 6000, 61000, '203.0.113.2', true], [4, 6001, 61001, '203.0.113.2', true], [5, 6200, 61002, '*', true], [6, 6201, 61003, '*', true]]);
  });

  it('hold with port 0 removes the stream\'s channels and opens none', async () => {
    const t = await established();
    await t.clientSends(invite('call-r', sdp('198.51.100.2', 'm=audio 0 RTP/AVP 0\r\n'), '2 INVITE'));
    expect(t.server.messages[2]!.toString('latin1')).toBe(inviteOut('call-r', sdp('203.0.113.1', 'm=audio 0 RTP/AVP 0\r\n'), '2 INVITE'));
    expect(t.dataChannels.every((c) => !c.open)).toBe(true);
    expect(t.reservations[0]!.released).toBe(true);
    // Resumed: a fresh pair.
    await t.clientSends(invite('call-r', sdp('198.51.100.2', audio(6000)), '3 INVITE'));
    expect(channels(t).filter((c) => c[4])).toEqual([[5, 6000, 61000, '203.0.113.2', true], [6, 6001, 61001, '203.0.113.2', true]]);
  });

  it('hold with a=sendonly, a=inactive or c=0.0.0.0 keeps the channels for the resume', async () => {
    const t = await established();
    await t.clientSends(invite('call-r', sdp('198.51.100.2', audio(6000, 'a=sendonly\r\n')), '2 INVITE'));
    await t.serverSends(answer('call-r', sdp('203.0.113.2', audio(7000, 'a=recvonly\r\n')), '2 INVITE'));
    await t.clientSends(invite('call-r', sdp('198.51.100.2', audio(6000, 'a=inactive\r\n')), '3 INVITE'));
    await t.clientSends(invite('call-r', sdp('0.0.0.0', audio(6000)), '4 INVITE'));
    expect(t.server.messages[4]!.toString('latin1')).toBe(inviteOut('call-r', sdp('0.0.0.0', audio(6000)), '4 INVITE'));
    expect(channels(t).filter((c) => c[4])).toEqual([[3, 6000, 61000, '203.0.113.2', true], [4, 6001, 61001, '203.0.113.2', true]]);
  });

  it('the other side disabling a stream (port 0 in its answer) removes it', async () => {
    const t = udpSession();
    await t.clientSends(invite('call-d', sdp('198.51.100.2', audio(6000))));
    await t.serverSends(answer('call-d', sdp('203.0.113.2', 'm=audio 0 RTP/AVP 0\r\n')));
    expect(t.dataChannels.every((c) => !c.open)).toBe(true);
  });

  it('a media channel expiring takes its stream\'s other channel and ports with it', async () => {
    const t = await established();
    await t.dataChannelEnded(3, 'expired');
    expect(channels(t).map((c) => c[4])).toEqual([false, false, false, false]);
    expect(t.dataChannels[3]!.endReason).toBe('removed');
    expect(t.reservations[0]!.released).toBe(true);
    expect(t.state!.dialogs.size).toBe(0);
    expect(t.counters['media-expired']).toBe(1);
  });
});

describe('SIP plugin: media it does not map', () => {
  it('leaves a media address that is not the phone\'s untouched, and counts it', async () => {
    const t = udpSession();
    const body = sdp('192.0.2.50', audio(6000));
    await t.clientSends(invite('call-f', body));
    expect(t.server.text).toBe(inviteOut('call-f', body));
    expect(t.dataChannels).toEqual([]);
    expect(t.counters['foreign-media-address']).toBe(1);
  });

  it('refuses streams beyond the per-call cap with port 0', async () => {
    const t = udpSession({ options: { maxMediaStreamsPerDialog: 2 } });
    await t.clientSends(invite('call-c', sdp('198.51.100.2', audio(6000), audio(6002), audio(6004))));
    expect(t.server.text).toBe(inviteOut('call-c', sdp('203.0.113.1', audio(61000), audio(61002), audio(0))));
    expect(t.dataChannels).toHaveLength(4);
    expect(t.counters['media-cap-refused']).toBe(1);
  });

  it('refuses streams beyond the per-session cap across calls', async () => {
    const t = udpSession({ options: { maxMediaStreamsPerSession: 2 } });
    await t.clientSends(invite('call-a', sdp('198.51.100.2', audio(6000))));
    await t.clientSends(invite('call-b', sdp('198.51.100.2', audio(6002))));
    await t.clientSends(invite('call-c', sdp('198.51.100.2', audio(6004))));
    expect(t.server.messages[2]!.toString('latin1')).toBe(inviteOut('call-c', sdp('203.0.113.1', audio(0))));
    expect(t.dataChannels).toHaveLength(4);
    expect(t.counters['media-cap-refused']).toBe(1);
    // A call ending makes room.
    await t.clientSends(request('CANCEL', 'call-a', '1 CANCEL'));
    await t.clientSends(invite('call-c', sdp('198.51.100.2', audio(6004)), '2 INVITE'));
    expect(channels(t).filter((c) => c[4]).map((c) => c[1])).toEqual([6002, 6003, 6004, 6005]);
  });

  it('refuses a stream the host refuses (its channel cap) with port 0, counted', async () => {
    const t = udpSession({ maxDataChannels: 3 });
    await t.clientSends(invite('call-h', sdp('198.51.100.2', audio(6000), audio(6002))));
    expect(t.server.text).toBe(inviteOut('call-h', sdp('203.0.113.1', audio(61000), audio(0))));
    expect(t.counters['media-channel-refused']).toBe(1);
    expect(t.reservations.map((r) => r.released)).toEqual([false, true]);
  });

  it('leaves an ICE offer untouched with leaveIceUntouched, and rewrites it by default', async () => {
    const ice = sdp('198.51.100.2', audio(6000, 'a=candidate:1 1 UDP 2130706431 198.51.100.2 6000 typ host\r\n'));
    const t = udpSession({ options: { leaveIceUntouched: true } });
    await t.clientSends(invite('call-i', ice));
    expect(t.server.text).toBe(invite('call-i', ice));
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ 'ice-untouched': 1 });

    const d = udpSession();
    await d.clientSends(invite('call-i', ice));
    expect(d.server.text).toBe(inviteOut('call-i', sdp('203.0.113.1', audio(61000, 'a=candidate:1 1 UDP 2130706431 198.51.100.2 6000 typ host\r\n'))));
  });

  it('an IPv6 phone announcing IPv4 media: not its address, not mapped', async () => {
    const t = udpSession({ client: endpoint('2001:db8:1::2', 5060), server: endpoint('2001:db8:2::2', 5060), boundary: endpoint('2001:db8:2::1', 61234) });
    await t.clientSends(sipMessage('INVITE sip:bob@[2001:db8:2::2] SIP/2.0', ['Via: SIP/2.0/UDP [2001:db8:1::2]:5060;branch=z9hG4bK-6', 'From: <sip:a@[2001:db8:2::2]>;tag=1', 'To: <sip:b@[2001:db8:2::2]>', 'Call-ID: v6', 'CSeq: 1 INVITE', SDP_TYPE], sdp('198.51.100.2', audio(6000))));
    expect(t.dataChannels).toEqual([]);
    expect(t.counters['foreign-media-address']).toBe(1);
  });
});

describe('SIP plugin: bounded call state', () => {
  it('keeps at most 32 calls; one whose media is all gone makes room for a new one', async () => {
    const t = udpSession();
    for (let i = 0; i < 32; i++) {
      await t.serverSends(sipMessage('INVITE sip:alice@203.0.113.1:61234 SIP/2.0', ['Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bK-o', 'From: <sip:carol@203.0.113.2>;tag=c', 'To: <sip:alice@203.0.113.1>', `Call-ID: unanswered-${i}`, 'CSeq: 1 INVITE', SDP_TYPE], sdp('203.0.113.2', audio(8000 + 2 * i))));
    }
    expect(t.state!.dialogs.size).toBe(32);
    await t.clientSends(invite('call-new', sdp('198.51.100.2', audio(6000))));
    expect(t.state!.dialogs.size).toBe(32);
    expect(t.state!.dialogs.has('unanswered-0')).toBe(false);
    expect(t.dataChannels).toHaveLength(2);
    expect(t.counters['dialog-cap-reached']).toBeUndefined();
  });
});

describe('SIP plugin: what a call leaves behind when it ends', () => {
  /** [id, open, closed with its connections] of each channel. */
  const closing = (t: ReturnType<typeof udpSession>) => t.dataChannels.map((c) => [c.id, c.open, c.connectionsClosed === true]);
  const farBye = (callId: string) => sipMessage('BYE sip:alice@203.0.113.1:61234 SIP/2.0', ['Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bK-b', 'From: <sip:bob@203.0.113.2>;tag=b1', 'To: <sip:alice@203.0.113.1>;tag=a1', `Call-ID: ${callId}`, 'CSeq: 9 BYE']);
  const phoneOk = (callId: string) => sipMessage('SIP/2.0 200 OK', ['Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bK-b', 'From: <sip:bob@203.0.113.2>;tag=b1', 'To: <sip:alice@198.51.100.2>;tag=a1', `Call-ID: ${callId}`, 'CSeq: 9 BYE']);

  async function answered(t: ReturnType<typeof udpSession>, callId: string, phonePort = 6000) {
    await t.clientSends(invite(callId, sdp('198.51.100.2', audio(phonePort))));
    await t.serverSends(answer(callId, sdp('203.0.113.2', audio(7000))));
    await t.clientSends(request('ACK', callId, '1 ACK'));
  }

  it('a BYE closes the media with its flows, and the session then idles out after 5 s instead of the host\'s timeout', async () => {
    const t = udpSession();
    await answered(t, 'call-e');
    expect(t.idleTimeoutMs).toBeUndefined();
    await t.serverSends(farBye('call-e'));
    // The answer's reopen let the offer's channels' flows run (the same pair carries the new ones); the BYE closes them.
    expect(closing(t)).toEqual([[1, false, false], [2, false, false], [3, false, true], [4, false, true]]);
    expect(t.reservations[0]!.released).toBe(true);
    expect(t.idleTimeoutMs).toBe(5_000);
    // The phone's 200 (and a retransmitted BYE) keep it.
    await t.clientSends(phoneOk('call-e'));
    await t.serverSends(farBye('call-e'));
    expect(t.idleTimeoutMs).toBe(5_000);
    expect(t.state!.quiet).toBe(true);
  });

  it('CANCEL and a failed INVITE end the call the same way; the final response after them changes nothing', async () => {
    const cancelled = udpSession();
    await cancelled.clientSends(invite('call-c', sdp('198.51.100.2', audio(6000))));
    await cancelled.clientSends(request('CANCEL', 'call-c', '1 CANCEL'));
    expect(closing(cancelled)).toEqual([[1, false, true], [2, false, true]]);
    expect(cancelled.idleTimeoutMs).toBe(5_000);
    await cancelled.serverSends(serverResponse('487 Request Terminated', 'call-c', '1 INVITE'));
    expect(cancelled.idleTimeoutMs).toBe(5_000);

    const busy = udpSession();
    await busy.clientSends(invite('call-b', sdp('198.51.100.2', audio(6000))));
    await busy.serverSends(serverResponse('486 Busy Here', 'call-b', '1 INVITE'));
    expect(closing(busy)).toEqual([[1, false, true], [2, false, true]]);
    expect(busy.idleTimeoutMs).toBe(5_000);
  });

  it('with two calls up, only the end of the last one shortens the idle timeout', async () => {
    const t = udpSession();
    await answered(t, 'call-1', 6000);
    await answered(t, 'call-2', 6002);
    await t.serverSends(farBye('call-1'));
    expect(t.idleTimeoutMs).toBeUndefined();
    expect(t.state!.quiet).toBeUndefined();
    await t.serverSends(farBye('call-2'));
    expect(t.idleTimeoutMs).toBe(5_000);
  });

  it('a new call, a keepalive or any other request gives the session the host\'s idle timeout back', async () => {
    for (const next of [
      (t: ReturnType<typeof udpSession>) => t.clientSends(invite('call-n', sdp('198.51.100.2', audio(6004)))),
      (t: ReturnType<typeof udpSession>) => t.clientSends('\r\n\r\n'),
      (t: ReturnType<typeof udpSession>) => t.clientSends(request('OPTIONS', 'opt-1', '1 OPTIONS')),
      (t: ReturnType<typeof udpSession>) => t.serverSends(sipMessage('NOTIFY sip:alice@203.0.113.1:61234 SIP/2.0', ['Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bK-n', 'From: <sip:bob@203.0.113.2>;tag=n1', 'To: <sip:alice@203.0.113.1>;tag=a1', 'Call-ID: sub-1', 'CSeq: 1 NOTIFY'])),
      (t: ReturnType<typeof udpSession>) => t.clientSends('not SIP at all\r\n\r\n'),
    ]) {
      const t = udpSession();
      await answered(t, 'call-e');
      await t.serverSends(farBye('call-e'));
      expect(t.idleTimeoutMs).toBe(5_000);
      await next(t);
      expect(t.idleTimeoutMs).toBeUndefined();
      expect(t.state!.quiet).toBeUndefined();
    }
  });

  it('a call whose 200 comes back after the BYE (a stray retransmission) makes the session hold a call again: the host\'s timeout', async () => {
    const t = udpSession();
    await answered(t, 'call-e');
    await t.serverSends(farBye('call-e'));
    expect(t.idleTimeoutMs).toBe(5_000);
    await t.serverSends(answer('call-e', sdp('203.0.113.2', audio(7000))));
    expect(t.state!.dialogs.size).toBe(1);
    expect(t.idleTimeoutMs).toBeUndefined();
  });

  it('hold with port 0 closes the stream\'s flows but keeps the host\'s timeout: the call goes on', async () => {
    const t = udpSession();
    await answered(t, 'call-h');
    await t.clientSends(invite('call-h', sdp('198.51.100.2', 'm=audio 0 RTP/AVP 0\r\n'), '2 INVITE'));
    expect(closing(t)).toEqual([[1, false, false], [2, false, false], [3, false, true], [4, false, true]]);
    expect(t.idleTimeoutMs).toBeUndefined();
  });

  it('over TCP the media goes the same way, but the session keeps the host\'s timeout (its upstream port is not the pool\'s)', async () => {
    const t = udpSession({ protocol: 'tcp', client: endpoint('198.51.100.2', 40001) });
    await answered(t, 'call-t');
    await t.serverSends(farBye('call-t'));
    expect(closing(t)).toEqual([[1, false, false], [2, false, false], [3, false, true], [4, false, true]]);
    expect(t.idleTimeoutMs).toBeUndefined();
    expect(t.state!.quiet).toBeUndefined();
  });

  it('an expiry leaves media that still flows alone, and does not shorten the session\'s life', async () => {
    const t = udpSession();
    await answered(t, 'call-x');
    await t.dataChannelEnded(3, 'expired');
    expect(closing(t)).toEqual([[1, false, false], [2, false, false], [3, false, false], [4, false, false]]);
    expect(t.dataChannels[3]!.endReason).toBe('removed');
    expect(t.idleTimeoutMs).toBeUndefined();
  });
});
