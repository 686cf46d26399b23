import { port, type Endpoint, type IpAddress, type SessionContext } from '@algd/sdk';
import type { PortRange } from './transport';

/**
 * The channel bookkeeping of one media stream: an even/odd pair of public
 * ports held for the stream's whole life, and the RTP and RTCP data
 * channels on them to the client's own ports. A keep-alive renews the
 * channels' lifetime in place (`renewDataChannel`); restricting them to the
 * server's ports changes their remote, so that removes them and creates
 * them again on the same reserved ports. Connections already flowing
 * continue through a removed channel.
 */

/** One mapped stream (plain data, part of the session state). */
export interface StreamState {
  /** The SETUP's request URI: a TEARDOWN naming it ends this stream only. */
  readonly url: string;
  readonly reservation: number;
  /** The public address and the reserved RTP/RTCP ports. */
  readonly publicAddress: IpAddress;
  readonly publicPorts: readonly [number, number];
  /** `client_port` as the client sent it (a single port means RTCP on the next one). */
  readonly client: PortRange;
  /** Who may send: the server's address until its reply, then `source=` and `server_port=`. */
  remote: { address: IpAddress; ports?: readonly number[] };
  lifetimeMs: number;
  /** The open channels' ids, RTP first. */
  channels: number[];
}

type Ctx = Pick<SessionContext<unknown, unknown>, 'session' | 'createDataChannel' | 'removeDataChannel' | 'renewDataChannel' | 'reservePorts' | 'releasePorts' | 'count' | 'log'>;

/** RTP and RTCP ports of `a-b`, or of `a` with RTCP on `a+1` (none when `a` is 65535). */
export function rtpRtcpPorts(range: PortRange): number[] {
  if (range.second !== undefined) return [range.first, range.second];
  return range.first < 0xffff ? [range.first, range.first + 1] : [range.first];
}

/** Reserves a public pair for a stream and maps it; undefined (nothing held) when the host refuses. */
export async function openStream(ctx: Ctx, url: string, client: PortRange, lifetimeMs: number): Promise<StreamState | undefined> {
  let reservation;
  try {
    reservation = await ctx.reservePorts({ protocol: 'udp', parity: 'even-odd' });
  } catch (err) {
    ctx.log.warn('no public port pair', { error: (err as Error).message });
    return undefined;
  }
  const stream: StreamState = {
    url,
    reservation: reservation.id,
    publicAddress: reservation.address,
    publicPorts: [reservation.ports[0]!, reservation.ports[1]!],
    client,
    remote: { address: ctx.session.server.address },
    lifetimeMs,
    channels: [],
  };
  if (await mapStream(ctx, stream)) return stream;
  await closeStream(ctx, stream);
  return undefined;
}

/** Creates the stream's channels from its current remote and lifetime; false when the host refused one (the others stay). */
export async function mapStream(ctx: Ctx, stream: StreamState): Promise<boolean> {
  const client = rtpRtcpPorts(stream.client);
  for (let i = 0; i < client.length; i++) {
    const remotePort = stream.remote.ports?.[i];
    try {
      const channel = await ctx.createDataChannel({
        protocol: 'udp',
        private: { address: ctx.session.client.address, port: port(client[i]!) },
        public: { address: stream.publicAddress, port: port(stream.publicPorts[i]!) } satisfies Endpoint,
        remote: remotePort === undefined ? { address: stream.remote.address } : { address: stream.remote.address, port: port(remotePort) },
        // Both ways: RTP and RTCP in, and the client's RTCP receiver reports out from the public pair.
        direction: 'both',
        persistent: true,
        lifetimeMs: stream.lifetimeMs,
      });
      stream.channels.push(channel.id);
    } catch (err) {
      ctx.count('channel-refused');
      ctx.log.warn('no data channel', { error: (err as Error).message });
      return false;
    }
  }
  return true;
}

/** Removes the stream's channels; its ports stay reserved. */
export async function unmapStream(ctx: Ctx, stream: StreamState): Promise<void> {
  for (const id of stream.channels) {
    try {
      await ctx.removeDataChannel(id);
    } catch (err) {
      ctx.log.warn('removing a data channel failed', { channel: id, error: (err as Error).message });
    }
  }
  stream.channels = [];
}

/** Replaces the stream's channels (a new remote, a new lifetime). */
export async function remapStream(ctx: Ctx, stream: StreamState): Promise<boolean> {
  await unmapStream(ctx, stream);
  return mapStream(ctx, stream);
}

/**
 * Renews the stream's channels for its current lifetime. A channel the
 * host no longer has (it expired before the keep-alive came, or was never
 * made) cannot be renewed: the stream is mapped afresh instead.
 */
export async function renewStream(ctx: Ctx, stream: StreamState): Promise<boolean> {
  if (stream.channels.length === rtpRtcpPorts(stream.client).length) {
    try {
      for (const id of stream.channels) await ctx.renewDataChannel(id, stream.lifetimeMs);
      return true;
    } catch (err) {
      ctx.count('renew-refused');
      ctx.log.info('renewing a data channel was refused; mapping the stream again', { error: (err as Error).message });
    }
  }
  return remapStream(ctx, stream);
}

/** Ends the stream: channels removed, ports released. */
export async function closeStream(ctx: Ctx, stream: StreamState): Promise<void> {
  await unmapStream(ctx, stream);
  try {
    await ctx.releasePorts(stream.reservation);
  } catch (err) {
    ctx.log.warn('releasing ports failed', { reservation: stream.reservation, error: (err as Error).message });
  }
}
