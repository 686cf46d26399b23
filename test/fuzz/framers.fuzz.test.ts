/**
 * The SDK framers under arbitrary input: they never throw anything but a
 * FramingError, never return a message over their bound, lose or invent no
 * byte, and cut a stream the same way however it is split into chunks
 * (split-anywhere equivalence: TCP segments are the sender's to choose).
 */

import fc from 'fast-check';
import { checkDatagram, checkSipDatagram, createStreamFramer, FramingError, LineFramer, SipMessageFramer, type StreamFramer } from '@algd/sdk';
import { cutAt, cuts, ftpStream, sipStream } from './streams';
import { FUZZ_TEST_TIMEOUT_MS, fuzzParams } from './fuzz-settings';

jest.setTimeout(FUZZ_TEST_TIMEOUT_MS);

interface Framed {
  /** Every message returned, including those a failing push still completed. */
  readonly messages: string[];
  /** The violation that ended the stream, if any. */
  readonly violation: string | undefined;
  /** Bytes held back at the end (without a violation). */
  readonly rest: string;
}

/** Feeds `chunks` in order until the framer fails; anything but a FramingError fails the property. */
function frame(framer: StreamFramer, chunks: readonly Uint8Array[]): Framed {
  const messages: string[] = [];
  for (const chunk of chunks) {
    try {
      for (const m of framer.push(chunk)) messages.push(m.toString('latin1'));
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      for (const m of err.completed) messages.push(m.toString('latin1'));
      // A failed framer stays failed: the next push throws the same error.
      expect(() => framer.push(Buffer.from('x'))).toThrow(err);
      return { messages, violation: err.violation, rest: '' };
    }
  }
  const buffered = framer.buffered;
  const rest = framer.flush().toString('latin1');
  expect(rest.length).toBe(buffered);
  return { messages, violation: undefined, rest };
}

const lineFramer = (max: number): StreamFramer => new LineFramer({ maxLineLength: max });
const sipFramer = (max: number, interleaved: boolean): StreamFramer => new SipMessageFramer({ maxMessageSize: max, interleaved });

describe('LineFramer', () => {
  const stream = fc.oneof(ftpStream(), fc.uint8Array({ maxLength: 600 }));
  const max = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant(512));

  it('split anywhere: the same lines, the same violation, the same remainder as in one push', () => {
    fc.assert(fc.property(stream, cuts(), max, (bytes, at, m) => {
      const whole = frame(lineFramer(m), [bytes]);
      const split = frame(lineFramer(m), cutAt(bytes, at));
      expect(split).toEqual(whole);
    }), fuzzParams(400));
  });

  it('every line ends with its only LF, within the bound; without a violation nothing is lost or invented', () => {
    fc.assert(fc.property(stream, cuts(), max, (bytes, at, m) => {
      const r = frame(lineFramer(m), cutAt(bytes, at));
      for (const line of r.messages) {
        expect(line.length).toBeLessThanOrEqual(m);
        expect(line.indexOf('\n')).toBe(line.length - 1);
      }
      const text = Buffer.from(bytes).toString('latin1');
      if (r.violation === undefined) {
        expect(r.messages.join('') + r.rest).toBe(text);
        expect(r.rest).not.toContain('\n');
      } else {
        expect(r.violation).toBe('line-too-long');
        // What came out is a prefix of the stream: nothing reordered or altered.
        expect(text.startsWith(r.messages.join(''))).toBe(true);
      }
    }), fuzzParams(400));
  });
});

describe('SipMessageFramer', () => {
  const stream = fc.oneof({ weight: 4, arbitrary: sipStream() }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }) });
  const max = fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constant(65_535));

  it('split anywhere: the same messages, the same violation, the same remainder as in one push', () => {
    fc.assert(fc.property(stream, cuts(), max, fc.boolean(), (bytes, at, m, interleaved) => {
      const whole = frame(sipFramer(m, interleaved), [bytes]);
      const split = frame(sipFramer(m, interleaved), cutAt(bytes, at));
      expect(split).toEqual(whole);
    }), fuzzParams(400));
  });

  it('messages are exact consecutive slices of the stream, each within the bound', () => {
    fc.assert(fc.property(stream, cuts(), max, fc.boolean(), (bytes, at, m, interleaved) => {
      const r = frame(sipFramer(m, interleaved), cutAt(bytes, at));
      const text = Buffer.from(bytes).toString('latin1');
      for (const msg of r.messages) {
        expect(msg.length).toBeGreaterThan(0);
        expect(msg.length).toBeLessThanOrEqual(m);
      }
      if (r.violation === undefined) expect(r.messages.join('') + r.rest).toBe(text);
      else expect(text.startsWith(r.messages.join(''))).toBe(true);
    }), fuzzParams(400));
  });

  it('checkSipDatagram accepts or throws a FramingError, never anything else; and agrees with the datagram check of sip framing', () => {
    fc.assert(fc.property(stream, max, (bytes, m) => {
      let verdict: string;
      try {
        checkSipDatagram(bytes, { maxMessageSize: m });
        verdict = 'ok';
      } catch (err) {
        if (!(err instanceof FramingError)) throw err;
        verdict = err.violation;
      }
      let viaFraming: string;
      try {
        checkDatagram({ kind: 'sip', maxMessageSize: m }, bytes);
        viaFraming = 'ok';
      } catch (err) {
        viaFraming = (err as FramingError).violation;
      }
      expect(viaFraming).toBe(verdict);
      if (bytes.length > m) expect(verdict).toBe('message-too-large');
    }), fuzzParams(400));
  });
});

describe('createStreamFramer', () => {
  it('raw framing hands on every non-empty chunk unchanged', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), cuts(), (bytes, at) => {
      const chunks = cutAt(bytes, at);
      const r = frame(createStreamFramer({ kind: 'raw' }), chunks);
      expect(r.messages).toEqual(chunks.filter((c) => c.length > 0).map((c) => Buffer.from(c).toString('latin1')));
      expect(r.violation).toBeUndefined();
    }), fuzzParams(200));
  });
});
