import { checkDatagram, createStreamFramer, LineFramer, SipMessageFramer, type Framing } from '@algd/sdk';
import { bytes, violation } from './framing-helpers';

describe('createStreamFramer', () => {
  it.each<[string, Framing | undefined]>([
    ['no framing', undefined],
    ['raw framing', { kind: 'raw' }],
  ])('with %s returns every non-empty chunk as one message, copied', (_name, framing) => {
    const f = createStreamFramer(framing);
    const chunk = new Uint8Array([0x55, 0x53, 0x0a, 0x00, 0xff]);
    const out = f.push(chunk);
    chunk.fill(0);
    expect(out).toEqual([Buffer.from([0x55, 0x53, 0x0a, 0x00, 0xff])]);
    expect(Buffer.isBuffer(out[0])).toBe(true);
    expect(f.push(new Uint8Array(0))).toEqual([]);
    expect(f.buffered).toBe(0);
  });

  it('with lines framing cuts lines and applies maxLineLength', () => {
    const f = createStreamFramer({ kind: 'lines', maxLineLength: 6 });
    expect(f).toBeInstanceOf(LineFramer);
    expect(f.push(bytes('PASV\r\nEP'))).toEqual([bytes('PASV\r\n')]);
    expect(f.buffered).toBe(2);
    expect(f.push(bytes('SV\r\n'))).toEqual([bytes('EPSV\r\n')]);
    expect(violation(() => f.push(bytes('EPSV 2')))).toBe('line-too-long');
    const g = createStreamFramer({ kind: 'lines', maxLineLength: 6 });
    expect(violation(() => g.push(bytes('EPSV 2\r\n')))).toBe('line-too-long');
    expect(createStreamFramer({ kind: 'lines' }).push(bytes('x'.repeat(510) + '\r\n'))).toHaveLength(1);
  });

  it('with sip framing cuts messages and applies maxMessageSize and interleaved', () => {
    const msg = 'RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n';
    const frame = Buffer.of(0x24, 0, 0, 1, 0x99);
    const f = createStreamFramer({ kind: 'sip', interleaved: true, maxMessageSize: msg.length });
    expect(f).toBeInstanceOf(SipMessageFramer);
    expect(f.push(Buffer.concat([bytes(msg), frame]))).toEqual([bytes(msg), frame]);
    expect(violation(() => f.push(bytes(msg.replace('OK', 'OK!'))))).toBe('message-too-large');
    // Without interleaved, "$" starts an ordinary message.
    const g = createStreamFramer({ kind: 'sip' });
    expect(g.push(frame)).toEqual([]);
    expect(g.buffered).toBe(5);
  });
});

describe('checkDatagram', () => {
  const garbage = bytes('INVITE sip:x SIP/2.0\r\nl: 99\r\n');

  it.each<[string, Framing | undefined]>([
    ['no framing', undefined],
    ['raw framing', { kind: 'raw' }],
    ['lines framing', { kind: 'lines', maxLineLength: 1 }],
  ])('with %s accepts any datagram', (_name, framing) => {
    expect(() => checkDatagram(framing, garbage)).not.toThrow();
    expect(() => checkDatagram(framing, new Uint8Array(0))).not.toThrow();
  });

  it('with sip framing accepts one whole message and refuses the rest', () => {
    expect(() => checkDatagram({ kind: 'sip' }, bytes('OPTIONS sip:x SIP/2.0\r\n\r\n'))).not.toThrow();
    expect(violation(() => checkDatagram({ kind: 'sip' }, garbage))).toBe('truncated-message');
    expect(violation(() => checkDatagram({ kind: 'sip' }, bytes('OPTIONS sip:x SIP/2.0\r\nl: 2\r\n\r\n')))).toBe('truncated-message');
    expect(violation(() => checkDatagram({ kind: 'sip', maxMessageSize: 10 }, bytes('OPTIONS sip:x SIP/2.0\r\n\r\n')))).toBe('message-too-large');
  });
});
