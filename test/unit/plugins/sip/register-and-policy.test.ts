/**
 * The SIP plugin's registration pinholes, its refusals (third-party
 * REGISTER, method allow-list, unreadable and oversized messages) and its
 * options.
 */
import { endpoint } from '@algd/sdk';
import { sipOptions } from '@algd/plugin-sip';
import { BOUNDARY, PHONE, sipMessage, udpSession } from './sip-fixtures';

const register = (contact: string, cseq: number, extra: readonly string[] = []) => sipMessage('REGISTER sip:203.0.113.2 SIP/2.0', [
  `Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-r${cseq};rport`,
  'From: <sip:alice@203.0.113.2>;tag=r1',
  'To: <sip:alice@203.0.113.2>',
  'Call-ID: reg-1',
  `CSeq: ${cseq} REGISTER`,
  ...(contact === '' ? [] : [`Contact: ${contact}`]),
  ...extra,
]);
const registered = (cseq: number, extra: readonly string[] = [], status = '200 OK') => sipMessage(`SIP/2.0 ${status}`, [
  `Via: SIP/2.0/UDP 203.0.113.1:61234;branch=z9hG4bK-r${cseq};rport=61234`,
  'From: <sip:alice@203.0.113.2>;tag=r1',
  'To: <sip:alice@203.0.113.2>;tag=srv',
  'Call-ID: reg-1',
  `CSeq: ${cseq} REGISTER`,
  ...extra,
]);

const PINHOLE = { protocol: 'udp', private: PHONE, public: BOUNDARY, remote: { address: '203.0.113.2', port: 5060 }, direction: 'inbound', persistent: true, notify: { ended: ['expired'] } };

