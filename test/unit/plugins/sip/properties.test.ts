/**
 * Properties of the SIP plugin over generated input (fast-check): it never
 * throws; what it cannot read goes on unchanged or is dropped, as
 * configured, and is counted; a message it changes is counted as
 * rewritten; the phone's headers come back to it as it wrote them; TCP
 * chunking does not change the result.
 */
import fc from 'fast-check';
import { endpoint } from '@algd/sdk';
import { audio, phoneHeaders, sdp, sipMessage, udpSession } from './sip-fixtures';

const SEEDS: readonly string[] = [
  sipMessage('INVITE sip:bob@203.0.113.2 SIP/2.0', phoneHeaders('p1', '1 INVITE', ['Content-Type: application/sdp']), sdp('198.51.100.2', audio(6000, 'a=rtcp:6001 IN IP4 198.51.100.2\r\n'))),
  sipMessage('REGISTER sip:203.0.113.2 SIP/2.0', phoneHeaders('p2', '1 REGISTER', ['Expires: 60'])),
  sipMessage('SIP/2.0 200 OK', ['Via: SIP/2.0/UDP 203.0.113.1:61234;branch=z9hG4bK-1;rport=61234;received=203.0.113.1', 'f: <sip:a@203.0.113.1>;tag=1', 't: <sip:b@203.0.113.2>;tag=2', 'i: p3', 'CSeq: 1 INVITE', 'm: <sip:b@203.0.113.2>', 'c: application/sdp'], sdp('203.0.113.2', audio(7000))),
  sipMessage('BYE sip:alice@203.0.113.1:61234 SIP/2.0', ['Via: SIP/2.0/UDP 203.0.113.2;branch=z9hG4bK-9,\r\n SIP/2.0/UDP [2001:db8::9]:5060', 'Route: <sip:198.51.100.2;lr;maddr=198.51.100.2>', 'Call-ID: p1', 'CSeq: 2 BYE']),
];

/** Byte-level damage to a message: cut, insert, duplicate or overwrite a range with SIP's own delimiters. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), length: fc.nat({ max: 40 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ unit: fc.constantFrom('\r', '\n', ' ', ':', ';', ',', '<', '>', '[', ']', '"', '=', '0', '9', 'a', '@', '\t', '\x00', '\xff'), maxLength: 8 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.nat({ max: 60 }) }),
);

type Mutation = { readonly kind: 'cut' | 'insert' | 'duplicate'; readonly at: number; readonly length?: number; readonly text?: string };

function mutate(message: string, ms: readonly Mutation[]): string {
  let s = message;
  for (const m of ms) {
    const at = s.length === 0 ? 0 : m.at % s.length;
    if (m.kind === 'cut') s = s.slice(0, at) + s.slice(at + (m.length ?? 0));
    else if (m.kind === 'insert') s = s.slice(0, at) + (m.text ?? '') + s.slice(at);
    else s = s.slice(0, at) + s.slice(at, at + (m.length ?? 0)) + s.slice(at);
  }
  return s;
}

/** Every message a side received is the one sent, unless the plugin counted a rewrite. */
function checkOutcome(t: ReturnType<typeof udpSession>, sent: Buffer, received: readonly Buffer[], drop: boolean): void {
  expect(t.counters['internal-error']).toBeUndefined();
  const unreadable = (t.counters['unparseable-passed'] ?? 0) + (t.counters['unparseable-dropped'] ?? 0);
  if (drop) expect(t.counters['unparseable-passed']).toBeUndefined();
  else expect(t.counters['unparseable-dropped']).toBeUndefined();
  for (const r of received) {
    if (!r.equals(sent)) expect(t.counters.rewritten).toBeGreaterThan(0);
  }
  // One datagram: unreadable, it went on as it was or not at all.
  if (unreadable > 0) expect(received).toEqual(drop ? [] : [sent]);
}

