/**
 * Properties of the RTSP plugin on generated input: malformed Transport
 * headers and random messages never make it throw, and whatever it sends
 * on is either the message unchanged or a valid rewrite of it.
 */

import fc from 'fast-check';
import { endpoint } from '@algd/sdk';
import { PluginTestSession } from '@algd/sdk/testing';
import rtsp, { DEFAULT_RTSP_OPTIONS, parsePortRange, parseRtspMessage, parseTransportHeader, transportKind } from '@algd/plugin-rtsp';

const CLIENT = endpoint('198.51.100.2', 40000);
const SERVER = endpoint('203.0.113.2', 554);
const session = () => new PluginTestSession(rtsp, { client: CLIENT, server: SERVER, boundary: endpoint('203.0.113.1', 45000) });
const PUBLIC = { from: 61000, to: 64999 };

const setup = (transport: string) => `SETUP rtsp://203.0.113.2/cam/track1 RTSP/1.0\r\nCSeq: 7\r\nTransport: ${transport}\r\n\r\n`;

/** Pieces a Transport header is made of, well formed or not. */
const portText = fc.oneof(
  fc.integer({ min: 0, max: 70000 }).map(String),
  fc.tuple(fc.integer({ min: 0, max: 70000 }), fc.integer({ min: 0, max: 70000 })).map(([a, b]) => `${a}-${b}`),
  fc.integer({ min: 1, max: 65000 }).map((a) => `${a}-${a + 1}`),
  fc.constantFrom('', '-', '5000-', '-5001', '+5000', '0x10', '5000-5001-5002'),
);
const address = fc.constantFrom('198.51.100.2', '192.0.2.9', '203.0.113.2', '2001:db8::2', '[2001:db8::2]', 'host.example', '198.51.100.256', '');
const junk = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '9', ' ', '\t', '"', ';', ',', '=', '-', '/', '[', ']', ':', '\x00', '\x7f', '\xe9'), maxLength: 12 });
const param = fc.oneof(
  fc.constantFrom('unicast', 'multicast', 'append', 'UNICAST', ' unicast ', ''),
  portText.map((p) => `client_port=${p}`),
  portText.map((p) => `Client_Port = ${p}`),
  portText.map((p) => `server_port=${p}`),
  portText.map((p) => `interleaved=${p}`),
  address.map((a) => `destination=${a}`),
  address.map((a) => `source=${a}`),
  fc.constantFrom('destination', 'mode="PLAY"', 'mode=record', 'ttl=16', 'ssrc=0A1B2C3D', 'mode="PLAY,RECORD"'),
  junk,
  fc.tuple(junk, junk).map(([n, v]) => `${n}=${v}`),
);
const protocol = fc.constantFrom('RTP/AVP', 'RTP/AVP/UDP', 'RTP/AVP/TCP', 'rtp/avp', 'RTP/SAVPF', 'RAW/RAW/UDP', 'RTP', 'RTP/AVP/UDP/X', '', 'RTP /AVP');
const messy = fc.tuple(protocol, fc.array(param, { maxLength: 6 })).map(([p, ps]) => [p, ...ps].join(';'));
/** Mostly well formed, so that rewrites are exercised as much as refusals. */
const wellFormed = fc.tuple(
  fc.constantFrom('RTP/AVP', 'RTP/AVP/UDP', 'RTP/AVP/TCP', 'RTP/SAVP'),
  fc.constantFrom('unicast', 'multicast', 'unicast;destination=198.51.100.2', 'unicast;destination=192.0.2.9', 'unicast; mode="PLAY"'),
  fc.oneof(fc.integer({ min: 1, max: 65535 }).map(String), fc.integer({ min: 1, max: 65534 }).map((a) => `${a}-${a + 1}`)),
).map(([p, kind, ports]) => (p.endsWith('TCP') ? `${p};${kind};interleaved=0-1` : `${p};${kind};client_port=${ports}`));
const alternative = fc.oneof({ weight: 4, arbitrary: wellFormed }, { weight: 1, arbitrary: messy });
const transportValue = fc.tuple(fc.array(alternative, { minLength: 1, maxLength: 6 }), fc.constantFrom(',', ', ', ' ,')).map(([alts, sep]) => alts.join(sep));

