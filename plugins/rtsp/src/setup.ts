import type { HandlerResult } from '@algd/sdk';
import { cseqOf, headersNamed, rewriteHeaders, sessionOf, type RtspRequest, type RtspResponse } from './rtsp-message';
import { lifetimeFor, streamsHeld, type Ctx, type PendingSetup } from './rtsp-state';
import { closeStream, openStream, remapStream, rtpRtcpPorts, type StreamState } from './streams';
import {
  formatPortRange, formatTransportAddress, formatTransportHeader, paramValue, parsePortRange, parseTransportAddress, parseTransportHeader,
  transportKind, withParams, type TransportSpec,
} from './transport';

/**
 * SETUP (RFC 2326 §10.4, §12.39), in two halves. The request: each UDP
 * unicast alternative gets a public even/odd pair mapped to the client's
 * own ports, and is sent on naming the pair (and the public address for a
 * `destination=` naming the client). The reply: the alternative the server
 * chose is restricted to its `source=`/`server_port=`, written back with the
 * client's own ports, and joins the RTSP session; the others are released.
 */

/** The gateway's own answer to a SETUP it cannot map (RFC 2326 §11.3.7 453: a resource the request needs is not available). */
function refuse(req: RtspRequest, cseq: string): HandlerResult {
  return { forward: null, respond: `${req.version} 453 Not Enough Bandwidth\r\nCSeq: ${cseq}\r\n\r\n` };
}

export async function setupRequest(req: RtspRequest, message: Buffer, ctx: Ctx): Promise<HandlerResult> {
  const { options, state } = ctx;
  const headers = headersNamed(req, 'Transport');
  if (headers.length === 0) return undefined;
  const specs = headers.length === 1 ? parseTransportHeader(headers[0]!.value) : undefined;
  if (specs === undefined) {
    ctx.count('bad-transport');
    ctx.log.info('Transport header not understood: SETUP passed unchanged', { transport: headers.map((h) => h.value).join(' | ').slice(0, 200) });
    return undefined;
  }
  const cseq = cseqOf(req);
  if (cseq === undefined) {
    // Without CSeq the reply could not be told apart: nothing is mapped.
    ctx.count('no-cseq');
    return undefined;
  }
  const offered = specs.slice(0, options.maxTransportsPerSetup);
  if (offered.length < specs.length) ctx.count('transports-dropped', specs.length - offered.length);
  for (const spec of offered) {
    const kind = transportKind(spec);
    if (kind !== 'udp-unicast') ctx.count(`${kind}-passed`);
  }
  const wanted = offered.filter((s) => transportKind(s) === 'udp-unicast' && ownDestination(s, ctx));
  if (wanted.length === 0 && offered.length === specs.length) return undefined;

  const previous = state.pending.get(cseq);
  if (previous !== undefined) await releasePending(ctx, cseq, previous);
  if (wanted.length > 0 && streamsHeld(state) >= options.maxStreamsPerSession) {
    ctx.count('stream-cap-refused');
    ctx.log.info('SETUP refused: stream cap reached', { cap: options.maxStreamsPerSession });
    return refuse(req, cseq);
  }

  const { lifetimeMs } = lifetimeFor(options, undefined);
  const alternatives: StreamState[] = [];
  const out: TransportSpec[] = [];
  for (const spec of offered) {
    if (!wanted.includes(spec)) {
      out.push(spec);
      continue;
    }
    const client = parsePortRange(paramValue(spec, 'client_port')!)!;
    const stream = await openStream(ctx, req.uri, client, lifetimeMs);
    if (stream === undefined) continue; // counted by openStream; the alternative is dropped
    alternatives.push(stream);
    const destination = paramValue(spec, 'destination');
    const pub = { first: stream.publicPorts[0], ...(client.second === undefined ? {} : { second: stream.publicPorts[1] }) } as typeof client;
    out.push(withParams(spec, {
      client_port: formatPortRange(pub),
      ...(destination ? { destination: formatTransportAddress(stream.publicAddress, destination) } : {}),
    }));
  }
  if (out.length === 0) {
    ctx.count('setup-unmapped-refused');
    return refuse(req, cseq);
  }
  if (alternatives.length > 0) {
    const sessionId = sessionOf(req)?.id;
    state.pending.set(cseq, { alternatives, ...(sessionId === undefined ? {} : { session: sessionId }) });
    ctx.count('setup-mapped');
  }
  return rewriteHeaders(message, new Map([[headers[0]!, formatTransportHeader(out)]]));
}

