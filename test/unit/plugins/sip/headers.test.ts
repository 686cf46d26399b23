/**
 * The SIP plugin's header translation through the SDK test kit: exact
 * bytes each side receives for every header form.
 */
import { endpoint } from '@algd/sdk';
import { audio, phoneHeaders, phoneHeadersOut, sdp, sipMessage, udpSession } from './sip-fixtures';

describe('SIP plugin: header forms, phone to server', () => {
  it('translates Via, From and Contact of an INVITE, leaves the server\'s To and Request-URI', async () => {
    const t = udpSession();
    await t.clientSends(sipMessage('INVITE sip:bob@203.0.113.2 SIP/2.0', phoneHeaders('c1', '1 INVITE', ['Max-Forwards: 70'])));
    expect(t.server.text).toBe(sipMessage('INVITE sip:bob@203.0.113.2 SIP/2.0', phoneHeadersOut('c1', '1 INVITE', ['Max-Forwards: 70'])));
    expect(t.counters).toEqual({ rewritten: 1 });
  });

  it('reads compact header names in any case', async () => {
    const t = udpSession();
    const body = sdp('198.51.100.2', audio(6000));
    const compact = (via: string, from: string, contact: string, b: string) => [
      'OPTIONS sip:bob@203.0.113.2 SIP/2.0',
      `v: SIP/2.0/UDP ${via};branch=z9hG4bK-2`,
      `f: <sip:alice@${from}>;tag=a`,
      't: <sip:bob@203.0.113.2>',
      'i: c2',
      'CSeq: 7 OPTIONS',
      `M: <sip:alice@${contact}>`,
      'c: application/sdp',
      `l: ${b.length}`,
      '',
      b,
    ].join('\r\n');
    await t.clientSends(compact('198.51.100.2:5060', '198.51.100.2', '198.51.100.2', body));
    expect(t.server.text).toBe(compact('203.0.113.1:61234', '203.0.113.1', '203.0.113.1:61234', sdp('203.0.113.1', audio(61000))));
  });

  it('translates inside folded headers and keeps the folding', async () => {
    const t = udpSession();
    const folded = (a: string, b: string) => sipMessage('MESSAGE sip:bob@203.0.113.2 SIP/2.0', [
      `Via: SIP/2.0/UDP ${a}\r\n  ;branch=z9hG4bK-3 ,\r\n\tSIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK-0`,
      'From: <sip:alice@198.51.100.2>;tag=a',
      'To: <sip:bob@203.0.113.2>',
      'Call-ID: c3',
      'CSeq: 1 MESSAGE',
      `Contact:\r\n <sip:alice@${b}>\r\n ;expires=60`,
    ]);
    await t.clientSends(folded('198.51.100.2:5060', '198.51.100.2:5060'));
    expect(t.server.text).toBe(folded('203.0.113.1:61234', '203.0.113.1:61234').replace('From: <sip:alice@198.51.100.2>', 'From: <sip:alice@203.0.113.1>'));
  });

  it('translates only the phone\'s values of multi-valued Via, Contact and Record-Route', async () => {
    const t = udpSession();
    const msg = (me: string, meBare: string) => sipMessage('SIP/2.0 200 OK', [
      `Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bK-s, SIP/2.0/TCP ${me};branch=z9hG4bK-x;maddr=${meBare}`,
      `Record-Route: <sip:${me};lr>, <sip:192.0.2.9;lr>`,
      'From: <sip:carol@203.0.113.2>;tag=c',
      'To: <sip:alice@203.0.113.1>;tag=a',
      'Call-ID: c4',
      'CSeq: 1 INVITE',
      `Contact: "A, B" <sip:alice@${me};transport=udp>;q=0.5, <sip:alice@192.0.2.7:5060>, sip:alice@${me}`,
    ]);
    await t.clientSends(msg('198.51.100.2:5060', '198.51.100.2'));
    expect(t.server.text).toBe(msg('203.0.113.1:61234', '203.0.113.1'));
  });

  it('leaves third parties, host names, other ports of the phone and tel: URIs alone (nothing to rewrite: the same bytes)', async () => {
    const t = udpSession();
    const msg = sipMessage('INVITE tel:+15551234 SIP/2.0', [
      'Via: SIP/2.0/UDP phone.example.org:5060;branch=z9hG4bK-5',
      'From: <sip:alice@192.0.2.7>;tag=a',
      'To: <tel:+15551234>',
      'Call-ID: c5',
      'CSeq: 1 INVITE',
      'Contact: <sip:alice@198.51.100.2:5070>',
      'X-Private: 198.51.100.2:5060',
    ]);
    await t.clientSends(msg);
    expect(t.server.messages).toEqual([Buffer.from(msg, 'latin1')]);
    expect(t.counters).toEqual({});
  });

  it('keeps an unknown method and unknown headers byte for byte, translating what carries the phone\'s address', async () => {
    const t = udpSession();
    const msg = (v: string) => sipMessage('FROBNICATE sip:bob@203.0.113.2 SIP/2.0', [
      `Via:SIP/2.0/UDP ${v};branch=z9hG4bK-6`,
      'From:<sip:alice@203.0.113.2>;tag=a',
      'To :  <sip:bob@203.0.113.2>',
      'Call-ID: c6',
      'CSeq: 1 FROBNICATE',
      'X-Weird-Header:   198.51.100.2  ;;;,,',
      'P-Thing: <sip:198.51.100.2>',
    ], 'opaque body 198.51.100.2');
    await t.clientSends(msg('198.51.100.2'));
    expect(t.server.text).toBe(msg('203.0.113.1:61234'));
  });

  it('translates IPv6 references in brackets and c=IN IP6', async () => {
    const t = udpSession({ client: endpoint('2001:db8:1::2', 5060), server: endpoint('2001:db8:2::2', 5060), boundary: endpoint('2001:db8:2::1', 61234) });
    const msg = (me: string, bare: string, body: string) => sipMessage('INVITE sip:bob@[2001:db8:2::2] SIP/2.0', [
      `Via: SIP/2.0/UDP ${me};branch=z9hG4bK-7;maddr=${bare}`,
      `From: <sip:alice@${me}>;tag=a`,
      'To: <sip:bob@[2001:db8:2::2]>',
      'Call-ID: c7',
      'CSeq: 1 INVITE',
      `Contact: <sip:alice@${me};maddr=${bare}>`,
      'Content-Type: application/sdp',
    ], body);
    // The phone writes its address uncompressed; it is the same address.
    await t.clientSends(msg('[2001:db8:1:0::2]:5060', '[2001:db8:1::2]', sdp('2001:db8:1::2', audio(6000))));
    expect(t.server.text).toBe(msg('[2001:db8:2::1]:61234', '[2001:db8:2::1]', sdp('2001:db8:2::1', audio(61000))));
    expect(t.dataChannels[0]).toMatchObject({ private: { address: '2001:db8:1::2', port: 6000 }, public: { address: '2001:db8:2::1', port: 61000 } });
  });

  it('recomputes Content-Length when the body changes length, and keeps bytes after the body of a datagram', async () => {
    const t = udpSession();
    const body = sdp('198.51.100.2', audio(6000, 'a=rtcp:6001 IN IP4 198.51.100.2\r\n'));
    const out = sdp('203.0.113.1', audio(61000, 'a=rtcp:61001 IN IP4 203.0.113.1\r\n'));
    expect(out.length).not.toBe(body.length);
    await t.clientSends(sipMessage('INVITE sip:bob@203.0.113.2 SIP/2.0', phoneHeaders('c8', '1 INVITE', ['Content-Type: application/sdp']), body) + 'JUNK');
    expect(t.server.text).toBe(sipMessage('INVITE sip:bob@203.0.113.2 SIP/2.0', phoneHeadersOut('c8', '1 INVITE', ['Content-Type: application/sdp']), out) + 'JUNK');
  });
});

