import { definePlugin, formatHostPort, port, type HandlerResult, type SessionContext } from '@algd/sdk';
import { phoneToServer, serverToPhone } from './address-map';
import { gatewayResponse } from './gateway-response';
import { rewriteHeaders } from './header-rewrite';
import { endDialog, mapPhoneMedia, mediaChannelEnded, notePeerMedia } from './media';
import { settleIdle, type MessageEffect } from './quiet';
import { pendingRegister, registrationAnswered, thirdPartyContact } from './registration';
import { parseSdp, type Sdp } from './sdp';
import { firstHeaderText, parseSipMessage, serialize, type SipMessage } from './sip-message';
import { sipOptions, type SipOptions } from './sip-options';
import { initialSipState, type SipState } from './sip-state';
import type { Edit } from './span';

/**
 * SIP (RFC 3261) through the gateway, after Linux's nf_conntrack_sip /
 * nf_nat_sip, plus what they miss (a=rtcp, Record-Route).
 *
 * Phone to server: the phone's own address (with its port, or none) in the
 * Request-URI, Via, Contact, From, To, Route and Record-Route becomes the
 * boundary endpoint; in the SDP, c= and o= become the public address and
 * each m= (and a=rtcp) port a reserved even/odd pair with an RTP and an
 * RTCP channel. Server to phone: the boundary endpoint goes back to the
 * phone's address as the phone wrote it, Via received/rport included; the
 * peer's SDP restricts the channels to the peer. BYE, CANCEL, a failed
 * INVITE or expiry remove a call's channels. A 2xx to REGISTER opens (or
 * refreshes, or on expiry 0 removes) a pinhole from the registrar to the
 * phone through the session itself. Once a phone socket's last call has
 * ended and it holds no registration, its session ends after a short idle
 * (quiet.ts) rather than the host's configured one.
 *
 * The checks, in plain sight: a REGISTER binding anyone but the phone is
 * answered 403 by the gateway; an optional method allow-list (405 to the
 * phone, dropped from outside); media caps per call and per phone; media
 * never mapped for an address that is not the phone's; messages bounded;
 * anything unreadable passed unchanged (or dropped) and counted, never
 * acted on. Sessions of a published server (client on the public side)
 * pass through untranslated: its addresses are the gateway's already.
 */

export type { SipOptions } from './sip-options';
export type { SipState, Dialog, MediaStream, PeerMedia, PendingRegister } from './sip-state';
export { sipOptions, DEFAULT_SIP_OPTIONS } from './sip-options';

type Ctx = SessionContext<SipOptions, SipState>;

/** The host's framing bound: any UDP datagram, and TCP messages of that size. */
const MAX_MESSAGE_SIZE = 65_535;

const DROP: HandlerResult = { forward: null };

export default definePlugin<SipOptions, SipState>({
  name: 'sip',
  version: '0.4.0',
  apiVersion: '^0.4.0',
  description: 'SIP: addresses in headers and SDP translated, RTP/RTCP mapped per call, registration pinholes; third-party REGISTER refused',
  controlChannels: [
    { protocol: 'udp', ports: [port(5060)], framing: { kind: 'sip', maxMessageSize: MAX_MESSAGE_SIZE } },
    { protocol: 'tcp', ports: [port(5060)], framing: { kind: 'sip', maxMessageSize: MAX_MESSAGE_SIZE } },
  ],
  options: sipOptions,
  initialState: () => initialSipState(),

  onClientMessage: (bytes, ctx) => guarded(ctx, () => fromPhone(bytes, ctx)),
  onServerMessage: (bytes, ctx) => guarded(ctx, () => fromServer(bytes, ctx)),

  async onDataChannelEvent(event, ctx) {
    // Only expiries are asked for (notify): removals are the plugin's own, already out of its state.
    if (event.kind !== 'ended' || event.reason === 'removed') return;
    if (event.channel === ctx.state.registration) {
      delete ctx.state.registration;
      ctx.count('register-pinhole-expired');
      return;
    }
    try {
      await mediaChannelEnded(ctx, event.channel);
    } catch (err) {
      ctx.count('internal-error');
      ctx.log.error('SIP channel event failed', { error: (err as Error).message });
    }
  },
});

/** A handler's answer and what the message did, for the session's idle timeout. */
interface Handled {
  readonly result: HandlerResult;
  readonly effect: MessageEffect;
}

/** Anything the plugin does not follow (unread, refused, a keepalive) may begin something: the session keeps the host's idle timeout. */
const begins = (result: HandlerResult): Handled => ({ result, effect: 'begins' });

function effectOf(message: SipMessage, ended: boolean): MessageEffect {
  if (ended) return 'ended';
  const start = message.start;
  return start.kind === 'request' && start.method !== 'ACK' && start.method !== 'BYE' && start.method !== 'CANCEL' ? 'begins' : 'neutral';
}