describe('SIP plugin: REGISTER', () => {
  it('opens a pinhole from the registrar to the phone for the lifetime the 200 gives the phone\'s contact', async () => {
    const t = udpSession();
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>;expires=3600', 1));
    expect(t.server.text).toBe(register('<sip:alice@203.0.113.1:61234>;expires=3600', 1).replace('198.51.100.2:5060;branch', '203.0.113.1:61234;branch'));
    expect(t.dataChannels).toEqual([]);
    await t.serverSends(registered(1, ['Contact: <sip:alice@192.0.2.80:5060>;expires=600, <sip:alice@203.0.113.1:61234>;expires=1800']));
    expect(t.client.text).toBe(registered(1, ['Contact: <sip:alice@192.0.2.80:5060>;expires=600, <sip:alice@198.51.100.2:5060>;expires=1800'])
      .replace('203.0.113.1:61234;branch=z9hG4bK-r1;rport=61234', '198.51.100.2:5060;branch=z9hG4bK-r1;rport=5060'));
    expect(t.dataChannels.map((c) => c.request)).toEqual([{ ...PINHOLE, lifetimeMs: 1_800_000 }]);
    expect(t.dataChannels[0]!.public).toEqual(BOUNDARY);
    expect(t.state!.registration).toBe(1);
    expect(t.counters['register-pinhole']).toBe(1);
  });

  it('takes the Expires header, then what the phone asked for, then an hour', async () => {
    for (const [req, res, ms] of [
      [[], ['Expires: 120'], 120_000],
      [['Expires: 300'], [], 300_000],
      [[], [], 3_600_000],
    ] as const) {
      const t = udpSession();
      await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 1, req));
      await t.serverSends(registered(1, res));
      expect(t.dataChannels.map((c) => c.request.lifetimeMs)).toEqual([ms]);
    }
  });

  it('a re-REGISTER renews the pinhole for the new lifetime, an un-REGISTER removes it', async () => {
    const t = udpSession();
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 1, ['Expires: 60']));
    await t.serverSends(registered(1, ['Contact: <sip:alice@203.0.113.1:61234>;expires=60']));
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 2, ['Expires: 60']));
    await t.serverSends(registered(2, ['Contact: <sip:alice@203.0.113.1:61234>;expires=90']));
    expect(t.dataChannels.map((c) => [c.id, c.request.lifetimeMs, c.renewals, c.open, c.endReason])).toEqual([[1, 60_000, [90_000], true, undefined]]);
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 3, ['Expires: 0']));
    expect(t.dataChannels[0]!.open).toBe(true); // until the registrar agrees
    await t.serverSends(registered(3));
    expect(t.dataChannels.map((c) => [c.open, c.endReason])).toEqual([[false, 'removed']]);
    expect(t.state!.registration).toBeUndefined();
    expect(t.counters).toMatchObject({ 'register-pinhole': 1, 'register-pinhole-renewed': 1, 'register-pinhole-removed': 1 });
  });

  it('a refresh whose pinhole the host no longer has opens a new one', async () => {
    const t = udpSession();
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 1, ['Expires: 60']));
    await t.serverSends(registered(1, ['Contact: <sip:alice@203.0.113.1:61234>;expires=60']));
    // Ended in the host without the plugin hearing of it yet (its event still on the way).
    t.services.markEnded(1, 'expired');
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 2, ['Expires: 60']));
    await t.serverSends(registered(2, ['Contact: <sip:alice@203.0.113.1:61234>;expires=120']));
    expect(t.dataChannels.map((c) => [c.id, c.request.lifetimeMs, c.renewals, c.open, c.endReason])).toEqual([[1, 60_000, undefined, false, 'expired'], [2, 120_000, undefined, true, undefined]]);
    expect(t.state!.registration).toBe(2);
    expect(t.counters).toMatchObject({ 'register-pinhole': 2 });
    expect(t.counters['register-pinhole-renewed']).toBeUndefined();
  });

  it('Contact: * removes it too; a challenge (401) or a query without Contact changes nothing', async () => {
    const t = udpSession();
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 1));
    await t.serverSends(registered(1, ['WWW-Authenticate: Digest realm="x", nonce="y"'], '401 Unauthorized'));
    expect(t.dataChannels).toEqual([]);
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 2, ['Authorization: Digest username="alice"']));
    await t.serverSends(registered(2, ['Contact: <sip:alice@203.0.113.1:61234>;expires=600']));
    await t.clientSends(register('', 3));
    await t.serverSends(registered(3, ['Contact: <sip:alice@203.0.113.1:61234>;expires=500']));
    expect(t.dataChannels.map((c) => c.open)).toEqual([true]);
    await t.clientSends(register('*', 4, ['Expires: 0']));
    await t.serverSends(registered(4));
    expect(t.dataChannels.map((c) => c.open)).toEqual([false]);
  });

  it('a 200 that does not answer the pending REGISTER opens nothing', async () => {
    const t = udpSession();
    await t.serverSends(registered(5, ['Contact: <sip:alice@203.0.113.1:61234>;expires=600']));
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 6));
    await t.serverSends(registered(5, ['Contact: <sip:alice@203.0.113.1:61234>;expires=600']));
    expect(t.dataChannels).toEqual([]);
  });

  it('forgets a pinhole that expired, and a new registration opens another', async () => {
    const t = udpSession();
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 1));
    await t.serverSends(registered(1, ['Expires: 60']));
    await t.dataChannelEnded(1, 'expired');
    expect(t.state!.registration).toBeUndefined();
    expect(t.counters['register-pinhole-expired']).toBe(1);
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 2));
    await t.serverSends(registered(2, ['Expires: 60']));
    expect(t.dataChannels.map((c) => c.open)).toEqual([false, true]);
  });

  it('over TCP the pinhole is on the TCP boundary endpoint', async () => {
    const t = udpSession({ protocol: 'tcp', client: endpoint('198.51.100.2', 40002) });
    await t.clientSends(register('<sip:alice@198.51.100.2:5060;transport=tcp>', 1).replace('SIP/2.0/UDP', 'SIP/2.0/TCP'));
    expect(t.server.text).toContain('Contact: <sip:alice@203.0.113.1:61234;transport=tcp>\r\n');
    await t.serverSends(registered(1, ['Expires: 600']).replace('SIP/2.0/UDP', 'SIP/2.0/TCP'));
    expect(t.dataChannels.map((c) => c.request)).toEqual([{ ...PINHOLE, protocol: 'tcp', private: endpoint('198.51.100.2', 40002), lifetimeMs: 600_000 }]);
  });

  it('accepts a phone that registers the boundary endpoint it learnt itself', async () => {
    const t = udpSession();
    await t.clientSends(register('<sip:alice@203.0.113.1:61234>', 1));
    expect(t.server.text).toBe(register('<sip:alice@203.0.113.1:61234>', 1).replace('198.51.100.2:5060;branch', '203.0.113.1:61234;branch'));
    expect(t.counters['third-party-register-refused']).toBeUndefined();
  });
});