describe('SIP plugin: header forms, server to phone', () => {
  it('turns the boundary endpoint back into the phone\'s own form, Via received and rport included', async () => {
    const t = udpSession();
    await t.clientSends(sipMessage('OPTIONS sip:bob@203.0.113.2 SIP/2.0', phoneHeaders('c9', '1 OPTIONS')));
    const reply = (via: string, from: string) => sipMessage('SIP/2.0 200 OK', [
      `Via: ${via}`,
      `From: "Alice" <sip:alice@${from}>;tag=a1`,
      'To: <sip:bob@203.0.113.2>;tag=b',
      'Call-ID: c9',
      'CSeq: 1 OPTIONS',
    ]);
    await t.serverSends(reply('SIP/2.0/UDP 203.0.113.1:61234;branch=z9hG4bK-1;received=203.0.113.1;rport=61234', '203.0.113.1'));
    expect(t.client.text).toBe(reply('SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-1;received=198.51.100.2;rport=5060', '198.51.100.2'));
  });

  it('restores the phone\'s Via without a port as it wrote it', async () => {
    const t = udpSession();
    await t.clientSends(sipMessage('OPTIONS sip:bob@203.0.113.2 SIP/2.0', ['Via: SIP/2.0/UDP 198.51.100.2;branch=z9hG4bK-p', 'From: <sip:a@203.0.113.2>;tag=1', 'To: <sip:b@203.0.113.2>', 'Call-ID: p', 'CSeq: 1 OPTIONS']));
    expect(t.server.text).toContain('Via: SIP/2.0/UDP 203.0.113.1:61234;branch=z9hG4bK-p\r\n');
    await t.serverSends(sipMessage('SIP/2.0 200 OK', ['Via: SIP/2.0/UDP 203.0.113.1:61234;branch=z9hG4bK-p;rport=61234', 'From: <sip:a@203.0.113.2>;tag=1', 'To: <sip:b@203.0.113.2>;tag=2', 'Call-ID: p', 'CSeq: 1 OPTIONS']));
    expect(t.client.text).toBe(sipMessage('SIP/2.0 200 OK', ['Via: SIP/2.0/UDP 198.51.100.2;branch=z9hG4bK-p;rport=5060', 'From: <sip:a@203.0.113.2>;tag=1', 'To: <sip:b@203.0.113.2>;tag=2', 'Call-ID: p', 'CSeq: 1 OPTIONS']));
  });

  it('translates the Request-URI, To and Route of a request from outside, not the server\'s own Via', async () => {
    const t = udpSession();
    const msg = (ruri: string, to: string) => sipMessage(`MESSAGE sip:alice@${ruri};transport=udp SIP/2.0`, [
      'Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bK-s1;rport',
      'Route: <sip:203.0.113.2;lr>',
      'From: <sip:carol@203.0.113.2>;tag=c',
      `To: <sip:alice@${to}>`,
      'Call-ID: c10',
      'CSeq: 3 MESSAGE',
      'Content-Type: text/plain',
    ], 'hello');
    await t.serverSends(msg('203.0.113.1:61234', '203.0.113.1'));
    expect(t.client.text).toBe(msg('198.51.100.2:5060', '198.51.100.2'));
  });

  it('leaves other ports of the gateway alone', async () => {
    const t = udpSession();
    const msg = sipMessage('MESSAGE sip:alice@203.0.113.1:5060 SIP/2.0', ['Via: SIP/2.0/UDP 203.0.113.2;branch=z9hG4bK-s2', 'From: <sip:c@203.0.113.2>;tag=c', 'To: <sip:alice@203.0.113.1:5060>', 'Call-ID: c11', 'CSeq: 1 MESSAGE']);
    await t.serverSends(msg);
    expect(t.client.text).toBe(msg);
  });
});