/** The Transport header's value of a message the plugin sent on. */
function transportOf(text: string): string | undefined {
  const m = parseRtspMessage(Buffer.from(text, 'latin1'), DEFAULT_RTSP_OPTIONS);
  if (m.kind === 'unread') return undefined;
  return m.headers.find((h) => h.key === 'transport')?.value;
}

/** Each rewritten alternative differs from one the client sent only in its client_port (now a reserved pair) and destination= (now the public address). */
function checkRewrite(sent: string, received: string): void {
  expect(received.replace(/^Transport: .*$/m, '')).toBe(sent.replace(/^Transport: .*$/m, ''));
  const before = parseTransportHeader(transportOf(sent)!)!;
  const after = parseTransportHeader(transportOf(received)!)!;
  expect(before).toBeDefined();
  expect(after).toBeDefined();
  expect(after.length).toBeLessThanOrEqual(before.length);
  const bare = (x: (typeof after)[number]) => x.pieces.map((piece) => piece.trim()).join(';');
  for (const alt of after) {
    if (before.some((b) => bare(b) === bare(alt))) continue;
    const twin = before.find((b) => b.protocol === alt.protocol && b.params.length === alt.params.length
      && b.params.every((p, i) => p.name === alt.params[i]!.name && (p.value === alt.params[i]!.value || p.name === 'client_port' || p.name === 'destination')));
    expect(twin).toBeDefined();
    expect(transportKind(alt)).toBe('udp-unicast');
    const range = parsePortRange(alt.params.find((p) => p.name === 'client_port')!.value!)!;
    expect(range.first % 2).toBe(0);
    expect(range.first).toBeGreaterThanOrEqual(PUBLIC.from);
    expect(range.first).toBeLessThan(PUBLIC.to);
    if (range.second !== undefined) expect(range.second).toBe(range.first + 1);
    const destination = alt.params.find((p) => p.name === 'destination')?.value;
    if (destination) expect(destination).toBe('203.0.113.1');
  }
}