describe('SIP plugin: third-party registration', () => {
  it.each([
    ['another host', '<sip:alice@192.0.2.66:5060>'],
    ['a host name', '<sip:alice@evil.example.com>'],
    ['one third party among own contacts', '<sip:alice@198.51.100.2:5060>, <sip:alice@192.0.2.66>'],
    ['the gateway\'s other port', '<sip:alice@203.0.113.1:5060>'],
  ])('is refused with a 403 from the gateway, never forwarded: %s', async (_name, contact) => {
    const t = udpSession();
    const req = register(contact, 1, ['Expires: 3600']);
    await t.clientSends(req);
    await t.clientSends(req); // a retransmission gets the same answer
    expect(t.server.messages).toEqual([]);
    const [first, second] = t.client.messages.map((m) => m.toString('latin1'));
    expect(second).toBe(first);
    const tag = /;tag=([0-9a-f]{10})\r\n/.exec(first!)?.[1];
    expect(first).toBe([
      'SIP/2.0 403 Forbidden',
      'Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-r1;rport',
      'From: <sip:alice@203.0.113.2>;tag=r1',
      `To: <sip:alice@203.0.113.2>;tag=${tag}`,
      'Call-ID: reg-1',
      'CSeq: 1 REGISTER',
      'Warning: 399 algd "third-party registration refused by the gateway"',
      'Content-Length: 0',
      '', '',
    ].join('\r\n'));
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ 'third-party-register-refused': 2 });
  });
});

describe('SIP plugin: method allow-list', () => {
  const options = { allowedMethods: ['INVITE', 'BYE', 'CANCEL', 'REGISTER'] };
  const message = (method: string, folded = false) => sipMessage(`${method} sip:bob@203.0.113.2 SIP/2.0`, [
    folded ? 'Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-m,\r\n SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK-n' : 'Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-m',
    'From: <sip:alice@203.0.113.2>;tag=a', 'To: <sip:bob@203.0.113.2>;tag=b', 'Call-ID: m1', `CSeq: 4 ${method}`,
  ]);

  it('answers a refused method from the phone with 405 and an Allow header', async () => {
    const t = udpSession({ options });
    await t.clientSends(message('MESSAGE', true));
    expect(t.server.messages).toEqual([]);
    expect(t.client.text).toBe([
      'SIP/2.0 405 Method Not Allowed',
      'Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-m, SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK-n',
      'From: <sip:alice@203.0.113.2>;tag=a',
      'To: <sip:bob@203.0.113.2>;tag=b',
      'Call-ID: m1',
      'CSeq: 4 MESSAGE',
      'Warning: 399 algd "method not allowed by the gateway"',
      'Allow: INVITE, BYE, CANCEL, REGISTER',
      'Content-Length: 0',
      '', '',
    ].join('\r\n'));
    expect(t.counters).toEqual({ 'method-refused': 1 });
  });

  it('drops a refused ACK (it has no response) and a refused request from outside, counted; lets allowed ones and responses through', async () => {
    const t = udpSession({ options });
    await t.clientSends(message('ACK'));
    await t.serverSends(message('INFO'));
    expect(t.client.messages).toEqual([]);
    expect(t.server.messages).toEqual([]);
    await t.clientSends(message('BYE'));
    await t.serverSends(sipMessage('SIP/2.0 200 OK', ['Via: SIP/2.0/UDP 203.0.113.1:61234;branch=z9hG4bK-m', 'From: <sip:alice@203.0.113.2>;tag=a', 'To: <sip:bob@203.0.113.2>;tag=b', 'Call-ID: m1', 'CSeq: 4 PUBLISH']));
    expect(t.server.messages).toHaveLength(1);
    expect(t.client.messages).toHaveLength(1);
    expect(t.counters).toEqual({ 'method-refused': 1, 'method-dropped': 1, rewritten: 2 });
  });

  it('lets every method through by default', async () => {
    const t = udpSession();
    await t.clientSends(message('FROB'));
    expect(t.server.messages).toHaveLength(1);
  });
});

