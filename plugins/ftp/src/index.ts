import {
  definePlugin, findFtpHostPort, formatEprtArgument, formatEpsvPort, formatFtpHostPort, ipFamily, parseEprtArgument, parseEpsvReply,
  parseFtpHostPort, port, type DataChannelRequest, type Endpoint, type HandlerResult, type SessionContext,
} from '@algd/sdk';
import { classifyReply, parseCommand, type FtpCommand } from './ftp-line';
import { ftpOptions, type FtpOptions } from './ftp-options';

/**
 * FTP (RFC 959, RFC 2428) through the gateway, after Linux's
 * nf_conntrack_ftp / nf_nat_ftp and OpenBSD's ftp-proxy.
 *
 * Active mode: PORT and EPRT name the client's data port. The plugin checks
 * them, opens a one-shot data channel from the server to that port through
 * a public port, and sends the command on naming the public endpoint, in
 * canonical form. Passive mode towards a server outside: the 227/229 reply
 * goes to the client unchanged (227 checked), and a one-shot outbound
 * channel makes the client's data connection to the announced port leave
 * from the gateway's boundary address, the address the server knows the
 * control connection by (servers refuse a data connection from another
 * address, and without NAT, as for routed IPv6, nothing else would change
 * it). For a server behind the gateway (a client on the public side) 227
 * and 229 are mapped and rewritten.
 *
 * The checks, in plain sight: the address in PORT/EPRT must be the client's
 * own (no bounce), the one in 227 the server's own; data ports below
 * `minDataPort` are refused; malformed numbers never parse; lines are bounded
 * by the framing; denied commands are answered by the gateway and never
 * forwarded; one pending data channel per session, expiring if unused.
 * Replies are classified with RFC 959's multi-line rule, so a line inside a
 * multi-line reply that happens to start with "227 " is never taken for one.
 * After AUTH TLS is accepted the control connection is encrypted: the plugin
 * releases the session.
 */

export type { FtpOptions } from './ftp-options';
export { ftpOptions, DEFAULT_FTP_OPTIONS, DEFAULT_DENIED_COMMANDS } from './ftp-options';

/** Per-session state (plain data). */
export interface FtpState {
  /** The data channel of the latest PORT/EPRT/227/229, replaced by the next. */
  channel?: number;
  /** The code of the multi-line reply in progress. */
  openReply?: number;
  /** AUTH was sent; a 234 reply turns the connection into TLS. */
  authPending?: boolean;
}

type Ctx = SessionContext<FtpOptions, FtpState>;

/** The gateway's own replies (RFC 959 codes). */
const REFUSED = {
  syntax: (verb: string) => `501 ${verb} refused by the gateway: malformed or out-of-range address or port.\r\n`,
  family: (verb: string) => `522 ${verb} refused by the gateway: wrong network protocol for this connection.\r\n`,
  bounce: (verb: string) => `500 ${verb} refused by the gateway: the address is not the client's own.\r\n`,
  lowPort: (verb: string) => `500 ${verb} refused by the gateway: data port below the allowed range.\r\n`,
  noChannel: () => `425 Can't open data connection: the gateway has no data channel for it.\r\n`,
  publishedActive: (verb: string) => `502 ${verb} refused by the gateway: use passive mode with this server.\r\n`,
  passive: () => `425 Can't open data connection: the server announced an address that is not its own (refused by the gateway).\r\n`,
  denied: () => `502 Command not allowed by the gateway.\r\n`,
} as const;

/** Client commands the plugin acts on; every other command goes through unchanged. */
const COMMANDS: Readonly<Record<string, (cmd: FtpCommand, ctx: Ctx) => Promise<HandlerResult> | HandlerResult>> = {
  PORT: (cmd, ctx) => activeMode(ctx, 'PORT', parseFtpHostPort(cmd.argument.trim()), (ep) => `PORT ${formatFtpHostPort(ep)}\r\n`),
  EPRT: (cmd, ctx) => activeMode(ctx, 'EPRT', parseEprtArgument(cmd.argument.trim()), (ep) => `EPRT ${formatEprtArgument(ep)}\r\n`),
  AUTH: (_cmd, ctx) => {
    ctx.state.authPending = true;
    return undefined;
  },
};

/** Server replies the plugin acts on. */
const REPLIES: Readonly<Record<number, (text: string, ctx: Ctx) => Promise<HandlerResult> | HandlerResult>> = {
  227: passiveMode,
  229: extendedPassiveMode,
  234: (_text, ctx) => (ctx.state.authPending ? { release: true } : undefined),
};

export default definePlugin<FtpOptions, FtpState>({
  name: 'ftp',
  version: '0.2.0',
  apiVersion: '^0.1.0',
  description: 'FTP: PORT/EPRT and 227/229 checked, mapped and rewritten; bounce, low ports and denied commands refused',
  controlChannels: [{ protocol: 'tcp', ports: [port(21)], framing: { kind: 'lines', maxLineLength: 512 } }],
  options: ftpOptions,
  initialState: () => ({}),

  onClientMessage(line, ctx) {
    const cmd = parseCommand(line);
    const upper = cmd.text.toUpperCase();
    if (ctx.options.deniedCommands.some((d) => upper === d || upper.startsWith(`${d} `))) {
      ctx.count('denied-command');
      ctx.log.info('command denied', { verb: cmd.verb });
      return { forward: null, respond: REFUSED.denied() };
    }
    return COMMANDS[cmd.verb]?.(cmd, ctx);
  },

  onServerMessage(line, ctx) {
    const reply = classifyReply(line, ctx.state.openReply);
    if (reply.kind === 'first') ctx.state.openReply = reply.code;
    if (reply.kind === 'last') delete ctx.state.openReply;
    if (reply.kind !== 'reply') return undefined;
    const act = REPLIES[reply.code];
    if (reply.code !== 234) delete ctx.state.authPending;
    return act?.(reply.text, ctx);
  },
});

