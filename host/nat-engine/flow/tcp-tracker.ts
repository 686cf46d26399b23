import type { Flow, FlowDirection } from './flow';

/**
 * A TCP state machine just good enough to pick the right timeout for a
 * flow: long while the connection is established, short while it opens or
 * closes, very short after a reset. It follows the states of Linux
 * conntrack (nf_conntrack_proto_tcp), simplified: no sequence-number window
 * checks (algd terminates control connections on its own listeners, and a
 * wrong guess here only shortens or lengthens a timeout), no SYN_SENT2.
 *
 * Known imprecisions, all harmless for expiry:
 * - Without sequence numbers, an ACK from the peer of a side that sent FIN
 *   is taken as acknowledging that FIN.
 * - In last_ack, an ACK from either side moves to time_wait (the kernel's
 *   table does the same); the flow lingers 120 s instead of 30 s.
 * - A RST is believed without a window check, so a forged RST with the
 *   right 5-tuple closes the flow, as it would the endpoints' TCP.
 */

/** Connection states, named as conntrack prints them (in lower case). */
export const TCP_STATES = ['syn_sent', 'syn_recv', 'established', 'fin_wait', 'close_wait', 'last_ack', 'time_wait', 'close'] as const;

/**
 * - `syn_sent`: the opener's SYN seen (a TCP flow starts here: flows are
 *   created by a SYN; connections picked up mid-stream are not tracked).
 * - `syn_recv`: the SYN/ACK seen.
 * - `established`: the handshake's final ACK seen.
 * - `fin_wait`: one side sent FIN.
 * - `close_wait`: that FIN was acknowledged; the other side may still send.
 * - `last_ack`: both sides sent FIN; waiting for the last ACK.
 * - `time_wait`: the last ACK seen; lingers for stray retransmissions.
 * - `close`: reset (RST).
 */
export type TcpState = (typeof TCP_STATES)[number];

/**
 * What a packet means to the state machine. Derived from its flags, its
 * direction and which sides already sent FIN, so that a retransmitted FIN
 * is not mistaken for the other side's.
 *
 * - `syn`: SYN without ACK. `synack`: SYN with ACK. `rst`: RST (wins over all).
 * - `fin`: the first FIN from this side.
 * - `close_ack`: an ACK from a side whose peer has sent FIN.
 * - `ack`: any other ACK. `none`: none of the above.
 */
export type TcpEvent = 'syn' | 'synack' | 'fin' | 'close_ack' | 'ack' | 'rst' | 'none';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

const sSS = 'syn_sent';
const sSR = 'syn_recv';
const sES = 'established';
const sFW = 'fin_wait';
const sCW = 'close_wait';
const sLA = 'last_ack';
const sTW = 'time_wait';
const sCL = 'close';

/** One row of the table: the next state for each current state, in TCP_STATES order. */
type Row = readonly [TcpState, TcpState, TcpState, TcpState, TcpState, TcpState, TcpState, TcpState];

const ALL_CLOSE: Row = [sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL];
const UNCHANGED: Row = [sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL];
/** Closing is symmetric: events are already relative to who sent FIN, so both directions share these rows. */
const FIN: Row = [sSS, sFW, sFW, sLA, sLA, sLA, sTW, sCL];
const CLOSE_ACK: Row = [sSS, sSR, sES, sCW, sCW, sTW, sTW, sCL];

/*
 * The transition table, by direction of the packet, then event; columns are
 * the current state. Notable cells:
 * - original syn in time_wait/close: the client reuses the port for a new
 *   connection (the engine normally replaces such a flow, see
 *   FlowTable.isClosing); the FIN memory is reset with it.
 * - reply syn in syn_sent: simultaneous open, folded into syn_recv.
 * - fin in syn_sent is ignored (it would be invalid), fin in syn_recv closes.
 */
const TABLE: Readonly<Record<FlowDirection, Readonly<Record<TcpEvent, Row>>>> = {
  //                    sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL
  original: {
    syn:          [sSS, sSR, sES, sFW, sCW, sLA, sSS, sSS],
    synack:       UNCHANGED,
    ack:          [sSS, sES, sES, sFW, sCW, sLA, sTW, sCL],
    close_ack:    CLOSE_ACK,
    fin:          FIN,
    rst:          ALL_CLOSE,
    none:         UNCHANGED,
  },
  reply: {
    syn:          [sSR, sSR, sES, sFW, sCW, sLA, sTW, sCL],
    synack:       [sSR, sSR, sES, sFW, sCW, sLA, sTW, sCL],
    ack:          UNCHANGED,
    close_ack:    CLOSE_ACK,
    fin:          FIN,
    rst:          ALL_CLOSE,
    none:         UNCHANGED,
  },
};

/** TABLE compiled to `[direction][event][state]` property lookups, built once. */
const TRANSITIONS = compile(TABLE);

/** The bit `Flow.tcpFinSeen` keeps for a direction that has sent FIN. */
function finBit(direction: FlowDirection): number {
  return direction === 'original' ? 1 : 2;
}

/** Classifies a packet; `finSeen` is the flow's `tcpFinSeen`. */
export function tcpEvent(flags: number, direction: FlowDirection, finSeen: number): TcpEvent {
  if (flags & TCP_RST) return 'rst';
  if (flags & TCP_SYN) return flags & TCP_ACK ? 'synack' : 'syn';
  if (flags & TCP_FIN && !(finSeen & finBit(direction))) return 'fin';
  if (flags & TCP_ACK) return finSeen & (3 ^ finBit(direction)) ? 'close_ack' : 'ack';
  return 'none';
}

/** The state after `event` in `direction`, per the table. */
export function nextTcpState(state: TcpState, direction: FlowDirection, event: TcpEvent): TcpState {
  return TRANSITIONS[direction][event][state];
}

/** Advances a TCP flow's state (and FIN memory) for one packet. */
export function trackTcp(flow: Flow<unknown>, direction: FlowDirection, flags: number): void {
  // A TCP flow's state is always a TcpState: the table sets it at creation and only this function changes it.
  const from = flow.state as TcpState;
  const event = tcpEvent(flags, direction, flow.tcpFinSeen);
  const to = TRANSITIONS[direction][event][from];
  if (to === 'syn_sent' && from !== 'syn_sent') flow.tcpFinSeen = 0; // the tuple was reused for a new connection
  else if (event === 'fin' && from !== 'syn_sent') flow.tcpFinSeen |= finBit(direction);
  flow.state = to;
}

/** Both sides are done (time_wait) or it was reset (close): a new SYN on the same tuple is a new connection. */
export function isTcpClosed(state: TcpState): boolean {
  return state === 'time_wait' || state === 'close';
}

function compile(table: typeof TABLE): Readonly<Record<FlowDirection, Readonly<Record<TcpEvent, Readonly<Record<TcpState, TcpState>>>>>> {
  const byDirection = {} as Record<FlowDirection, Record<TcpEvent, Record<TcpState, TcpState>>>;
  for (const direction of ['original', 'reply'] as const) {
    const byEvent = {} as Record<TcpEvent, Record<TcpState, TcpState>>;
    for (const [event, row] of Object.entries(table[direction]) as [TcpEvent, Row][]) {
      const byState = {} as Record<TcpState, TcpState>;
      TCP_STATES.forEach((state, i) => (byState[state] = row[i]!));
      byEvent[event] = Object.freeze(byState);
    }
    byDirection[direction] = Object.freeze(byEvent);
  }
  return Object.freeze(byDirection);
}