describe('SIP plugin: messages it cannot read', () => {
  const cases: readonly [string, string][] = [
    ['a bad start line', 'HELLO WORLD\r\nVia: x\r\n\r\n'],
    ['a header without a colon', 'OPTIONS sip:a@203.0.113.2 SIP/2.0\r\nVia SIP/2.0/UDP 198.51.100.2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n'],
    ['no Call-ID', 'OPTIONS sip:a@203.0.113.2 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.2\r\nCSeq: 1 OPTIONS\r\n\r\n'],
    ['two Call-IDs', 'OPTIONS sip:a@203.0.113.2 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.2\r\nCall-ID: a\r\ni: b\r\nCSeq: 1 OPTIONS\r\n\r\n'],
    ['a bad CSeq', 'OPTIONS sip:a@203.0.113.2 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.2\r\nCall-ID: a\r\nCSeq: one OPTIONS\r\n\r\n'],
    ['no Via', 'OPTIONS sip:a@203.0.113.2 SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 OPTIONS\r\n\r\n'],
    ['a continuation line first', 'OPTIONS sip:a@203.0.113.2 SIP/2.0\r\n folded\r\nVia: SIP/2.0/UDP 198.51.100.2\r\nCall-ID: a\r\nCSeq: 1 OPTIONS\r\n\r\n'],
    ['a bad SDP', sipMessage('INVITE sip:b@203.0.113.2 SIP/2.0', ['Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-q', 'Call-ID: q', 'CSeq: 1 INVITE', 'Content-Type: application/sdp'], 'v=0\r\nc=IN IP4\r\nm=audio 6000 RTP/AVP 0\r\n')],
    ['an SDP port above 65535', sipMessage('INVITE sip:b@203.0.113.2 SIP/2.0', ['Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-q', 'Call-ID: q', 'CSeq: 1 INVITE', 'Content-Type: application/sdp'], 'v=0\r\nc=IN IP4 198.51.100.2\r\nm=audio 70000 RTP/AVP 0\r\n')],
  ];

  it.each(cases)('passes %s unchanged by default, counted, acting on nothing', async (_name, msg) => {
    const t = udpSession();
    await t.clientSends(msg);
    expect(t.server.messages).toEqual([Buffer.from(msg, 'latin1')]);
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ 'unparseable-passed': 1 });
  });

  it.each(cases)('drops %s with onUnparseable "drop", counted', async (_name, msg) => {
    const t = udpSession({ options: { onUnparseable: 'drop' } });
    await t.serverSends(msg);
    expect(t.client.messages).toEqual([]);
    expect(t.counters).toEqual({ 'unparseable-dropped': 1 });
  });

  it('drops a message above maxMessageSize, counted', async () => {
    const t = udpSession({ options: { maxMessageSize: 512 } });
    const msg = sipMessage('MESSAGE sip:b@203.0.113.2 SIP/2.0', ['Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-b', 'Call-ID: b', 'CSeq: 1 MESSAGE', 'Content-Type: text/plain'], 'x'.repeat(500));
    await t.clientSends(msg);
    expect(t.server.messages).toEqual([]);
    expect(t.counters).toEqual({ 'message-too-large': 1 });
  });
});