/** PORT / EPRT: check the announced endpoint, map it, announce the public one instead. */
async function activeMode(ctx: Ctx, verb: string, announced: Endpoint | undefined, format: (ep: Endpoint) => string): Promise<HandlerResult> {
  const { session, options } = ctx;
  const refuse = (counter: string, reply: string): HandlerResult => {
    ctx.count(counter);
    ctx.log.info(`${verb} refused`, { reason: counter });
    return { forward: null, respond: reply };
  };
  if (announced === undefined) return refuse('bad-argument', REFUSED.syntax(verb));
  // A server behind the gateway would connect out to the client, which the host's relay cannot announce to it.
  if (session.clientSide === 'public') return refuse('published-active-refused', REFUSED.publishedActive(verb));
  if (ipFamily(announced.address) !== ipFamily(session.client.address)) return refuse('family-mismatch', REFUSED.family(verb));
  if (announced.address !== session.client.address) {
    if (options.checkPortAddress) return refuse('bounce-refused', REFUSED.bounce(verb));
    // Checks off (server-to-server transfers): not our client's port, nothing to map.
    ctx.count('third-party-passed');
    return undefined;
  }
  if (announced.port < options.minDataPort) return refuse('low-port-refused', REFUSED.lowPort(verb));
  const channel = await replaceChannel(ctx, { private: announced, remote: { address: session.server.address }, direction: 'inbound' });
  if (channel === undefined) return refuse('channel-refused', REFUSED.noChannel());
  ctx.count('active-mapped');
  return format(channel);
}

/** 227: towards an outside server only checked; from a server behind the gateway mapped and rewritten. */
async function passiveMode(text: string, ctx: Ctx): Promise<HandlerResult> {
  const found = findFtpHostPort(text);
  if (found === undefined) {
    ctx.count('bad-227');
    return undefined;
  }
  const { session, options } = ctx;
  if (options.checkPassiveAddress && found.endpoint.address !== session.server.address) {
    ctx.count('passive-address-refused');
    return REFUSED.passive();
  }
  if (session.clientSide !== 'public') return passiveOut(ctx, found.endpoint.port);
  if (found.endpoint.port < options.minDataPort) {
    ctx.count('low-port-refused');
    return REFUSED.passive();
  }
  // The server sees the data connection come from where its control connection comes from: the gateway.
  const channel = await replaceChannel(ctx, { private: found.endpoint, remote: { address: session.client.address }, direction: 'inbound', fromBoundary: true });
  if (channel === undefined) return REFUSED.noChannel();
  ctx.count('passive-mapped');
  return `227 Entering Passive Mode (${formatFtpHostPort(channel)}).\r\n`;
}

/** 229 names only a port, on the server's address. */
async function extendedPassiveMode(text: string, ctx: Ctx): Promise<HandlerResult> {
  const found = parseEpsvReply(text);
  if (ctx.session.clientSide !== 'public') {
    if (found === undefined) {
      ctx.count('bad-229');
      return undefined;
    }
    return passiveOut(ctx, found.port);
  }
  if (found === undefined || found.port < ctx.options.minDataPort) {
    ctx.count('bad-229');
    return REFUSED.noChannel();
  }
  const channel = await replaceChannel(ctx, { private: { address: ctx.session.server.address, port: found.port }, remote: { address: ctx.session.client.address }, direction: 'inbound', fromBoundary: true });
  if (channel === undefined) return REFUSED.noChannel();
  ctx.count('passive-mapped');
  return `229 Entering Extended Passive Mode ${formatEpsvPort(channel.port)}.\r\n`;
}

/**
 * Passive mode towards an outside server: the reply goes on unchanged, and
 * the client's next connection to the announced port (from any of its
 * ports) leaves from the boundary address.
 */
async function passiveOut(ctx: Ctx, serverPort: number): Promise<HandlerResult> {
  const { session } = ctx;
  const channel = await replaceChannel(ctx, { private: { address: session.client.address, port: port(0) }, remote: { address: session.server.address, port: port(serverPort) }, direction: 'outbound' });
  ctx.count(channel === undefined ? 'passive-channel-refused' : 'passive-mapped');
  return undefined;
}

type ChannelWanted = Pick<DataChannelRequest, 'private' | 'remote' | 'direction' | 'fromBoundary'>;

/** One pending data channel per session: the previous one goes, the new one waits for its connection. */
async function replaceChannel(ctx: Ctx, wanted: ChannelWanted): Promise<Endpoint | undefined> {
  if (ctx.state.channel !== undefined) await ctx.removeDataChannel(ctx.state.channel);
  delete ctx.state.channel;
  try {
    const channel = await ctx.createDataChannel({ protocol: 'tcp', ...wanted, lifetimeMs: ctx.options.dataChannelLifetimeMs });
    ctx.state.channel = channel.id;
    return channel.public;
  } catch (err) {
    ctx.log.warn('no data channel', { error: (err as Error).message });
    return undefined;
  }
}
