import fc from 'fast-check';
import { DEFAULT_MAX_LINE_LENGTH, LineFramer } from '@algd/sdk';
import { bytes, texts, pushAll, cut, violation } from './framing-helpers';

describe('LineFramer', () => {
  it('returns two commands that arrive in one chunk, terminators included', () => {
    const f = new LineFramer();
    expect(texts(f.push(bytes('USER anonymous\r\nPASS guest@\r\n')))).toEqual(['USER anonymous\r\n', 'PASS guest@\r\n']);
    expect(f.buffered).toBe(0);
  });

  it('assembles a command split across three chunks and counts the buffered bytes', () => {
    const f = new LineFramer();
    expect(f.push(bytes('RE'))).toEqual([]);
    expect(f.buffered).toBe(2);
    expect(f.push(bytes('TR fi'))).toEqual([]);
    expect(f.buffered).toBe(7);
    expect(texts(f.push(bytes('le.txt\r\nNO')))).toEqual(['RETR file.txt\r\n']);
    expect(f.buffered).toBe(2);
    expect(texts(f.push(bytes('OP\r\n')))).toEqual(['NOOP\r\n']);
    expect(f.buffered).toBe(0);
  });

  it('gives the same lines when the stream arrives byte by byte', () => {
    const stream = bytes('PORT 192,0,2,1,4,1\r\n200 PORT command successful.\r\nQUIT\n');
    const f = new LineFramer();
    const out: Buffer[] = [];
    for (const b of stream) out.push(...f.push(Uint8Array.of(b)));
    expect(texts(out)).toEqual(['PORT 192,0,2,1,4,1\r\n', '200 PORT command successful.\r\n', 'QUIT\n']);
    expect(f.buffered).toBe(0);
  });

  it('accepts CRLF and bare LF, keeps a lone CR inside a line and a CRLF split between chunks', () => {
    const f = new LineFramer();
    expect(texts(f.push(bytes('A\nB\r\nC\rD\nNOOP\r')))).toEqual(['A\n', 'B\r\n', 'C\rD\n']);
    expect(f.buffered).toBe(5);
    expect(texts(f.push(bytes('\n')))).toEqual(['NOOP\r\n']);
    expect(texts(f.push(bytes('\n\r\n')))).toEqual(['\n', '\r\n']);
  });

  it('passes every byte value through unchanged', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i).filter((b) => b !== 0x0a));
    const f = new LineFramer({ maxLineLength: 1000 });
    const [line] = f.push(Buffer.concat([all, Buffer.of(0x0a)]));
    expect(line).toEqual(Buffer.concat([all, Buffer.of(0x0a)]));
  });

  it('returns copies: changing the pushed chunk afterwards changes neither lines nor the remainder', () => {
    const f = new LineFramer();
    const chunk = bytes('ABC\r\nDEF');
    const [line] = f.push(chunk);
    chunk.fill(0x58);
    expect(line!.toString('latin1')).toBe('ABC\r\n');
    expect(texts(f.push(bytes('\n')))).toEqual(['DEF\n']);
  });

  it('accepts a line of exactly maxLineLength bytes, terminator included', () => {
    expect(texts(new LineFramer({ maxLineLength: 8 }).push(bytes('123456\r\n')))).toEqual(['123456\r\n']);
    expect(texts(new LineFramer({ maxLineLength: 8 }).push(bytes('1234567\n')))).toEqual(['1234567\n']);
    const f = new LineFramer({ maxLineLength: 8 });
    expect(f.push(bytes('123456\r'))).toEqual([]);
    expect(texts(f.push(bytes('\n')))).toEqual(['123456\r\n']);
  });

  it('refuses a line of maxLineLength + 1 bytes before its terminator arrives', () => {
    const f = new LineFramer({ maxLineLength: 8 });
    expect(f.push(bytes('1234567'))).toEqual([]);
    expect(violation(() => f.push(bytes('8')))).toBe('line-too-long');
    expect(violation(() => new LineFramer({ maxLineLength: 8 }).push(bytes('12345678')))).toBe('line-too-long');
    expect(violation(() => new LineFramer({ maxLineLength: 8 }).push(bytes('OK\r\n12345678')))).toBe('line-too-long');
    expect(violation(() => new LineFramer({ maxLineLength: 8 }).push(bytes('1234567\r\n')))).toBe('line-too-long');
  });

  it('refuses byte by byte at the byte that makes the line too long', () => {
    const f = new LineFramer({ maxLineLength: 5 });
    for (const b of bytes('abcd')) expect(f.push(Uint8Array.of(b))).toEqual([]);
    expect(violation(() => f.push(bytes('e')))).toBe('line-too-long');
  });

  it('uses DEFAULT_MAX_LINE_LENGTH by default', () => {
    expect(DEFAULT_MAX_LINE_LENGTH).toBe(512);
    const ok = 'x'.repeat(510) + '\r\n';
    expect(texts(new LineFramer().push(bytes(ok)))).toEqual([ok]);
    const f = new LineFramer();
    expect(f.push(bytes('x'.repeat(511)))).toEqual([]);
    expect(f.buffered).toBe(511);
    expect(violation(() => f.push(bytes('x')))).toBe('line-too-long');
  });

  it('stays failed after a violation', () => {
    const f = new LineFramer({ maxLineLength: 4 });
    expect(violation(() => f.push(bytes('abcdef')))).toBe('line-too-long');
    expect(violation(() => f.push(bytes('\r\n')))).toBe('line-too-long');
    expect(f.buffered).toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses maxLineLength %p', (max) => {
    expect(() => new LineFramer({ maxLineLength: max })).toThrow(RangeError);
  });

  it('handles a long line delivered byte by byte in linear time', () => {
    const n = 400_000;
    const f = new LineFramer({ maxLineLength: n + 2 });
    const one = Uint8Array.of(0x61);
    const started = Date.now();
    for (let i = 0; i < n; i++) f.push(one);
    const [line] = f.push(bytes('\r\n'));
    expect(line!.length).toBe(n + 2);
    expect(line!.subarray(n - 3).toString('latin1')).toBe('aaa\r\n');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  describe('properties', () => {
    const lineArb = fc.tuple(
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b.filter((x) => x !== 0x0a))),
      fc.constantFrom('\r\n', '\n'),
    ).map(([body, end]) => Buffer.concat([body, bytes(end)]));

    it('any chunking of a concatenation of lines yields exactly those lines', () => {
      fc.assert(
        fc.property(fc.array(lineArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (lines, rawCuts) => {
          const stream = Buffer.concat(lines);
          const f = new LineFramer({ maxLineLength: 64 });
          const out = pushAll(f, cut(stream, rawCuts.map((c) => c % (stream.length + 1))));
          expect(out).toEqual(lines);
          expect(f.buffered).toBe(0);
        }),
        { seed: 42, numRuns: 200 },
      );
    });

    it('on arbitrary bytes, lines plus the remainder are the input, each line ends at its only LF', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 20 }), (data, rawCuts) => {
          const f = new LineFramer({ maxLineLength: 1000 });
          const out = pushAll(f, cut(data, rawCuts.map((c) => c % (data.length + 1))));
          const joined = Buffer.concat(out);
          expect(Buffer.from(data.subarray(0, joined.length))).toEqual(joined);
          expect(f.buffered).toBe(data.length - joined.length);
          expect(data.subarray(joined.length).includes(0x0a)).toBe(false);
          for (const line of out) expect(line.indexOf(0x0a)).toBe(line.length - 1);
        }),
        { seed: 42, numRuns: 200 },
      );
    });

    it('a small bound fails only with line-too-long, exactly when some line is too long', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 120 }), fc.array(fc.nat(), { maxLength: 10 }), fc.integer({ min: 1, max: 30 }), (data, rawCuts, max) => {
          const f = new LineFramer({ maxLineLength: max });
          const chunks = cut(data, rawCuts.map((c) => c % (data.length + 1)));
          const v = violation(() => pushAll(f, chunks));
          // Too long: a terminated line longer than max, or an unterminated tail of max bytes or more.
          const segments = Buffer.from(data).toString('latin1').split('\n');
          const tail = segments.pop()!;
          const tooLong = segments.some((s) => s.length + 1 > max) || tail.length >= max;
          expect(v).toBe(tooLong ? 'line-too-long' : undefined);
        }),
        { seed: 42, numRuns: 200 },
      );
    });
  });
});
