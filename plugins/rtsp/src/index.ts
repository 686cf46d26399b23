import { definePlugin, port, type HandlerResult } from '@algd/sdk';
import { cseqOf, isRtspMessage, parseRtspMessage, sessionOf, type RtspMessage, type RtspRequest } from './rtsp-message';
import { rtspOptions, type RtspOptions } from './rtsp-options';
import { initialRtspState, lifetimeFor, type Ctx, type RtspState } from './rtsp-state';
import { releasePending, setupReply, setupRequest } from './setup';
import { closeStream, renewStream } from './streams';

/**
 * RTSP (RFC 2326; RFC 7826's Transport syntax) through the gateway, after
 * FreeBSD libalias's alias_rtsp and Linux's nf_conntrack_rtsp.
 *
 * SETUP offers UDP ports of the client in `client_port`: each UDP unicast
 * alternative gets an even/odd public pair mapped both ways to the client's
 * RTP and RTCP ports and is sent on naming the pair. The reply's chosen
 * alternative is restricted to the server's `source`/`server_port` and
 * written back with the client's own ports; the other alternatives are
 * released. The pairs belong to the RTSP session (the reply's Session id):
 * TEARDOWN removes them (one stream's URL, or the whole session), any other
 * request of the session is a keep-alive that renews their lifetime (the
 * server's session timeout plus slack), and the host removes them when the
 * control connection closes. Interleaved `$` data, TCP and multicast
 * transports pass unchanged.
 *
 * The checks, in plain sight: only the client's own address is mapped (a
 * `destination=` naming another host is counted and left alone); line
 * length and header count are bounded on top of the framing's bound; at
 * most `maxTransportsPerSetup` alternatives are read and
 * `maxStreamsPerSession` streams held; a message or Transport header the
 * plugin does not understand passes unchanged and is counted, never thrown
 * on. A client on the public side (a published server) is not the NAT's
 * concern here: such sessions are released and pass unchanged.
 */

export type { RtspOptions } from './rtsp-options';
export type { RtspState } from './rtsp-state';
export { rtspOptions, DEFAULT_RTSP_OPTIONS } from './rtsp-options';
export { parseTransportHeader, formatTransportHeader, transportKind, parsePortRange } from './transport';
export { parseRtspMessage } from './rtsp-message';

/** Client requests with more to them than a keep-alive; every other request of a session is one. */
const REQUESTS: Readonly<Record<string, (req: RtspRequest, message: Buffer, ctx: Ctx) => Promise<HandlerResult>>> = {
  SETUP: async (req, message, ctx) => {
    await keepAlive(req, ctx);
    return setupRequest(req, message, ctx);
  },
  TEARDOWN: async (req, _message, ctx) => teardown(req, ctx),
};

/**
 * The framing bound: an interleaved frame carries up to 65535 bytes after
 * its 4-byte header, and a server may send one that large; text messages
 * stay far below it.
 */
const MAX_RTSP_FRAME = 4 + 0xffff;

export default definePlugin<RtspOptions, RtspState>({
  name: 'rtsp',
  version: '0.2.0',
  apiVersion: '^0.2.0',
  description: 'RTSP: SETUP transports mapped and rewritten (RTP/RTCP pairs), restricted to the server, kept alive with the session, removed on TEARDOWN',
  controlChannels: [{ protocol: 'tcp', ports: [port(554)], framing: { kind: 'sip', interleaved: true, maxMessageSize: MAX_RTSP_FRAME } }],
  options: rtspOptions,
  initialState: () => initialRtspState(),

  onClientMessage: (message, ctx) => guarded(message, ctx, async (m) => {
    if (m.kind !== 'request') return undefined; // the client answering a server's request
    const act = REQUESTS[m.method];
    if (act !== undefined) return act(m, message, ctx);
    await keepAlive(m, ctx);
    return undefined;
  }),

  onServerMessage: (message, ctx) => guarded(message, ctx, async (m) => {
    if (m.kind !== 'response') return undefined; // a server's own request (ANNOUNCE, SET_PARAMETER)
    const cseq = cseqOf(m);
    const pending = cseq === undefined ? undefined : ctx.state.pending.get(cseq);
    return pending === undefined ? undefined : setupReply(m, message, ctx, cseq!, pending);
  }),
});

/** Reads the message and runs `act` on it; what is not an RTSP message, or not understood, goes on unchanged. Never throws. */
async function guarded(message: Buffer, ctx: Ctx, act: (m: RtspMessage) => Promise<HandlerResult>): Promise<HandlerResult> {
  if (ctx.session.clientSide === 'public') {
    ctx.count('published-released');
    return { release: true };
  }
  if (!isRtspMessage(message)) return undefined; // interleaved `$` data and keep-alive CRLFs
  try {
    const m = parseRtspMessage(message, ctx.options);
    if (m.kind === 'unread') {
      ctx.count(`unread-${m.reason}`);
      return undefined;
    }
    return await act(m);
  } catch (err) {
    // A bug of ours must not cost the user the control connection: counted, logged, the message passes.
    ctx.count('internal-error');
    ctx.log.error('message passed unchanged after an internal error', { error: (err as Error).message });
    return undefined;
  }
}

/** Any request naming a session renews its channels' lifetime, in place. */
async function keepAlive(req: RtspRequest, ctx: Ctx): Promise<void> {
  const id = sessionOf(req)?.id;
  const rtsp = id === undefined ? undefined : ctx.state.sessions.get(id);
  if (rtsp === undefined || rtsp.streams.length === 0) return;
  const { lifetimeMs } = lifetimeFor(ctx.options, rtsp.timeoutS);
  for (const stream of rtsp.streams) {
    stream.lifetimeMs = lifetimeMs;
    await renewStream(ctx, stream);
  }
  ctx.count('keepalive-refreshed');
}

/** TEARDOWN of one stream's URL ends that stream; of any other URL (the aggregate) the whole session. */
async function teardown(req: RtspRequest, ctx: Ctx): Promise<HandlerResult> {
  const id = sessionOf(req)?.id;
  const rtsp = id === undefined ? undefined : ctx.state.sessions.get(id);
  if (rtsp === undefined) return undefined;
  const one = rtsp.streams.filter((s) => s.url === req.uri);
  const ending = one.length > 0 ? one : rtsp.streams;
  for (const stream of ending) await closeStream(ctx, stream);
  rtsp.streams = rtsp.streams.filter((s) => !ending.includes(s));
  if (rtsp.streams.length === 0) ctx.state.sessions.delete(id!);
  // SETUPs of this session still waiting for their reply end with it.
  if (one.length === 0) {
    for (const [cseq, pending] of [...ctx.state.pending]) if (pending.session === id) await releasePending(ctx, cseq, pending);
  }
  ctx.count('teardown');
  return undefined;
}