export async function setupReply(res: RtspResponse, message: Buffer, ctx: Ctx, cseq: string, pending: PendingSetup): Promise<HandlerResult> {
  const { state, options, session } = ctx;
  state.pending.delete(cseq);
  if (res.status < 200 || res.status > 299) {
    ctx.count('setup-failed');
    await releaseAll(ctx, pending.alternatives);
    return undefined;
  }
  const headers = headersNamed(res, 'Transport');
  const specs = headers.length === 1 ? parseTransportHeader(headers[0]!.value) : undefined;
  const chosen = specs?.[0];
  if (chosen === undefined) {
    ctx.count('bad-reply-transport');
    await releaseAll(ctx, pending.alternatives);
    return undefined;
  }
  const stream = chosenStream(chosen, pending.alternatives);
  await releaseAll(ctx, pending.alternatives.filter((s) => s !== stream));
  if (stream === undefined) {
    // The server chose TCP or multicast: no mapping needed any more.
    ctx.count(transportKind(chosen) === 'udp-unicast' ? 'reply-transport-unmatched' : 'reply-transport-unmapped');
    return undefined;
  }

  const announced = sessionOf(res);
  const sessionId = announced?.id ?? pending.session ?? '';
  const rtsp = state.sessions.get(sessionId) ?? { timeoutS: 0, streams: [] };
  const { timeoutS, lifetimeMs } = lifetimeFor(options, announced?.timeoutS ?? (rtsp.timeoutS || undefined));
  rtsp.timeoutS = timeoutS;
  stream.lifetimeMs = lifetimeMs;
  stream.remote = restriction(chosen, ctx) ?? stream.remote;
  await remapStream(ctx, stream);
  rtsp.streams.push(stream);
  state.sessions.set(sessionId, rtsp);
  ctx.count('stream-mapped');

  const destination = paramValue(chosen, 'destination');
  const back = withParams(chosen, {
    client_port: formatPortRange(stream.client),
    ...(destination && parseTransportAddress(destination) === stream.publicAddress ? { destination: formatTransportAddress(session.client.address, destination) } : {}),
  });
  return rewriteHeaders(message, new Map([[headers[0]!, formatTransportHeader([back, ...specs!.slice(1)])]]));
}

/** A `destination=` naming anyone but the client is a third party's business: counted, and that alternative goes on untouched. */
function ownDestination(spec: TransportSpec, ctx: Ctx): boolean {
  const destination = paramValue(spec, 'destination');
  if (!destination) return true;
  if (parseTransportAddress(destination) === ctx.session.client.address) return true;
  ctx.count('third-party-destination');
  return false;
}

/** The alternative the reply names by its public `client_port`; without one, the only UDP alternative. */
function chosenStream(chosen: TransportSpec, alternatives: readonly StreamState[]): StreamState | undefined {
  if (transportKind(chosen) === 'tcp' || transportKind(chosen) === 'multicast') return undefined;
  const text = paramValue(chosen, 'client_port');
  if (text === undefined) return alternatives.length === 1 && chosen.lower === 'UDP' ? alternatives[0] : undefined;
  const range = parsePortRange(text);
  return alternatives.find((s) => s.publicPorts[0] === range?.first);
}

/** Who may send to the pair: `source=` (else the server) from `server_port=` (else any port). */
function restriction(chosen: TransportSpec, ctx: Ctx): StreamState['remote'] | undefined {
  const { server } = ctx.session;
  const sourceText = paramValue(chosen, 'source');
  let address = server.address;
  if (sourceText) {
    const source = parseTransportAddress(sourceText);
    if (source !== undefined && source.includes(':') === server.address.includes(':')) address = source;
    else ctx.count('bad-source');
  }
  const serverPorts = paramValue(chosen, 'server_port');
  const range = serverPorts === undefined ? undefined : parsePortRange(serverPorts);
  if (range === undefined) return { address };
  return { address, ports: rtpRtcpPorts(range) };
}

async function releaseAll(ctx: Ctx, streams: readonly StreamState[]): Promise<void> {
  for (const s of streams) await closeStream(ctx, s);
}

/** A SETUP whose reply never came (its CSeq used again): its alternatives are released. */
export async function releasePending(ctx: Ctx, cseq: string, pending: PendingSetup): Promise<void> {
  ctx.state.pending.delete(cseq);
  await releaseAll(ctx, pending.alternatives);
}
