import type { FlowState } from './flow';

/**
 * How long a flow may stay idle in each state, in seconds. A packet of the
 * flow restarts the clock with the timeout of the state it leaves the flow
 * in. The defaults follow Linux conntrack (net.netfilter.nf_conntrack_*
 * sysctls) except where noted.
 */
export interface FlowTimeouts {
  readonly tcpSynSent: number;
  readonly tcpSynRecv: number;
  /**
   * Linux keeps idle established connections for 5 days (432000 s), so that
   * a firewall never breaks a long-lived but silent connection. For algd a
   * flow is more expensive: it may pin a public mapping port and plugin
   * session state, and a host that vanished without FIN or RST leaves it
   * behind. We use the shortest idle time RFC 5382 (REQ-5) allows a NAT:
   * 2 hours 4 minutes, i.e. the 2-hour default TCP keepalive interval plus
   * margin, so connections kept alive by keepalives survive.
   */
  readonly tcpEstablished: number;
  readonly tcpFinWait: number;
  readonly tcpCloseWait: number;
  readonly tcpLastAck: number;
  readonly tcpTimeWait: number;
  /** After a RST: long enough to translate the RST's stragglers, short enough to free the tuple. */
  readonly tcpClose: number;
  /** UDP before any reply: short, a one-way probe should not hold state. */
  readonly udpUnreplied: number;
  /**
   * UDP once the other side answered (conntrack's "stream"; Linux 120 s).
   * Longer here because SIP and RTP sessions idle through silence
   * suppression and re-registration intervals.
   */
  readonly udpReplied: number;
  /** Any other protocol, in every state. */
  readonly other: number;
}

export const DEFAULT_FLOW_TIMEOUTS: FlowTimeouts = Object.freeze({
  tcpSynSent: 120,
  tcpSynRecv: 60,
  tcpEstablished: 7440,
  tcpFinWait: 120,
  tcpCloseWait: 60,
  tcpLastAck: 30,
  tcpTimeWait: 120,
  tcpClose: 10,
  udpUnreplied: 30,
  udpReplied: 180,
  other: 60,
});

/** The defaults with `overrides` applied (undefined entries keep the default). Throws RangeError on a non-positive or non-finite value. */
export function resolveFlowTimeouts(overrides: Partial<FlowTimeouts> = {}): FlowTimeouts {
  const out: { -readonly [K in keyof FlowTimeouts]: number } = { ...DEFAULT_FLOW_TIMEOUTS };
  for (const key of Object.keys(DEFAULT_FLOW_TIMEOUTS) as (keyof FlowTimeouts)[]) {
    const value = overrides[key] ?? DEFAULT_FLOW_TIMEOUTS[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new RangeError(`flow timeout ${key} must be a positive number of seconds, got ${String(value)}`);
    }
    out[key] = value;
  }
  return Object.freeze(out);
}

/** Timeouts in milliseconds, arranged for a per-packet lookup. */
export interface StateTimeoutsMs {
  /** TCP flows by TCP state, UDP flows by datagram state. */
  readonly byState: Readonly<Record<FlowState, number>>;
  /** Flows of any other protocol. */
  readonly other: number;
}

export function stateTimeoutsMs(t: FlowTimeouts): StateTimeoutsMs {
  const s = 1000;
  return Object.freeze({
    byState: Object.freeze({
      syn_sent: t.tcpSynSent * s,
      syn_recv: t.tcpSynRecv * s,
      established: t.tcpEstablished * s,
      fin_wait: t.tcpFinWait * s,
      close_wait: t.tcpCloseWait * s,
      last_ack: t.tcpLastAck * s,
      time_wait: t.tcpTimeWait * s,
      close: t.tcpClose * s,
      unreplied: t.udpUnreplied * s,
      replied: t.udpReplied * s,
    }),
    other: t.other * s,
  });
}