async function fromPhone(bytes: Buffer, ctx: Ctx): Promise<Handled> {
  const read = readMessage(bytes, ctx);
  if ('verdict' in read) return begins(read.verdict);
  const { message, sdp } = read;
  if (message.start.kind === 'request') {
    const method = message.start.method;
    if (!methodAllowed(ctx, method)) {
      ctx.count('method-refused');
      ctx.log.info('method refused', { method });
      // An ACK has no response (RFC 3261 §17.1.1.3): it is only dropped.
      if (method === 'ACK') return begins(DROP);
      const allow = `Allow: ${ctx.options.allowedMethods!.join(', ')}`;
      return begins({ forward: null, respond: gatewayResponse(message, 405, 'Method Not Allowed', 'method not allowed by the gateway', [allow]) });
    }
    if (method === 'REGISTER') {
      const other = thirdPartyContact(message, ctx.session);
      if (other !== undefined) {
        ctx.count('third-party-register-refused');
        ctx.log.info('third-party registration refused', { contact: other });
        return begins({ forward: null, respond: gatewayResponse(message, 403, 'Forbidden', 'third-party registration refused by the gateway') });
      }
      const pending = pendingRegister(message);
      if (pending !== undefined) ctx.state.pendingRegister = pending;
    }
  }
  const ended = await callEnds(ctx, message);
  const edits: Edit[] = sdp !== undefined && !ended ? await mapPhoneMedia(ctx, message.callId, sdp) : [];
  established(ctx, message);
  const headers = rewriteHeaders(message, phoneToServer(ctx.session));
  if (headers.topViaSentBy !== undefined) ctx.state.phoneForm = headers.topViaSentBy;
  return { result: output(ctx, message, [...headers.edits, ...edits]), effect: effectOf(message, ended) };
}

async function fromServer(bytes: Buffer, ctx: Ctx): Promise<Handled> {
  const read = readMessage(bytes, ctx);
  if ('verdict' in read) return begins(read.verdict);
  const { message, sdp } = read;
  if (message.start.kind === 'request' && !methodAllowed(ctx, message.start.method)) {
    ctx.count('method-dropped');
    ctx.log.info('method dropped', { method: message.start.method });
    return begins(DROP);
  }
  if (message.start.kind === 'response' && message.cseq.method === 'REGISTER') await registrationAnswered(ctx, message, message.start.status);
  const ended = await callEnds(ctx, message);
  if (sdp !== undefined && !ended) await notePeerMedia(ctx, message.callId, sdp);
  established(ctx, message);
  const phoneForm = ctx.state.phoneForm ?? formatHostPort(ctx.session.client);
  return { result: output(ctx, message, rewriteHeaders(message, serverToPhone(ctx.session, phoneForm)).edits), effect: effectOf(message, ended) };
}

/**
 * Whether this message ends its call's media: a BYE, a CANCEL or a final
 * failure to the INVITE before the call was answered (once answered, a
 * failed re-INVITE or a late CANCEL leaves the call as it was).
 */
async function callEnds(ctx: Ctx, message: SipMessage): Promise<boolean> {
  const dialog = ctx.state.dialogs.get(message.callId);
  const start = message.start;
  const ends = start.kind === 'request'
    ? start.method === 'BYE' || (start.method === 'CANCEL' && !dialog?.established)
    : message.cseq.method === 'INVITE' && start.status >= 300 && !dialog?.established;
  if (ends) await endDialog(ctx, message.callId);
  return ends;
}

/** A 2xx to an INVITE: the call is answered. */
function established(ctx: Ctx, message: SipMessage): void {
  if (message.start.kind !== 'response' || message.cseq.method !== 'INVITE' || message.start.status < 200 || message.start.status >= 300) return;
  const dialog = ctx.state.dialogs.get(message.callId);
  if (dialog !== undefined) dialog.established = true;
}

type Read = { readonly message: SipMessage; readonly sdp?: Sdp } | { readonly verdict: HandlerResult };

/** The message and its SDP, or what to do with a message the plugin does not act on. */
function readMessage(bytes: Buffer, ctx: Ctx): Read {
  if (bytes.length > ctx.options.maxMessageSize) {
    ctx.count('message-too-large');
    return { verdict: DROP };
  }
  const text = bytes.toString('latin1');
  if (/^[\r\n]*$/.test(text)) return { verdict: undefined }; // keepalive (RFC 5626 §4.4.1)
  if (ctx.session.clientSide === 'public') {
    ctx.count('published-passthrough');
    return { verdict: undefined };
  }
  const parsed = parseSipMessage(text);
  if (!parsed.ok) return { verdict: unreadable(ctx, parsed.reason) };
  const message = parsed.message;
  const type = firstHeaderText(message, 'content-type');
  if (type === undefined || !/^application\/sdp[ \t]*(;|$)/i.test(type.trim()) || message.body.end === message.body.start) return { message };
  const sdp = parseSdp(message.text, message.body);
  if (sdp === undefined) return { verdict: unreadable(ctx, 'bad SDP') };
  if (sdp.hasCandidates && ctx.options.leaveIceUntouched) {
    ctx.count('ice-untouched');
    return { verdict: undefined };
  }
  return { message, sdp };
}

function unreadable(ctx: Ctx, reason: string): HandlerResult {
  ctx.count(ctx.options.onUnparseable === 'drop' ? 'unparseable-dropped' : 'unparseable-passed');
  ctx.log.info('message not readable as SIP', { reason });
  return ctx.options.onUnparseable === 'drop' ? DROP : undefined;
}

function methodAllowed(ctx: Ctx, method: string): boolean {
  return ctx.options.allowedMethods === null || ctx.options.allowedMethods.includes(method);
}

function output(ctx: Ctx, message: SipMessage, edits: readonly Edit[]): HandlerResult {
  if (edits.length === 0) return undefined;
  ctx.count('rewritten');
  return Buffer.from(serialize(message, edits), 'latin1');
}

/**
 * Nothing a handler does may throw out of the plugin: an unexpected error
 * is logged, counted, and the message handled as unreadable. Then the
 * session's idle timeout follows what the message did.
 */
async function guarded(ctx: Ctx, handle: () => Promise<Handled>): Promise<HandlerResult> {
  let handled: Handled;
  try {
    handled = await handle();
  } catch (err) {
    ctx.count('internal-error');
    ctx.log.error('SIP handler failed', { error: (err as Error).message });
    handled = begins(unreadable(ctx, 'internal error'));
  }
  settleIdle(ctx, handled.effect);
  return handled.result;
}