describe('SIP plugin: options', () => {
  it('has safe defaults', () => {
    expect(sipOptions.parse(undefined)).toEqual({
      allowedMethods: null, onUnparseable: 'pass', maxMessageSize: 65_535, maxMediaStreamsPerDialog: 4, maxMediaStreamsPerSession: 6,
      mediaLifetimeMs: 3_600_000, mediaPeerPort: false, leaveIceUntouched: false,
    });
  });

  it.each([
    [[], /must be an object/],
    [{ allowedMethod: ['INVITE'] }, /unknown option "allowedMethod"/],
    [{ allowedMethods: [] }, /allowedMethods/],
    [{ allowedMethods: ['IN VITE'] }, /allowedMethods/],
    [{ onUnparseable: 'ignore' }, /onUnparseable must be "pass" or "drop"/],
    [{ maxMessageSize: 100_000 }, /maxMessageSize must be an integer from 512 to 65535/],
    [{ maxMediaStreamsPerDialog: 0 }, /maxMediaStreamsPerDialog/],
    [{ maxMediaStreamsPerSession: 2.5 }, /maxMediaStreamsPerSession/],
    [{ mediaLifetimeMs: 100_000_000 }, /mediaLifetimeMs/],
    [{ leaveIceUntouched: 'yes' }, /leaveIceUntouched must be true or false/],
  ])('refuses %j with a message naming the option', (input, message) => {
    expect(() => sipOptions.parse(input)).toThrow(message);
  });
});

describe('SIP plugin: a registered phone\'s session after a call', () => {
  it('keeps the host\'s idle timeout while the registration lasts, and gets the short one only after the un-REGISTER and a call\'s end', async () => {
    const t = udpSession();
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 1, ['Expires: 600']));
    await t.serverSends(registered(1));
    const invite = sipMessage('INVITE sip:bob@203.0.113.2 SIP/2.0', ['Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-i', 'From: <sip:alice@198.51.100.2>;tag=a1', 'To: <sip:bob@203.0.113.2>', 'Call-ID: call-1', 'CSeq: 1 INVITE', 'Contact: <sip:alice@198.51.100.2:5060>']);
    const bye = sipMessage('BYE sip:bob@203.0.113.2 SIP/2.0', ['Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-y', 'From: <sip:alice@198.51.100.2>;tag=a1', 'To: <sip:bob@203.0.113.2>;tag=b1', 'Call-ID: call-1', 'CSeq: 2 BYE']);
    await t.clientSends(invite);
    await t.clientSends(bye);
    expect(t.state!.registration).toBe(1);
    expect(t.idleTimeoutMs).toBeUndefined();
    // Unregistered: the pinhole goes, but no call ended since, so nothing changes yet.
    await t.clientSends(register('*', 2, ['Expires: 0']));
    await t.serverSends(registered(2));
    expect(t.state!.registration).toBeUndefined();
    expect(t.idleTimeoutMs).toBeUndefined();
    await t.clientSends(invite.replace('call-1', 'call-2'));
    await t.clientSends(bye.replace('call-1', 'call-2'));
    expect(t.idleTimeoutMs).toBe(5_000);
  });

  it('a REGISTER in flight when a call ends keeps the host\'s timeout', async () => {
    const t = udpSession();
    await t.clientSends(register('<sip:alice@198.51.100.2:5060>', 1, ['Expires: 600']));
    await t.clientSends(sipMessage('BYE sip:bob@203.0.113.2 SIP/2.0', ['Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-y', 'From: <sip:alice@198.51.100.2>;tag=a1', 'To: <sip:bob@203.0.113.2>;tag=b1', 'Call-ID: call-1', 'CSeq: 2 BYE']));
    expect(t.state!.pendingRegister).toBeDefined();
    expect(t.idleTimeoutMs).toBeUndefined();
  });
});
