import fc from 'fast-check';
import { checkSipDatagram, DEFAULT_MAX_MESSAGE_SIZE, SipMessageFramer, type SipMessageFramerOptions } from '@algd/sdk';
import { bytes, texts, pushAll, cut, violation } from './framing-helpers';

/** Frames `stream` pushed in one chunk. */
function frame(stream: string, options?: SipMessageFramerOptions): string[] {
  return texts(new SipMessageFramer(options).push(bytes(stream)));
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 198.51.100.2\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n';
const INVITE =
  'INVITE sip:bob@203.0.113.2 SIP/2.0\r\n' +
  'Via: SIP/2.0/TCP 198.51.100.2:5060;branch=z9hG4bK776asdhds\r\n' +
  'Content-Type: application/sdp\r\n' +
  `Content-Length: ${SDP.length}\r\n` +
  '\r\n' +
  SDP;
const OPTIONS = 'OPTIONS sip:203.0.113.2 SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n';
const BYE = 'BYE sip:bob@203.0.113.2 SIP/2.0\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n';

describe('SipMessageFramer', () => {
  it('assembles a message whose headers and body are split across chunks', () => {
    const f = new SipMessageFramer();
    const headerEnd = INVITE.indexOf('\r\n\r\n');
    const pieces = [INVITE.slice(0, 20), INVITE.slice(20, headerEnd + 3), INVITE.slice(headerEnd + 3, headerEnd + 10), INVITE.slice(headerEnd + 10)];
    expect(f.push(bytes(pieces[0]!))).toEqual([]);
    expect(f.buffered).toBe(20);
    expect(f.push(bytes(pieces[1]!))).toEqual([]);
    expect(f.push(bytes(pieces[2]!))).toEqual([]);
    expect(f.buffered).toBe(headerEnd + 10);
    expect(texts(f.push(bytes(pieces[3]!)))).toEqual([INVITE]);
    expect(f.buffered).toBe(0);
  });

  it('returns two messages that arrive in one chunk, and keeps the start of a third', () => {
    const f = new SipMessageFramer();
    expect(texts(f.push(bytes(INVITE + BYE + 'OPTIONS sip:')))).toEqual([INVITE, BYE]);
    expect(f.buffered).toBe('OPTIONS sip:'.length);
    expect(texts(f.push(bytes(OPTIONS.slice('OPTIONS sip:'.length))))).toEqual([OPTIONS]);
  });

  it('gives the same messages byte by byte', () => {
    const stream = bytes(INVITE + '\r\n\r\n' + BYE);
    const f = new SipMessageFramer();
    const out: Buffer[] = [];
    for (const b of stream) out.push(...f.push(Uint8Array.of(b)));
    expect(texts(out)).toEqual([INVITE, '\r\n', '\r\n', BYE]);
  });

  it('does not mistake an empty line inside the body for the end of a message', () => {
    const body = 'a\r\n\r\nb\n\nc';
    const msg = `MESSAGE sip:x SIP/2.0\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    expect(frame(msg + OPTIONS)).toEqual([msg, OPTIONS]);
  });

  it.each([
    ['compact form', 'l: 4'],
    ['compact form, upper case, no spaces', 'L:4'],
    ['any case', 'content-LENGTH: 4'],
    ['spaces and tabs around the colon and value', 'Content-Length \t:\t 4 \t'],
    ['leading zeros', 'Content-Length: 0004'],
    ['a folded value', 'Content-Length:\r\n 4'],
    ['the same value twice', 'Content-Length: 4\r\nl: 04'],
  ])('reads the body length from %s', (_name, header) => {
    const msg = `SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n${header}\r\n\r\nbody`;
    expect(frame(msg + BYE)).toEqual([msg, BYE]);
  });

  it('ignores headers that merely contain or resemble Content-Length', () => {
    const msg = 'SIP/2.0 200 OK\r\nX-Content-Length: 4\r\nLength: 4\r\nSubject: l: 4\r\n\r\n';
    expect(frame(msg + 'body')).toEqual([msg]);
  });

  it('takes a missing Content-Length as an empty body', () => {
    const f = new SipMessageFramer();
    expect(texts(f.push(bytes(OPTIONS + 'INFO')))).toEqual([OPTIONS]);
    expect(f.buffered).toBe(4);
  });

  it('accepts LFLF and mixed empty lines as the end of the headers', () => {
    const lf = 'OPTIONS sip:x SIP/2.0\nl: 2\n\nhi';
    const mixed = 'OPTIONS sip:x SIP/2.0\r\nl: 2\r\n\nhi';
    expect(frame(lf + mixed)).toEqual([lf, mixed]);
  });

  it.each([
    ['non-numeric', 'Content-Length: abc'],
    ['empty', 'Content-Length:'],
    ['negative', 'Content-Length: -1'],
    ['signed', 'Content-Length: +1'],
    ['fractional', 'Content-Length: 1.5'],
    ['hexadecimal', 'Content-Length: 0x10'],
    ['two numbers', 'Content-Length: 5 5'],
    ['a list', 'Content-Length: 5, 5'],
    ['conflicting', 'Content-Length: 5\r\nl: 6'],
    ['conflicting, same name', 'Content-Length: 0\r\nContent-Length: 10'],
  ])('refuses a %s Content-Length', (_name, header) => {
    const msg = `INVITE sip:x SIP/2.0\r\n${header}\r\n\r\n`;
    expect(violation(() => new SipMessageFramer().push(bytes(msg)))).toBe('bad-content-length');
    expect(violation(() => checkSipDatagram(bytes(msg + 'xxxxxxxxxx')))).toBe('bad-content-length');
  });

  it('accepts a message of exactly maxMessageSize bytes', () => {
    const msg = 'A\r\nl: 3\r\n\r\nabc';
    expect(frame(msg, { maxMessageSize: msg.length })).toEqual([msg]);
  });

  it('refuses headers that grow past the bound before their end arrives', () => {
    const f = new SipMessageFramer({ maxMessageSize: 30 });
    expect(f.push(bytes('INVITE sip:x SIP/2.0\r\nVia: '))).toEqual([]);
    expect(f.buffered).toBe(27);
    expect(f.push(bytes('SI'))).toEqual([]);
    expect(f.buffered).toBe(29);
    expect(violation(() => f.push(bytes('P')))).toBe('message-too-large');
    // The same, with no LF at all.
    expect(violation(() => new SipMessageFramer({ maxMessageSize: 30 }).push(bytes('x'.repeat(30))))).toBe('message-too-large');
  });

  it('refuses a declared body that exceeds the bound as soon as the headers end, before the body arrives', () => {
    const headers = 'INVITE sip:x SIP/2.0\r\nContent-Length: 100\r\n\r\n';
    const f = new SipMessageFramer({ maxMessageSize: headers.length + 99 });
    expect(violation(() => f.push(bytes(headers)))).toBe('message-too-large');
    expect(violation(() => new SipMessageFramer().push(bytes('INVITE sip:x SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n')))).toBe('message-too-large');
    const fits = `${headers}${'b'.repeat(100)}`;
    expect(frame(fits, { maxMessageSize: fits.length })).toEqual([fits]);
  });

  it('uses DEFAULT_MAX_MESSAGE_SIZE by default', () => {
    expect(DEFAULT_MAX_MESSAGE_SIZE).toBe(65_535);
    const head = 'MESSAGE sip:x SIP/2.0\r\nContent-Length: ';
    const make = (total: number): string => {
      for (let body = total; body >= 0; body--) {
        const m = `${head}${body}\r\n\r\n`;
        if (m.length + body === total) return m + 'z'.repeat(body);
      }
      throw new Error('no such size');
    };
    expect(frame(make(65_535))).toHaveLength(1);
    expect(violation(() => frame(make(65_536)))).toBe('message-too-large');
  });

  it('returns keepalive empty lines before a message as messages of their own, unchanged', () => {
    expect(frame('\r\n\r\n' + OPTIONS + '\r\n' + '\n' + BYE)).toEqual(['\r\n', '\r\n', OPTIONS, '\r\n', '\n', BYE]);
    const f = new SipMessageFramer();
    expect(f.push(bytes('\r'))).toEqual([]);
    expect(f.buffered).toBe(1);
    expect(texts(f.push(bytes('\n\r')))).toEqual(['\r\n']);
    expect(texts(f.push(bytes('\n')))).toEqual(['\r\n']);
  });

  it('refuses a message that starts with a CR not followed by LF', () => {
    expect(violation(() => frame('\rINVITE sip:x SIP/2.0\r\n\r\n'))).toBe('bad-start-line');
  });

  it('returns RTSP interleaved frames between messages whole, with interleaved', () => {
    const reply = 'RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 12345678\r\n\r\n';
    const rtp = Buffer.concat([bytes('$'), Buffer.of(0, 0, 5), bytes('\r\n\r\n$')]);
    const rtcp = Buffer.concat([bytes('$'), Buffer.of(1, 0, 0)]);
    const big = Buffer.concat([bytes('$'), Buffer.of(2, 0x01, 0x00), Buffer.alloc(256, 0x0a)]);
    const teardown = 'TEARDOWN rtsp://203.0.113.2/stream RTSP/1.0\r\nCSeq: 4\r\n\r\n';
    const stream = Buffer.concat([bytes(reply), rtp, rtcp, big, bytes(teardown)]);
    const expected = [bytes(reply), rtp, rtcp, big, bytes(teardown)];
    expect(new SipMessageFramer({ interleaved: true }).push(stream)).toEqual(expected);
    const f = new SipMessageFramer({ interleaved: true });
    const out: Buffer[] = [];
    for (const b of stream) out.push(...f.push(Uint8Array.of(b)));
    expect(out).toEqual(expected);
  });

  it('treats $ as an ordinary first byte without interleaved', () => {
    const msg = '$ odd start line\r\nl: 1\r\n\r\nx';
    expect(frame(msg)).toEqual([msg]);
  });

  it('refuses an interleaved frame larger than the bound from its 4-byte prefix', () => {
    const f = new SipMessageFramer({ interleaved: true, maxMessageSize: 100 });
    expect(f.push(Buffer.of(0x24, 0, 0))).toEqual([]);
    expect(violation(() => f.push(Buffer.of(97)))).toBe('message-too-large');
    expect(new SipMessageFramer({ interleaved: true, maxMessageSize: 100 }).push(Buffer.concat([Buffer.of(0x24, 0, 0, 96), Buffer.alloc(96)]))).toHaveLength(1);
  });

  it('returns copies that keep every byte value', () => {
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const msg = Buffer.concat([bytes('MESSAGE sip:x SIP/2.0\r\nl: 256\r\n\r\n'), body]);
    const chunk = Buffer.from(msg);
    const [out] = new SipMessageFramer().push(chunk);
    chunk.fill(0);
    expect(out).toEqual(msg);
  });

  it('stays failed after a violation', () => {
    const f = new SipMessageFramer();
    expect(violation(() => f.push(bytes('INVITE x SIP/2.0\r\nl: -1\r\n\r\n')))).toBe('bad-content-length');
    expect(violation(() => f.push(bytes(OPTIONS)))).toBe('bad-content-length');
    expect(f.buffered).toBe(0);
  });

  it.each([0, -5, 2.5])('refuses maxMessageSize %p', (max) => {
    expect(() => new SipMessageFramer({ maxMessageSize: max })).toThrow(RangeError);
    expect(() => checkSipDatagram(bytes(OPTIONS), { maxMessageSize: max })).toThrow(RangeError);
  });

  it('handles long headers delivered byte by byte in linear time', () => {
    const n = 400_000;
    const f = new SipMessageFramer({ maxMessageSize: 1_000_000 });
    f.push(bytes('INVITE sip:x SIP/2.0\r\nX: '));
    const one = bytes('a');
    const started = Date.now();
    for (let i = 0; i < n; i++) f.push(one);
    const out = f.push(bytes('\r\nl: 1\r\n\r\nb'));
    expect(out).toHaveLength(1);
    expect(out[0]!.length).toBe(25 + n + 11);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  describe('properties', () => {
    const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-'), minLength: 1, maxLength: 12 });
    const value = fc.string({ unit: fc.constantFrom(...' \t:;,=<>@./abcXYZ0123456789"'), maxLength: 30 });
    const eol = fc.constantFrom('\r\n', '\n');
    const lengthHeader = (n: number): fc.Arbitrary<string> =>
      fc.tuple(fc.constantFrom('Content-Length', 'content-length', 'CONTENT-LENGTH', 'l', 'L'), fc.constantFrom('', ' ', '\t'), fc.constantFrom('', ' ', '  '), fc.constantFrom('', '0', '00'))
        .map(([name, before, after, zeros]) => `${name}${before}:${after}${zeros}${n}`);
    const message: fc.Arbitrary<Buffer> = fc
      .record({
        start: fc.constantFrom('INVITE sip:bob@203.0.113.2 SIP/2.0', 'SIP/2.0 200 OK', 'SETUP rtsp://203.0.113.2/s RTSP/1.0', 'RTSP/1.0 200 OK', 'GET / HTTP/1.1'),
        headers: fc.array(fc.tuple(fc.string({ unit: fc.constantFrom('X', 'Y', 'Z'), minLength: 1, maxLength: 1 }), token, value).map(([p, n, v]) => `${p}-${n}: ${v}`), { maxLength: 5 }),
        body: fc.option(fc.uint8Array({ maxLength: 80 }), { nil: undefined }),
        eol,
      })
      .chain(({ start, headers, body, eol: e }) =>
        (body === undefined ? fc.constant<string | undefined>(undefined) : lengthHeader(body.length)).chain((cl) =>
          fc.nat({ max: headers.length }).map((at) => {
            const all = cl === undefined ? headers : [...headers.slice(0, at), cl, ...headers.slice(at)];
            return Buffer.concat([bytes([start, ...all].map((l) => l + e).join('') + e), body ?? Buffer.alloc(0)]);
          }),
        ),
      );
    const keepalive = fc.constantFrom(bytes('\r\n'), bytes('\n'));
    const frameArb = fc.tuple(fc.nat({ max: 255 }), fc.uint8Array({ maxLength: 40 })).map(([ch, payload]) =>
      Buffer.concat([Buffer.of(0x24, ch, payload.length >> 8, payload.length & 0xff), payload]),
    );

    it('any chunking of a concatenation of messages, keepalives and interleaved frames yields exactly them', () => {
      fc.assert(
        fc.property(fc.array(fc.oneof({ weight: 4, arbitrary: message }, keepalive, frameArb), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (messages, rawCuts) => {
          const stream = Buffer.concat(messages);
          const f = new SipMessageFramer({ interleaved: true, maxMessageSize: 2000 });
          const out = pushAll(f, cut(stream, rawCuts.map((c) => c % (stream.length + 1))));
          expect(out).toEqual(messages);
          expect(f.buffered).toBe(0);
        }),
        { seed: 42, numRuns: 200 },
      );
    });

    it('each generated message, alone in a datagram, passes checkSipDatagram, and fails it when cut short inside its headers', () => {
      fc.assert(
        fc.property(message, fc.nat(), (msg, at) => {
          expect(() => checkSipDatagram(msg)).not.toThrow();
          const headerEnd = msg.toString('latin1').search(/\n\r?\n/);
          const shortened = msg.subarray(0, 1 + (at % headerEnd));
          expect(violation(() => checkSipDatagram(shortened))).toBe('truncated-message');
        }),
        { seed: 42, numRuns: 200 },
      );
    });

    it('arbitrary bytes make the framer and the datagram check throw nothing but FramingError', () => {
      const noise = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.string({ unit: fc.constantFrom('\r', '\n', '$', ':', ' ', 'l', 'L', '-', '1', '9', 'Content-Length', 'A'), maxLength: 60 }).map(bytes),
      );
      fc.assert(
        fc.property(noise, fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (data, rawCuts, interleaved) => {
          const f = new SipMessageFramer({ interleaved, maxMessageSize: 100 });
          const v = violation(() => pushAll(f, cut(data, rawCuts.map((c) => c % (data.length + 1)))));
          if (v === undefined) expect(f.buffered).toBeLessThanOrEqual(data.length);
          violation(() => checkSipDatagram(data, { maxMessageSize: 100 }));
        }),
        { seed: 42, numRuns: 200 },
      );
    });
  });
});

describe('checkSipDatagram', () => {
  const check = (text: string, maxMessageSize?: number): string | undefined => violation(() => checkSipDatagram(bytes(text), { maxMessageSize }));

  it('accepts one whole message, with or without a body', () => {
    expect(check(INVITE)).toBeUndefined();
    expect(check(OPTIONS)).toBeUndefined();
    expect(check('OPTIONS sip:x SIP/2.0\nl:0\n\n')).toBeUndefined();
  });

  it('accepts a body without Content-Length, and bytes beyond the declared body', () => {
    expect(check('MESSAGE sip:x SIP/2.0\r\n\r\nhello')).toBeUndefined();
    expect(check('MESSAGE sip:x SIP/2.0\r\nl: 2\r\n\r\nhello')).toBeUndefined();
  });

  it('accepts keepalives made only of empty lines', () => {
    expect(check('\r\n\r\n')).toBeUndefined();
    expect(check('\r\n')).toBeUndefined();
    expect(check('\n')).toBeUndefined();
  });

  it('refuses headers without their empty line', () => {
    expect(check('INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.2\r\n')).toBe('truncated-message');
    expect(check('INVITE sip:x SIP/2.0')).toBe('truncated-message');
    expect(check('')).toBe('truncated-message');
    expect(check('\r')).toBe('bad-start-line');
  });

  it('refuses a Content-Length larger than the bytes that follow the headers', () => {
    expect(check(INVITE.slice(0, -1))).toBe('truncated-message');
    expect(check('MESSAGE sip:x SIP/2.0\r\nl: 6\r\n\r\nhello')).toBe('truncated-message');
  });

  it('refuses a bad Content-Length', () => {
    expect(check('MESSAGE sip:x SIP/2.0\r\nl: 5\r\nContent-Length: 4\r\n\r\nhello')).toBe('bad-content-length');
  });

  it('refuses a datagram larger than the bound, and accepts one at the bound', () => {
    expect(check(OPTIONS, OPTIONS.length - 1)).toBe('message-too-large');
    expect(check(OPTIONS, OPTIONS.length)).toBeUndefined();
  });

  it('refuses empty lines followed by a message: the datagram must start at its start line', () => {
    expect(check('\r\n' + OPTIONS)).toBe('bad-start-line');
  });
});
