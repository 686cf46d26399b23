import { port, type DataChannelRequest, type IpAddress, type Port, type SessionContext } from '@algd/sdk';
import { isUnspecified, type Sdp, type SdpAddress, type SdpMedia } from './sdp';
import type { SipOptions } from './sip-options';
import type { Dialog, MediaStream, PeerMedia, SipState } from './sip-state';
import type { Edit } from './span';

type Ctx = SessionContext<SipOptions, SipState>;

/** Calls one session keeps state for; a phone has a handful at most. */
export const MAX_DIALOGS = 32;

/**
 * The phone's session description (offer or answer, in any message): each
 * `m=` line on the phone's own address gets an even/odd public pair with a
 * persistent RTP and RTCP channel (`both` ways: the phone's media leaves
 * from the ports it announces), restricted to the peer once its
 * description is known. A stream whose port and RTCP port are unchanged
 * keeps its channels; one that changed gets new channels on the same
 * public pair; port 0 (disabled, RFC 3264 §8.2) or media moved elsewhere
 * removes them. Returns the edits announcing the public side: `m=` and
 * `a=rtcp` ports; `c=`, `o=` and `a=rtcp` addresses that are the phone's.
 * A stream beyond the caps, or that the host refuses, is announced with
 * port 0: it cannot flow, and the other side learns it at once.
 */
export async function mapPhoneMedia(ctx: Ctx, callId: string, sdp: Sdp): Promise<Edit[]> {
  const { session } = ctx;
  const edits: Edit[] = [];
  const publicAddress = session.boundary.address;
  const translate = (a: SdpAddress | undefined) => {
    if (a?.address !== undefined && a.address === session.client.address) edits.push({ ...a.span, text: publicAddress });
  };
  translate(sdp.origin);
  translate(sdp.connection);
  const dialog = dialogFor(ctx, callId);
  for (let i = 0; i < sdp.media.length; i++) {
    const m = sdp.media[i]!;
    translate(m.connection);
    translate(m.rtcp?.address);
    const address = (m.connection ?? sdp.connection)?.address;
    const existing = dialog?.streams[i] ?? null;
    if (m.port === 0) {
      if (existing) await closeStream(ctx, dialog!, i, 'close');
      continue;
    }
    if (address !== undefined && isUnspecified(address)) continue; // RFC 2543 hold: the stream keeps what it has
    if (address !== session.client.address) {
      // Not the phone's: the host would refuse a channel to another host anyway.
      ctx.count('foreign-media-address');
      if (existing) await closeStream(ctx, dialog!, i, 'close');
      continue;
    }
    const phonePorts = rtpPair(m);
    if (phonePorts === undefined) continue;
    const stream = dialog === undefined ? undefined : await placeStream(ctx, dialog, i, phonePorts);
    if (stream === undefined) {
      edits.push({ ...m.portSpan, text: '0' });
      continue;
    }
    edits.push({ ...m.portSpan, text: String(stream.publicPorts[0]) });
    if (m.rtcp) edits.push({ ...m.rtcp.portSpan, text: String(stream.publicPorts[1]) });
  }
  if (dialog) {
    for (let i = sdp.media.length; i < dialog.streams.length; i++) if (dialog.streams[i]) await closeStream(ctx, dialog, i, 'close');
    dropIfEmpty(ctx, callId);
  }
  return edits;
}

/**
 * The other party's session description: where it receives each stream.
 * The phone's channels are restricted to it (recreated on the same public
 * pair when it changed); a stream it disables (port 0) loses its channels.
 */
export async function notePeerMedia(ctx: Ctx, callId: string, sdp: Sdp): Promise<void> {
  const dialog = dialogFor(ctx, callId);
  if (dialog === undefined) return;
  const family = ctx.session.client.address.includes(':');
  for (let i = 0; i < sdp.media.length; i++) {
    const m = sdp.media[i]!;
    const address = (m.connection ?? sdp.connection)?.address;
    if (m.port === 0) {
      dialog.peers[i] = null;
      if (dialog.streams[i]) await closeStream(ctx, dialog, i, 'close');
      continue;
    }
    if (address !== undefined && isUnspecified(address)) continue; // on hold: keeps what it had
    const pair = rtpPair(m);
    // A host name or the other IP family cannot restrict a channel: the stream stays open to any sender.
    const peer: PeerMedia | null = address === undefined || address.includes(':') !== family || pair === undefined ? null : { address, rtp: pair[0], rtcp: pair[1] };
    dialog.peers[i] = peer;
    const stream = dialog.streams[i];
    if (stream && !samePeer(stream.peer, peer)) {
      if (peer) stream.peer = peer;
      else delete stream.peer;
      await reopen(ctx, dialog, i);
    }
  }
  dropIfEmpty(ctx, callId);
}