describe('SIP plugin: properties', () => {
  it('never throws on random datagrams; they pass unchanged or are dropped, counted', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.boolean(), fc.boolean(), async (bytes, fromPhone, drop) => {
      const t = udpSession({ options: { onUnparseable: drop ? 'drop' : 'pass' } });
      await (fromPhone ? t.clientSends(bytes) : t.serverSends(bytes));
      checkOutcome(t, Buffer.from(bytes), (fromPhone ? t.server : t.client).messages, drop);
    }), { numRuns: 300 });
  });

  it('never throws on damaged SIP messages, over UDP and TCP, from either side', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean(), fc.constantFrom('udp' as const, 'tcp' as const),
      async (seed, ms, fromPhone, drop, protocol) => {
        const t = udpSession({ protocol, options: { onUnparseable: drop ? 'drop' : 'pass' } });
        const damaged = Buffer.from(mutate(seed, ms), 'latin1');
        await (fromPhone ? t.clientSends(damaged) : t.serverSends(damaged));
        const received = (fromPhone ? t.server : t.client).messages;
        if (protocol === 'udp') checkOutcome(t, damaged, received, drop);
        else expect(t.counters['internal-error']).toBeUndefined();
        // Whatever happened, the state stays plain data and the session keeps working.
        if (!t.closed) await (fromPhone ? t.clientSends(SEEDS[1]!) : t.serverSends(SEEDS[2]!));
      },
    ), { numRuns: 400 });
  });

  it('gives the phone its Via, From, To, Call-ID and CSeq back exactly as it wrote them, whatever the header forms', async () => {
    const name = (full: string, compact: string) => fc.tuple(fc.boolean(), fc.boolean()).map(([c, upper]) => {
      const n = c ? compact : full;
      return upper ? n.toUpperCase() : n;
    });
    const sep = fc.constantFrom(': ', ':', ' : ', ':\t', ':\r\n ');
    await fc.assert(fc.asyncProperty(
      name('Via', 'v'), name('From', 'f'), name('To', 't'), name('Call-ID', 'i'), sep, fc.boolean(), fc.boolean(), fc.nat({ max: 99999 }),
      async (via, from, to, callId, colon, viaPort, v6, branch) => {
        const phone = v6 ? endpoint('2001:db8:1::2', 5060) : endpoint('198.51.100.2', 5060);
        const t = v6
          ? udpSession({ client: phone, server: endpoint('2001:db8:2::2', 5060), boundary: endpoint('2001:db8:2::1', 61234) })
          : udpSession();
        const host = v6 ? '[2001:db8:1::2]' : '198.51.100.2';
        const server = v6 ? '[2001:db8:2::2]' : '203.0.113.2';
        const lines = [
          `${via}${colon}SIP/2.0/UDP ${host}${viaPort ? ':5060' : ''};branch=z9hG4bK-${branch};rport`,
          `${from}${colon}<sip:alice@${host}>;tag=x${branch}`,
          `${to}${colon}<sip:bob@${server}>`,
          `${callId}${colon}prop-${branch}`,
          `CSeq${colon}${branch} OPTIONS`,
        ];
        await t.clientSends(sipMessage(`OPTIONS sip:bob@${server} SIP/2.0`, lines));
        const out = t.server.text;
        expect(out).not.toContain(host);
        // The server answers with the request's headers (RFC 3261 §8.2.6), adding rport and a To tag.
        // Header fields: lines, a folded continuation staying with its field.
        const echoed = out.split(/\r\n(?![ \t])/).slice(1, 6);
        echoed[0] = echoed[0]!.replace(';rport', ';rport=61234');
        echoed[2] += ';tag=srv';
        await t.serverSends(sipMessage('SIP/2.0 200 OK', echoed));
        const back = t.client.text.split(/\r\n(?![ \t])/).slice(1, 6);
        expect(back).toEqual([lines[0]!.replace(';rport', ';rport=5060'), lines[1], `${lines[2]};tag=srv`, lines[3], lines[4]]);
      },
    ), { numRuns: 200 });
  });

  it('cuts a TCP stream anywhere without changing what the server receives', async () => {
    const stream = SEEDS.join('');
    const whole = udpSession({ protocol: 'tcp' });
    await whole.clientSends(stream);
    await fc.assert(fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), async (cuts) => {
      const t = udpSession({ protocol: 'tcp' });
      let from = 0;
      for (const at of [...cuts].sort((a, b) => a - b)) {
        await t.clientSends(stream.slice(from, at));
        from = at;
      }
      await t.clientSends(stream.slice(from));
      expect(t.server.text).toBe(whole.server.text);
      expect(t.dataChannels.map((c) => c.request)).toEqual(whole.dataChannels.map((c) => c.request));
    }), { numRuns: 100 });
  });
});
