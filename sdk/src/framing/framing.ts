/**
 * How the host cuts a control channel's byte stream into the messages a
 * plugin sees. Framing happens in the host, with the SDK's framers, before
 * any plugin code runs: a plugin only ever sees whole messages that start at
 * a real message boundary of the stream (the defence against packet-boundary
 * tricks such as NAT slipstreaming). A stream that breaks its framing (a line
 * longer than the bound, a message larger than allowed) ends the session and
 * is counted.
 */
export type Framing = LineFraming | SipFraming | RawFraming;

/** Text lines ending in CRLF (a bare LF is accepted), as FTP and SMTP use. */
export interface LineFraming {
  readonly kind: 'lines';
  /** Longest line accepted, terminator included. Default {@link DEFAULT_MAX_LINE_LENGTH}. */
  readonly maxLineLength?: number;
}

/** SIP/RTSP/HTTP-style messages: a start line and headers up to an empty line, then `Content-Length` bytes of body. */
export interface SipFraming {
  readonly kind: 'sip';
  /** Largest message accepted, headers and body together. Default {@link DEFAULT_MAX_MESSAGE_SIZE}. */
  readonly maxMessageSize?: number;
  /**
   * RTSP interleaved data (`$`, channel, 16-bit length, payload) between
   * messages is passed on as its own message. Default false.
   */
  readonly interleaved?: boolean;
}

/** Bytes as they arrive, no framing: the plugin keeps whatever it needs in its state. */
export interface RawFraming {
  readonly kind: 'raw';
}

/** OpenBSD ftp-proxy's bound is 500; RFC 959 lines are far shorter. */
export const DEFAULT_MAX_LINE_LENGTH = 512;

/** Fits any SIP message carried over UDP, and real-world TCP ones. */
export const DEFAULT_MAX_MESSAGE_SIZE = 65_535;

/** Why a stream or datagram broke its framing. */
export type FramingViolation = 'line-too-long' | 'message-too-large' | 'bad-content-length' | 'bad-start-line' | 'truncated-message';

/**
 * Thrown by the framers when the input breaks the framing; `violation` says
 * how. `completed` holds the whole messages the same `push` found before
 * the violation, so a caller can still deliver them.
 */
export class FramingError extends Error {
  override readonly name = 'FramingError';
  completed: readonly Buffer[] = [];
  constructor(readonly violation: FramingViolation, message: string) {
    super(message);
  }
}