/**
 * The call is over (BYE, CANCEL, a failed INVITE): every channel and
 * reservation of it goes, with the media flows through them. RTP that
 * still arrives after the BYE belongs to no call; kept, each answered RTP
 * flow would hold its public port until it idled out (180 s), which at a
 * few hundred calls a second is most of the mapping port pool.
 */
export async function endDialog(ctx: Ctx, callId: string): Promise<void> {
  const dialog = ctx.state.dialogs.get(callId);
  if (dialog === undefined) return;
  for (let i = 0; i < dialog.streams.length; i++) if (dialog.streams[i]) await closeStream(ctx, dialog, i, 'close');
  ctx.state.dialogs.delete(callId);
}

/** A media channel ended by itself (expired): its stream's other channel and public pair go too. */
export async function mediaChannelEnded(ctx: Ctx, channel: number): Promise<void> {
  for (const [callId, dialog] of ctx.state.dialogs) {
    const i = dialog.streams.findIndex((s) => s?.channels.includes(channel));
    if (i < 0) continue;
    const stream = dialog.streams[i]!;
    stream.channels = stream.channels.filter((c) => c !== channel);
    ctx.count('media-expired');
    // An expiry leaves media that still flows alone (mediaLifetimeMs): its sibling's flows continue too.
    await closeStream(ctx, dialog, i, 'continue');
    // Media left to expire: the call is most likely gone without a BYE.
    if (dialog.streams.every((s) => !s)) ctx.state.dialogs.delete(callId);
    return;
  }
}

/** The call's state, created for a new Call-ID (within {@link MAX_DIALOGS}). */
function dialogFor(ctx: Ctx, callId: string): Dialog | undefined {
  const dialogs = ctx.state.dialogs;
  let dialog = dialogs.get(callId);
  if (dialog === undefined) {
    if (dialogs.size >= MAX_DIALOGS) {
      // Calls whose media is all gone (ended without a BYE) make room, oldest first.
      const idle = [...dialogs].find(([, d]) => d.streams.every((s) => !s));
      if (idle === undefined) {
        ctx.count('dialog-cap-reached');
        return undefined;
      }
      dialogs.delete(idle[0]);
    }
    dialog = { streams: [], peers: [], established: false };
    dialogs.set(callId, dialog);
  }
  return dialog;
}

function dropIfEmpty(ctx: Ctx, callId: string): void {
  const d = ctx.state.dialogs.get(callId);
  if (d && d.streams.every((s) => !s) && d.peers.every((p) => !p)) ctx.state.dialogs.delete(callId);
}

/** The phone's RTP port and RTCP port (`a=rtcp`, else RTP + 1, RFC 3550 §11). */
function rtpPair(m: SdpMedia): [Port, Port] | undefined {
  const rtcp = m.rtcp?.port ?? m.port + 1;
  return rtcp > 65_535 ? undefined : [m.port, port(rtcp)];
}

