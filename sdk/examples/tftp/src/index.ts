import { definePlugin, port, type OptionsParser } from '@algd/sdk';

/**
 * TFTP (RFC 1350, options RFC 2347) through the gateway.
 *
 * The client sends a read (RRQ) or write (WRQ) request to the server's port
 * 69; the server answers from a new port of its own (its transfer id) to
 * the port the request came from. Through the gateway the request comes
 * from the session's `boundary` endpoint (the host's relay sends it), so the
 * answer arrives there and, without help, would be dropped as unsolicited.
 * For each valid request the plugin therefore opens a one-shot inbound data
 * channel from the server's address (any port) to the client, on the
 * boundary endpoint.
 *
 * A request is only mapped when it parses completely: opcode, NUL-terminated
 * filename and mode, a known mode, well-formed option pairs and at most 512
 * bytes. Anything else is dropped and counted, never mapped.
 */

/** The plugin's options (`plugins.tftp.options` in the configuration). */
export interface TftpOptions {
  /** How long the data channel waits for the server's first answer, in ms (1000-300000). Default 30000. */
  readonly lifetimeMs: number;
  /** False: write requests are refused by the gateway with a TFTP "Access violation" error. Default true. */
  readonly allowWrite: boolean;
}

/** Per-session state: the channel of the latest request, replaced by the next one. */
export interface TftpState {
  channel?: number;
}

/** Validates {@link TftpOptions}; unknown keys are errors, so a typo does not silently fall back to a default. */
export const tftpOptions: OptionsParser<TftpOptions> = {
  parse(input: unknown): TftpOptions {
    if (input === undefined || input === null) return { lifetimeMs: 30_000, allowWrite: true };
    if (typeof input !== 'object' || Array.isArray(input)) throw new Error('tftp options: must be an object');
    const o = input as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (key !== 'lifetimeMs' && key !== 'allowWrite') throw new Error(`tftp options: unknown option ${JSON.stringify(key)}`);
    }
    const lifetimeMs = o.lifetimeMs ?? 30_000;
    if (typeof lifetimeMs !== 'number' || !Number.isInteger(lifetimeMs) || lifetimeMs < 1000 || lifetimeMs > 300_000) {
      throw new Error(`tftp options: lifetimeMs must be an integer from 1000 to 300000, got ${JSON.stringify(lifetimeMs)}`);
    }
    const allowWrite = o.allowWrite ?? true;
    if (typeof allowWrite !== 'boolean') throw new Error(`tftp options: allowWrite must be true or false, got ${JSON.stringify(allowWrite)}`);
    return { lifetimeMs, allowWrite };
  },
};

/** RFC 1350: a request is read or write; every other opcode belongs to a transfer, never to port 69. */
const REQUESTS: Readonly<Record<number, 'rrq' | 'wrq'>> = { 1: 'rrq', 2: 'wrq' };
const OPCODE_ERROR = 5;
const ERROR_ACCESS_VIOLATION = 2;
/** RFC 1350 modes; "mail" is obsolete but still defined. Compared case-insensitively, as the RFC says. */
const MODES = new Set(['netascii', 'octet', 'mail']);
/** A request fits one classic TFTP packet (RFC 2347 keeps requests with options within 512 bytes). */
const MAX_REQUEST = 512;

/** Why a request is dropped; each is also the counter's name. */
type DropReason = 'oversized-request' | 'bad-opcode' | 'bad-filename' | 'bad-mode' | 'bad-options';

interface Request {
  readonly kind: 'rrq' | 'wrq';
  readonly filename: string;
  readonly mode: string;
  readonly options: ReadonlyArray<readonly [string, string]>;
}

/**
 * Parses RRQ/WRQ: `opcode(2) filename NUL mode NUL [name NUL value NUL]...`.
 * Every field must end in its NUL, so a message cut short or with trailing
 * junk never passes as a request.
 */
function parseRequest(msg: Buffer): Request | DropReason {
  if (msg.length > MAX_REQUEST) return 'oversized-request';
  const kind = msg.length >= 2 ? REQUESTS[msg.readUInt16BE(0)] : undefined;
  if (kind === undefined) return 'bad-opcode';
  const fields: string[] = [];
  let at = 2;
  while (at < msg.length) {
    const nul = msg.indexOf(0, at);
    if (nul < 0) break; // an unterminated last field: `complete` stays false
    fields.push(msg.toString('latin1', at, nul));
    at = nul + 1;
  }
  const complete = at === msg.length;
  const [filename, mode, ...options] = fields;
  if (filename === undefined || filename === '') return 'bad-filename';
  if (mode === undefined || !MODES.has(mode.toLowerCase())) return 'bad-mode';
  // RFC 2347: name/value pairs, both present; bytes after the mode without a
  // final NUL are an unterminated option. A name given twice would let the
  // gateway and the server read different values.
  const names = options.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  if (!complete || options.length % 2 !== 0 || options.some((f) => f === '') || new Set(names).size !== names.length) return 'bad-options';
  const pairs = names.map((_, i) => [options[2 * i]!, options[2 * i + 1]!] as const);
  return { kind, filename, mode, options: pairs };
}

/** A TFTP ERROR packet: opcode 5, error code, message, NUL. */
function errorPacket(code: number, message: string): Buffer {
  const out = Buffer.alloc(4 + message.length + 1);
  out.writeUInt16BE(OPCODE_ERROR, 0);
  out.writeUInt16BE(code, 2);
  out.write(message, 4, 'latin1');
  return out;
}

export default definePlugin<TftpOptions, TftpState>({
  name: 'tftp',
  version: '0.1.0',
  apiVersion: '^0.1.0',
  description: 'TFTP read and write requests; opens the channel for the server\'s answer from its transfer port',
  controlChannels: [{ protocol: 'udp', ports: [port(69)] }],
  options: tftpOptions,
  initialState: () => ({}),

  async onClientMessage(msg, ctx) {
    const request = parseRequest(msg);
    if (typeof request === 'string') {
      ctx.count(request);
      ctx.log.debug('malformed request dropped', { reason: request, bytes: msg.length });
      return { forward: null };
    }
    if (request.kind === 'wrq' && !ctx.options.allowWrite) {
      ctx.count('write-refused');
      return { forward: null, respond: errorPacket(ERROR_ACCESS_VIOLATION, 'Access violation') };
    }
    // One channel at a time: the boundary endpoint carries one mapping, and a
    // retransmitted request must not fail because the first one's channel still waits.
    if (ctx.state.channel !== undefined) await ctx.removeDataChannel(ctx.state.channel);
    const { session } = ctx;
    const channel = await ctx.createDataChannel({
      protocol: 'udp',
      private: session.client,
      public: session.boundary,
      remote: { address: session.server.address },
      direction: 'inbound',
      lifetimeMs: ctx.options.lifetimeMs,
    });
    ctx.state.channel = channel.id;
    ctx.count(request.kind);
    ctx.log.debug(`${request.kind} ${request.mode}`, { filename: request.filename, options: request.options.length });
    return undefined; // forwarded unchanged
  },
  // Server-to-client messages on port 69 (an ERROR before any transfer) are
  // forwarded unchanged: the default when onServerMessage is not defined.
});
