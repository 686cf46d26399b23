/**
 * The hostile corpus (test/fixtures/hostile) replayed against the plugin
 * each file is for, through the SDK test kit, and against every SDK framer:
 * no handler throws, every refusal is counted as the case expects, nothing
 * hostile reaches the other peer, no data channel is opened for it; and
 * every framer either frames a case or refuses it with a FramingError,
 * the same way in one push as byte by byte.
 */

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { endpoint, FramingError, LineFramer, SipMessageFramer, type PluginDefinition, type TransportProtocol } from '@algd/sdk';
import { PluginTestSession } from '@algd/sdk/testing';
import ftp from '@algd/plugin-ftp';
import rtsp from '@algd/plugin-rtsp';
import sip from '@algd/plugin-sip';

const CORPUS = join(__dirname, '..', 'fixtures', 'hostile');

type Piece = { readonly from: 'client' | 'server'; readonly data: string } | { readonly from: 'client' | 'server'; readonly repeat: string; readonly times: number };

interface HostileCase {
  readonly name: string;
  readonly protocol?: TransportProtocol;
  readonly send: readonly Piece[];
  /** Should pass and does not yet: the reason (run as it.failing). */
  readonly knownFailure?: string;
  readonly expect: {
    readonly counters?: Record<string, number>;
    readonly closed?: boolean;
    readonly dataChannels?: number;
    readonly serverNotContains?: string;
    readonly clientNotContains?: string;
  };
}

const bytesOf = (p: Piece): Buffer => Buffer.from('data' in p ? p.data : p.repeat.repeat(p.times), 'latin1');

const PLUGINS: Readonly<Record<string, { plugin: PluginDefinition<any, any>; port: number }>> = {
  ftp: { plugin: ftp, port: 21 },
  sip: { plugin: sip, port: 5060 },
  rtsp: { plugin: rtsp, port: 554 },
};

const files = readdirSync(CORPUS).filter((f) => f.endsWith('.json')).sort();

it('the corpus has a file for every built-in plugin', () => {
  expect(files).toEqual(Object.keys(PLUGINS).map((p) => `${p}.json`).sort());
});

for (const file of files) {
  const name = file.replace(/\.json$/, '');
  const cases = JSON.parse(readFileSync(join(CORPUS, file), 'utf8')) as HostileCase[];
  const target = PLUGINS[name]!;

  describe(`${name} plugin: the hostile corpus (${file})`, () => {
    const replay = async (c: HostileCase): Promise<void> => {
      const protocol = c.protocol ?? 'tcp';
      const t = new PluginTestSession(target.plugin, {
        protocol,
        client: endpoint('198.51.100.2', protocol === 'udp' ? target.port : 40000),
        server: endpoint('203.0.113.2', target.port),
        boundary: endpoint('203.0.113.1', protocol === 'udp' ? target.port : 45000),
      });
      for (const piece of c.send) {
        if (t.closed) break;
        // A throw here is a plugin crash: the test fails with it.
        await (piece.from === 'client' ? t.clientSends(bytesOf(piece)) : t.serverSends(bytesOf(piece)));
      }
      const e = c.expect;
      if (e.counters !== undefined) {
        expect(t.counters).toMatchObject(e.counters);
        if (Object.keys(e.counters).length === 0) expect(t.counters).toEqual({});
      }
      if (e.closed !== undefined) expect(t.closed).toBe(e.closed);
      if (e.dataChannels !== undefined) expect(t.dataChannels).toHaveLength(e.dataChannels);
      if (e.serverNotContains !== undefined) expect(t.server.text).not.toContain(e.serverNotContains);
      if (e.clientNotContains !== undefined) expect(t.client.text).not.toContain(e.clientNotContains);
      await t.end();
      expect(t.dataChannels.filter((d) => d.open)).toEqual([]);
    };
    for (const c of cases) {
      if (c.knownFailure === undefined) it(c.name, () => replay(c));
      else it.failing(`${c.name} (known to fail: ${c.knownFailure})`, () => replay(c));
    }
  });
}

describe('every framer on every case of the corpus', () => {
  const all = files.flatMap((f) => (JSON.parse(readFileSync(join(CORPUS, f), 'utf8')) as HostileCase[]).map((c) => ({ file: f, c })));
  const framers = {
    lines: () => new LineFramer(),
    sip: () => new SipMessageFramer(),
    'sip interleaved': () => new SipMessageFramer({ interleaved: true }),
  };

  /** The messages and the violation of a stream: in one push, or byte by byte. */
  function run(make: () => { push(b: Uint8Array): Buffer[] }, stream: Buffer, byteByByte: boolean): { messages: string[]; violation: string | undefined } {
    const framer = make();
    const messages: string[] = [];
    const chunks = byteByByte ? Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1)) : [stream];
    for (const chunk of chunks) {
      try {
        for (const m of framer.push(chunk)) messages.push(m.toString('latin1'));
      } catch (err) {
        if (!(err instanceof FramingError)) throw err;
        for (const m of err.completed) messages.push(m.toString('latin1'));
        return { messages, violation: err.violation };
      }
    }
    return { messages, violation: undefined };
  }

  for (const [kind, make] of Object.entries(framers)) {
    it(`${kind}: frames or refuses with a FramingError, the same in one push as byte by byte`, () => {
      let refused = 0;
      for (const { c } of all) {
        for (const from of ['client', 'server'] as const) {
          const stream = Buffer.concat(c.send.filter((p) => p.from === from).map(bytesOf));
          if (stream.length === 0) continue;
          const whole = run(make, stream, false);
          // Byte by byte on the big cases only up to the first 70000 bytes: enough to pass every bound.
          const split = run(make, stream.length > 70_000 ? stream.subarray(0, 70_000) : stream, true);
          if (stream.length <= 70_000) expect(split).toEqual(whole);
          if (whole.violation !== undefined) refused++;
        }
      }
      expect(refused).toBeGreaterThan(0);
    });
  }
});