/** Keeps, moves or creates stream `i` for the phone's ports; undefined when refused. */
async function placeStream(ctx: Ctx, dialog: Dialog, i: number, phonePorts: [Port, Port]): Promise<MediaStream | undefined> {
  const existing = dialog.streams[i];
  if (existing) {
    if (existing.phonePorts[0] === phonePorts[0] && existing.phonePorts[1] === phonePorts[1] && existing.channels.length === 2) return existing;
    existing.phonePorts = phonePorts;
    return (await reopen(ctx, dialog, i)) ? existing : undefined;
  }
  const inDialog = dialog.streams.filter((s) => s).length;
  const inSession = [...ctx.state.dialogs.values()].reduce((n, d) => n + d.streams.filter((s) => s).length, 0);
  if (inDialog >= ctx.options.maxMediaStreamsPerDialog || inSession >= ctx.options.maxMediaStreamsPerSession) {
    ctx.count('media-cap-refused');
    ctx.log.info('media stream refused: cap reached', { inDialog, inSession });
    return undefined;
  }
  let reservation;
  try {
    reservation = await ctx.reservePorts({ protocol: 'udp', parity: 'even-odd' });
  } catch (err) {
    ctx.count('media-channel-refused');
    ctx.log.warn('no media ports', { error: (err as Error).message });
    return undefined;
  }
  const peer = dialog.peers[i];
  const stream: MediaStream = {
    reservation: reservation.id,
    publicAddress: reservation.address,
    publicPorts: [reservation.ports[0]!, reservation.ports[1]!],
    phonePorts,
    ...(peer ? { peer } : {}),
    channels: [],
  };
  while (dialog.streams.length < i) dialog.streams.push(null);
  dialog.streams[i] = stream;
  if (!(await reopen(ctx, dialog, i))) return undefined;
  ctx.count('media-mapped');
  return stream;
}

/** (Re)creates stream `i`'s two channels on its public pair; on refusal the stream is closed. */
async function reopen(ctx: Ctx, dialog: Dialog, i: number): Promise<boolean> {
  const stream = dialog.streams[i]!;
  await removeChannels(ctx, stream);
  const { client } = ctx.session;
  const channel = (k: 0 | 1): DataChannelRequest => ({
    protocol: 'udp',
    direction: 'both',
    private: { address: client.address, port: stream.phonePorts[k] },
    public: { address: stream.publicAddress, port: stream.publicPorts[k] },
    ...(stream.peer ? { remote: remoteOf(ctx, stream.peer, k) } : {}),
    persistent: true,
    lifetimeMs: ctx.options.mediaLifetimeMs,
    notify: { ended: ['expired'] },
  });
  try {
    for (const k of [0, 1] as const) stream.channels.push((await ctx.createDataChannel(channel(k))).id);
    return true;
  } catch (err) {
    ctx.count('media-channel-refused');
    ctx.log.warn('media channel refused', { error: (err as Error).message });
    await closeStream(ctx, dialog, i, 'close');
    return false;
  }
}

function remoteOf(ctx: Ctx, peer: PeerMedia, k: 0 | 1): { address: IpAddress; port?: Port } {
  return ctx.options.mediaPeerPort ? { address: peer.address, port: k === 0 ? peer.rtp : peer.rtcp } : { address: peer.address };
}

/**
 * Removes stream `i`'s channels and releases its public pair. `close`: the
 * stream is over (the call ended, the stream was disabled or moved), so
 * the flows through its channels are closed too and the pair goes back to
 * the pool at once; `continue`: they run on until they idle out.
 */
async function closeStream(ctx: Ctx, dialog: Dialog, i: number, connections: 'close' | 'continue'): Promise<void> {
  const stream = dialog.streams[i];
  if (!stream) return;
  dialog.streams[i] = null;
  await removeChannels(ctx, stream, connections === 'close');
  try {
    await ctx.releasePorts(stream.reservation);
  } catch (err) {
    ctx.log.warn('release failed', { error: (err as Error).message });
  }
  ctx.count('media-removed');
}

/** Removes the stream's channels; with `closeConnections` the flows through them end too. A re-offer's reopen lets them run (the same public pair carries the new channels). */
async function removeChannels(ctx: Ctx, stream: MediaStream, closeConnections = false): Promise<void> {
  for (const id of stream.channels) {
    try {
      await (closeConnections ? ctx.removeDataChannel(id, { closeConnections: true }) : ctx.removeDataChannel(id));
    } catch (err) {
      ctx.log.warn('remove failed', { channel: id, error: (err as Error).message });
    }
  }
  stream.channels = [];
}

function samePeer(a: PeerMedia | undefined, b: PeerMedia | null): boolean {
  if (a === undefined || b === null) return a === undefined && b === null;
  return a.address === b.address && a.rtp === b.rtp && a.rtcp === b.rtcp;
}
