import type { Framing } from './framing';
import { LineFramer } from './line-framer';
import { checkSipDatagram, SipMessageFramer } from './sip-message-framer';

/**
 * A stream framer: bytes in, whole messages out. `push` returns the
 * messages a chunk completes (copies the caller owns, possibly none) and
 * throws a {@link FramingError} when the stream breaks its framing;
 * `buffered` counts the bytes held back for an incomplete message.
 */
export interface StreamFramer {
  push(chunk: Uint8Array): Buffer[];
  readonly buffered: number;
  /** Returns the bytes of an unfinished message and forgets them: the stream is no longer framed from here on. */
  flush(): Buffer;
}

/**
 * The framer for a control channel's {@link Framing}: a {@link LineFramer}
 * for `lines`, a {@link SipMessageFramer} for `sip`, and for `raw` (or no
 * framing) a pass-through that returns every non-empty chunk as one message,
 * copied into a Buffer. Throws a `RangeError` for a bound that is not a
 * positive integer.
 */
export function createStreamFramer(framing: Framing | undefined): StreamFramer {
  switch (framing?.kind) {
    case 'lines':
      return new LineFramer({ maxLineLength: framing.maxLineLength });
    case 'sip':
      return new SipMessageFramer({ maxMessageSize: framing.maxMessageSize, interleaved: framing.interleaved });
    default:
      return new RawFramer();
  }
}

/**
 * Checks a datagram received on a control channel against its
 * {@link Framing}: with `sip` framing it must be one whole message (see
 * {@link checkSipDatagram}, which throws a {@link FramingError} otherwise);
 * `raw`, `lines` and no framing accept every datagram.
 */
export function checkDatagram(framing: Framing | undefined, datagram: Uint8Array): void {
  if (framing?.kind === 'sip') checkSipDatagram(datagram, { maxMessageSize: framing.maxMessageSize });
}

class RawFramer implements StreamFramer {
  readonly buffered = 0;

  flush(): Buffer {
    return Buffer.alloc(0);
  }

  push(chunk: Uint8Array): Buffer[] {
    return chunk.length === 0 ? [] : [Buffer.from(chunk)];
  }
}