describe('SIP plugin: over TCP', () => {
  const tcp = () => udpSession({ protocol: 'tcp', client: endpoint('198.51.100.2', 40001) });
  const options = (cseq: number, via: string) => sipMessage('OPTIONS sip:bob@203.0.113.2 SIP/2.0', [
    `Via: SIP/2.0/TCP ${via};branch=z9hG4bK-t${cseq}`,
    'From: <sip:alice@203.0.113.2>;tag=a',
    'To: <sip:bob@203.0.113.2>',
    'Call-ID: t1',
    `CSeq: ${cseq} OPTIONS`,
    `Contact: <sip:alice@${via};transport=tcp>`,
  ]);

  it('translates the phone\'s listening port too (its connection is the only way back), two messages in one segment', async () => {
    const t = tcp();
    await t.clientSends(options(1, '198.51.100.2:5060') + options(2, '198.51.100.2:5060'));
    expect(t.server.messages.map((m) => m.toString('latin1'))).toEqual([options(1, '203.0.113.1:61234'), options(2, '203.0.113.1:61234')]);
  });

  it('waits for the rest of a split message', async () => {
    const t = tcp();
    const whole = options(3, '198.51.100.2:5060');
    await t.clientSends(whole.slice(0, 40));
    expect(t.server.messages).toHaveLength(0);
    await t.clientSends(whole.slice(40, whole.length - 3));
    expect(t.server.messages).toHaveLength(0);
    await t.clientSends(whole.slice(whole.length - 3) + '\r\n\r\n');
    expect(t.server.text).toBe(options(3, '203.0.113.1:61234') + '\r\n\r\n');
  });

  it('gives the phone back its listening port in responses', async () => {
    const t = tcp();
    await t.clientSends(options(4, '198.51.100.2:5060'));
    await t.serverSends(sipMessage('SIP/2.0 200 OK', ['Via: SIP/2.0/TCP 203.0.113.1:61234;branch=z9hG4bK-t4;received=203.0.113.1;rport=61234', 'From: <sip:alice@203.0.113.2>;tag=a', 'To: <sip:bob@203.0.113.2>;tag=b', 'Call-ID: t1', 'CSeq: 4 OPTIONS']));
    expect(t.client.text).toBe(sipMessage('SIP/2.0 200 OK', ['Via: SIP/2.0/TCP 198.51.100.2:5060;branch=z9hG4bK-t4;received=198.51.100.2;rport=40001', 'From: <sip:alice@203.0.113.2>;tag=a', 'To: <sip:bob@203.0.113.2>;tag=b', 'Call-ID: t1', 'CSeq: 4 OPTIONS']));
  });
});

describe('SIP plugin: sessions it does not translate', () => {
  it('passes a published server\'s sessions through untouched', async () => {
    const t = udpSession({ clientSide: 'public' });
    const msg = sipMessage('INVITE sip:bob@203.0.113.2 SIP/2.0', phoneHeaders('c12', '1 INVITE', ['Content-Type: application/sdp']), sdp('198.51.100.2', audio(6000)));
    await t.clientSends(msg);
    expect(t.server.text).toBe(msg);
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ 'published-passthrough': 1 });
  });

  it('passes keepalives as they are', async () => {
    const t = udpSession();
    await t.clientSends('\r\n\r\n');
    expect(t.server.text).toBe('\r\n\r\n');
    expect(t.counters).toEqual({});
  });
});