describe('RTSP plugin properties', () => {
  it('a SETUP with any Transport header: never throws; sent on unchanged, as a valid rewrite, or answered with 453', async () => {
    await fc.assert(fc.asyncProperty(transportValue, async (value) => {
      const t = session();
      const sent = setup(value);
      await t.clientSends(sent);
      if (t.server.text === '') {
        expect(t.client.text).toBe('RTSP/1.0 453 Not Enough Bandwidth\r\nCSeq: 7\r\n\r\n');
      } else if (t.server.text !== sent) {
        checkRewrite(sent, t.server.text);
      }
      for (const c of t.dataChannels) expect(c.private.address).toBe('198.51.100.2');
      // Every open channel belongs to a held pair.
      const held = t.reservations.filter((r) => !r.released).flatMap((r) => r.ports);
      for (const c of t.dataChannels.filter((d) => d.open)) expect(held).toContain(c.public.port);
    }), { numRuns: 400 });
  });

  it('any reply to a mapped SETUP: never throws; the client gets it unchanged or with its own ports back', async () => {
    // Half the replies name one of the pairs the SETUP announced (61000-61001, 61002-61003), with anything after.
    const naming = fc.tuple(fc.constantFrom('61000-61001', '61002-61003', '61000', '61002', '61001-61002'), fc.array(param, { maxLength: 3 }))
      .map(([ports, ps]) => ['RTP/AVP;unicast', `client_port=${ports}`, ...ps].join(';'));
    await fc.assert(fc.asyncProperty(fc.oneof(transportValue, naming), fc.constantFrom(200, 200, 204, 400, 461), async (value, status) => {
      const t = session();
      await t.clientSends(setup('RTP/AVP;unicast;client_port=5000-5001,RTP/AVP;unicast;client_port=5002-5003'));
      const answer = `RTSP/1.0 ${status} OK\r\nCSeq: 7\r\nSession: s1\r\nTransport: ${value}\r\n\r\n`;
      await t.serverSends(answer);
      const got = t.client.text;
      if (got !== answer) {
        expect(got.replace(/^Transport: .*$/m, '')).toBe(answer.replace(/^Transport: .*$/m, ''));
        const [chosen] = parseTransportHeader(transportOf(got)!)!;
        expect(['5000-5001', '5002-5003']).toContain(chosen!.params.find((p) => p.name === 'client_port')?.value);
      }
      // A reply the plugin could not read (a control character) matches no SETUP: its pairs wait for the session's end.
      if (Object.keys(t.counters).some((k) => k.startsWith('unread-'))) {
        expect(got).toBe(answer);
        expect(t.state?.pending.size).toBe(1);
        return;
      }
      // At most one stream is left, on the pair its channels use.
      const open = t.dataChannels.filter((c) => c.open);
      expect(open.length === 0 || open.length === 2).toBe(true);
      expect(t.reservations.filter((r) => !r.released).length).toBe(open.length / 2);
      expect(t.state?.pending.size).toBe(0);
    }), { numRuns: 300 });
  });

  it('random bytes in either direction never make the plugin throw, and only the client is ever mapped', async () => {
    const head = fc.constantFrom('SETUP rtsp://x RTSP/1.0\r\n', 'RTSP/1.0 200 OK\r\n', 'TEARDOWN * RTSP/1.0\r\n', 'OPTIONS * RTSP/1.0\r\nSession: s1\r\n', '$\x00', '');
    const line = fc.oneof(
      fc.constantFrom('CSeq: 7\r\n', 'Session: s1;timeout=5\r\n', 'Transport: RTP/AVP;client_port=5000-5001\r\n', 'Transport: RTP/AVP;client_port=61000-61001;server_port=1-2\r\n', 'Content-Length: 3\r\n', '\r\n', ' folded\r\n'),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    const message = fc.tuple(head, fc.array(line, { maxLength: 8 })).map(([h, ls]) => h + ls.join(''));
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), message), { minLength: 1, maxLength: 6 }), async (script) => {
      const t = session();
      for (const [fromClient, text] of script) {
        if (t.closed) break;
        await (fromClient ? t.clientSends(text) : t.serverSends(text));
      }
      expect(t.counters['internal-error']).toBeUndefined();
      for (const c of t.dataChannels) expect(c.private.address).toBe('198.51.100.2');
    }), { numRuns: 400 });
  });

  it('whichever offered UDP alternative the server picks, the client sees its own ports and the pair is restricted to the server', async () => {
    const offer = fc.uniqueArray(fc.integer({ min: 512, max: 32000 }), { minLength: 1, maxLength: 4 }).chain((bases) => fc.tuple(
      fc.constant(bases.map((b) => 2 * b)),
      fc.nat({ max: bases.length - 1 }),
      fc.integer({ min: 1024, max: 65000 }),
    ));
    await fc.assert(fc.asyncProperty(offer, async ([ports, pick, serverPort]) => {
      const t = session();
      await t.clientSends(setup(ports.map((p) => `RTP/AVP;unicast;client_port=${p}-${p + 1}`).join(',')));
      const announced = parseTransportHeader(transportOf(t.server.text)!)!;
      const publicPorts = announced[pick]!.params.find((p) => p.name === 'client_port')!.value!;
      await t.serverSends(`RTSP/1.0 200 OK\r\nCSeq: 7\r\nSession: s1\r\nTransport: RTP/AVP;unicast;client_port=${publicPorts};server_port=${serverPort}-${serverPort + 1}\r\n\r\n`);
      expect(transportOf(t.client.text)).toBe(`RTP/AVP;unicast;client_port=${ports[pick]}-${ports[pick]! + 1};server_port=${serverPort}-${serverPort + 1}`);
      expect(t.dataChannels.filter((c) => c.open).map((c) => [c.private.port, `${c.public.port}`, c.request.remote])).toEqual([
        [ports[pick], publicPorts.split('-')[0], { address: '203.0.113.2', port: serverPort }],
        [ports[pick]! + 1, publicPorts.split('-')[1], { address: '203.0.113.2', port: serverPort + 1 }],
      ]);
    }), { numRuns: 200 });
  });
});
