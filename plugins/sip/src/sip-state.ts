import type { IpAddress, Port } from '@algd/sdk';

/** Where the other party of a call receives one media stream (its `c=` and `m=`, `a=rtcp`). */
export interface PeerMedia {
  readonly address: IpAddress;
  readonly rtp: Port;
  readonly rtcp: Port;
}

/** One mapped media stream (an `m=` line of the phone's): an even/odd public port pair with its RTP and RTCP channels. */
export interface MediaStream {
  /** The reservation holding the public pair. */
  readonly reservation: number;
  readonly publicAddress: IpAddress;
  /** The public RTP (even) and RTCP (odd) ports announced for the phone. */
  readonly publicPorts: readonly [Port, Port];
  /** The phone's own RTP and RTCP ports. */
  phonePorts: [Port, Port];
  /** The peer the channels are restricted to, once its description is known. */
  peer?: PeerMedia;
  /** The open RTP and RTCP channels. */
  channels: number[];
}

/** A call, keyed by Call-ID: its media streams by `m=` line index. */
export interface Dialog {
  /** The phone's streams; `null` where an `m=` line has none (disabled, not the phone's, refused). */
  streams: (MediaStream | null)[];
  /** The peer's media by `m=` line index, from its last description. */
  peers: (PeerMedia | null)[];
  /** A 2xx answered the INVITE: a failed re-INVITE or a late CANCEL leaves the call's media alone. */
  established: boolean;
}

/** A REGISTER from the phone waiting for its final response. */
export interface PendingRegister {
  readonly callId: string;
  readonly cseq: number;
  /** The lifetime the phone asked for (seconds), when it said. */
  readonly requested?: number;
  /** Contact `*` or every contact with lifetime 0. */
  readonly unregister: boolean;
}

/** A SIP session's state (plain data: it travels between threads). */
export interface SipState {
  dialogs: Map<string, Dialog>;
  /** The registration pinhole (a channel carried by the session itself). */
  registration?: number;
  pendingRegister?: PendingRegister;
  /** The phone's address as it writes it in its own top Via (`198.51.100.2:5060`), restored in what comes back. */
  phoneForm?: string;
  /** Its last call ended and it holds nothing: the host was told to end the session after a short idle (quiet.ts). */
  quiet?: true;
}

export function initialSipState(): SipState {
  return { dialogs: new Map() };
}
