import type { OptionsParser } from '@algd/sdk';

/** The RTSP plugin's options (`plugins.rtsp.options`). The defaults fit the host's default of 16 data channels a session. */
export interface RtspOptions {
  /** Transport alternatives looked at in one SETUP; further ones are dropped from the request (counted). */
  readonly maxTransportsPerSetup: number;
  /** Media streams (mapped RTP/RTCP pairs) one control connection may hold, pending SETUPs included; a SETUP beyond it is refused by the gateway. */
  readonly maxStreamsPerSession: number;
  /** Longest header line, in bytes, the plugin reads; a longer one leaves the message unread (passed on, counted). */
  readonly maxLineLength: number;
  /** Most header lines the plugin reads in one message; more leave the message unread (passed on, counted). */
  readonly maxHeaderLines: number;
  /** The session timeout when the server announces none (RFC 2326 §12.37: 60 s). */
  readonly defaultSessionTimeoutS: number;
  /** The longest session timeout honoured: a server announcing more gets this, so a mapping never outlives its use by much. */
  readonly maxSessionTimeoutS: number;
  /** Added to the session timeout for the channels' lifetime, so a keep-alive sent just in time still finds them. */
  readonly timeoutSlackMs: number;
}

export const DEFAULT_RTSP_OPTIONS: RtspOptions = Object.freeze({
  maxTransportsPerSetup: 4,
  maxStreamsPerSession: 4,
  maxLineLength: 4096,
  maxHeaderLines: 64,
  defaultSessionTimeoutS: 60,
  maxSessionTimeoutS: 3600,
  timeoutSlackMs: 10_000,
});

const KEYS = Object.keys(DEFAULT_RTSP_OPTIONS) as (keyof RtspOptions)[];

/** Each option's allowed range (integers). */
const RANGES: Readonly<Record<keyof RtspOptions, readonly [number, number]>> = {
  maxTransportsPerSetup: [1, 16],
  maxStreamsPerSession: [1, 8],
  maxLineLength: [256, 65_535],
  maxHeaderLines: [8, 1024],
  defaultSessionTimeoutS: [5, 3600],
  maxSessionTimeoutS: [5, 86_000],
  timeoutSlackMs: [0, 300_000],
};

/** Validates {@link RtspOptions}: unknown keys, wrong types and out-of-range values are errors that name the key. */
export const rtspOptions: OptionsParser<RtspOptions> = {
  parse(input: unknown): RtspOptions {
    if (input === undefined || input === null) return DEFAULT_RTSP_OPTIONS;
    if (typeof input !== 'object' || Array.isArray(input)) throw new Error('rtsp options: must be an object');
    const o = input as Record<string, unknown>;
    for (const key of Object.keys(o)) if (!(KEYS as string[]).includes(key)) throw new Error(`rtsp options: unknown option ${JSON.stringify(key)} (known: ${KEYS.join(', ')})`);
    const out = { ...DEFAULT_RTSP_OPTIONS, ...o } as RtspOptions;
    for (const key of KEYS) {
      const [min, max] = RANGES[key];
      const v = out[key];
      if (!Number.isInteger(v) || v < min || v > max) throw new Error(`rtsp options: ${key} must be an integer from ${min} to ${max}`);
    }
    if (out.defaultSessionTimeoutS > out.maxSessionTimeoutS) throw new Error('rtsp options: defaultSessionTimeoutS must not exceed maxSessionTimeoutS');
    return Object.freeze(out);
  },
};
