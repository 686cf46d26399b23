import type { OptionsParser } from '@algd/sdk';

/** The SIP plugin's options (`plugins.sip.options`). */
export interface SipOptions {
  /**
   * Methods let through; `null` (the default) lets every method through.
   * When set, the gateway answers a request of another method from the
   * phone with 405 itself (an ACK, which has no response, is dropped), and
   * drops one from outside; both are counted.
   */
  readonly allowedMethods: readonly string[] | null;
  /**
   * A message that cannot be read as SIP (or whose SDP cannot): `pass`
   * (default) forwards it unchanged and acts on nothing in it, `drop`
   * drops it. Counted either way. Pass is the default because the host
   * already guarantees real message starts and bounded sizes, and an
   * unreadable message opens nothing.
   */
  readonly onUnparseable: 'pass' | 'drop';
  /** Larger messages are dropped and counted (the host's framing bound is 65535). */
  readonly maxMessageSize: number;
  /** Media streams (each an RTP and an RTCP channel) one call may have mapped. */
  readonly maxMediaStreamsPerDialog: number;
  /** Media streams all calls of one session (one phone) may have mapped. */
  readonly maxMediaStreamsPerSession: number;
  /** How long a media channel takes new flows, in ms; streams already flowing are not cut. Re-offers and BYE end them earlier. */
  readonly mediaLifetimeMs: number;
  /** Restrict media channels to the peer's announced ports as well as its address (symmetric RTP, RFC 4961). */
  readonly mediaPeerPort: boolean;
  /**
   * Leave messages whose SDP carries ICE candidates (`a=candidate`) wholly
   * untouched, for networks whose phones handle NAT themselves (STUN, ICE,
   * RFC 5626). Default false: the gateway cannot know that a phone which
   * uses ICE for media also keeps its signalling reachable, and a private
   * Contact left in a message breaks the call; with the rewrite, an ICE
   * peer sees the mapped address as the default candidate's mismatch and
   * falls back to it (RFC 8445 §5.4), so calls work either way.
   */
  readonly leaveIceUntouched: boolean;
}

export const DEFAULT_SIP_OPTIONS: SipOptions = Object.freeze({
  allowedMethods: null,
  onUnparseable: 'pass',
  maxMessageSize: 65_535,
  maxMediaStreamsPerDialog: 4,
  // Six streams are twelve channels: with the registration's, within the host's default of 16 per session.
  maxMediaStreamsPerSession: 6,
  mediaLifetimeMs: 3_600_000,
  mediaPeerPort: false,
  leaveIceUntouched: false,
});

const KEYS = Object.keys(DEFAULT_SIP_OPTIONS) as (keyof SipOptions)[];
const METHOD = /^[A-Za-z0-9\-.!%*_+`'~]{1,32}$/;

function integer(o: Record<string, unknown>, key: keyof SipOptions, min: number, max: number): void {
  const v = o[key];
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) throw new Error(`sip options: ${key} must be an integer from ${min} to ${max}`);
}

/** Validates {@link SipOptions}: unknown keys and wrong types are errors that name the key. */
export const sipOptions: OptionsParser<SipOptions> = {
  parse(input: unknown): SipOptions {
    if (input === undefined || input === null) return DEFAULT_SIP_OPTIONS;
    if (typeof input !== 'object' || Array.isArray(input)) throw new Error('sip options: must be an object');
    const given = input as Record<string, unknown>;
    for (const key of Object.keys(given)) if (!(KEYS as string[]).includes(key)) throw new Error(`sip options: unknown option ${JSON.stringify(key)} (known: ${KEYS.join(', ')})`);
    const o: Record<string, unknown> = { ...DEFAULT_SIP_OPTIONS, ...given };
    const methods = o.allowedMethods;
    if (methods !== null && (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => typeof m === 'string' && METHOD.test(m)))) {
      throw new Error('sip options: allowedMethods must be null (every method) or a non-empty list of method names such as "INVITE"');
    }
    if (o.onUnparseable !== 'pass' && o.onUnparseable !== 'drop') throw new Error('sip options: onUnparseable must be "pass" or "drop"');
    integer(o, 'maxMessageSize', 512, 65_535);
    integer(o, 'maxMediaStreamsPerDialog', 1, 8);
    integer(o, 'maxMediaStreamsPerSession', 1, 8);
    integer(o, 'mediaLifetimeMs', 10_000, 86_400_000);
    for (const key of ['mediaPeerPort', 'leaveIceUntouched'] as const) if (typeof o[key] !== 'boolean') throw new Error(`sip options: ${key} must be true or false`);
    return Object.freeze({ ...(o as unknown as SipOptions), allowedMethods: methods === null ? null : Object.freeze([...(methods as string[])]) });
  },
};
