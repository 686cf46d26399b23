import { Flow, reverseTuple, TCP_STATES, type FlowDirection, type TcpState } from '../../../../host/nat-engine/flow';
import { isTcpClosed, nextTcpState, tcpEvent, trackTcp } from '../../../../host/nat-engine/flow/tcp-tracker';
import { ACK, FIN, RST, SYN, tuple } from './tuple-fixtures';

const O: FlowDirection = 'original';
const R: FlowDirection = 'reply';

/** The states a new flow goes through for these packets. */
function walk(packets: [FlowDirection, number][]): TcpState[] {
  const t = tuple('tcp', '198.51.100.2', 40000, '203.0.113.2', 21);
  const flow = new Flow(1, t, reverseTuple(t), undefined, 'syn_sent', 0, 0);
  return packets.map(([dir, flags]) => {
    trackTcp(flow, dir, flags);
    return flow.state as TcpState;
  });
}

describe('TCP tracker', () => {
  it('classifies flags, RST first, SYN before FIN', () => {
    expect(tcpEvent(RST | ACK, O, 0)).toBe('rst');
    expect(tcpEvent(SYN, O, 0)).toBe('syn');
    expect(tcpEvent(SYN | ACK, R, 0)).toBe('synack');
    expect(tcpEvent(SYN | FIN, O, 0)).toBe('syn');
    expect(tcpEvent(FIN | ACK, O, 0)).toBe('fin');
    expect(tcpEvent(ACK, O, 0)).toBe('ack');
    expect(tcpEvent(0x08, O, 0)).toBe('none');
  });

  it('tells a retransmitted FIN from the peer closing', () => {
    // original already sent FIN (bit 1)
    expect(tcpEvent(FIN | ACK, O, 1)).toBe('ack');
    expect(tcpEvent(FIN, O, 1)).toBe('none');
    expect(tcpEvent(FIN | ACK, R, 1)).toBe('fin');
    expect(tcpEvent(ACK, R, 1)).toBe('close_ack');
    expect(tcpEvent(ACK, O, 1)).toBe('ack');
  });

  it('opens and closes a connection the usual way', () => {
    expect(walk([[O, SYN], [R, SYN | ACK], [O, ACK], [O, ACK], [R, ACK], [O, FIN | ACK], [R, FIN | ACK], [O, ACK]])).toEqual([
      'syn_sent', 'syn_recv', 'established', 'established', 'established', 'fin_wait', 'last_ack', 'time_wait',
    ]);
  });

  it('follows a half-close: the other side keeps sending after the FIN is acknowledged', () => {
    expect(walk([[O, SYN], [R, SYN | ACK], [O, ACK], [O, FIN | ACK], [R, ACK], [R, ACK], [O, ACK], [R, FIN | ACK], [O, ACK]])).toEqual([
      'syn_sent', 'syn_recv', 'established', 'fin_wait', 'close_wait', 'close_wait', 'close_wait', 'last_ack', 'time_wait',
    ]);
  });

  it('does not take a retransmitted FIN for the second FIN', () => {
    expect(walk([[O, SYN], [R, SYN | ACK], [O, ACK], [R, FIN | ACK], [R, FIN | ACK], [O, ACK], [R, FIN | ACK]])).toEqual([
      'syn_sent', 'syn_recv', 'established', 'fin_wait', 'fin_wait', 'close_wait', 'close_wait',
    ]);
  });

  it('moves to close on RST from any state', () => {
    for (const s of TCP_STATES) {
      expect(nextTcpState(s, O, 'rst')).toBe('close');
      expect(nextTcpState(s, R, 'rst')).toBe('close');
    }
    expect(walk([[O, SYN], [R, RST | ACK]])).toEqual(['syn_sent', 'close']);
  });

  it('folds a simultaneous open into syn_recv', () => {
    expect(walk([[O, SYN], [R, SYN], [O, SYN | ACK], [R, SYN | ACK], [O, ACK]])).toEqual(['syn_sent', 'syn_recv', 'syn_recv', 'syn_recv', 'established']);
  });

  it('ignores a FIN before the handshake, and reopens from time_wait with a clean FIN memory', () => {
    expect(walk([[O, FIN], [R, SYN | ACK], [O, ACK]])).toEqual(['syn_sent', 'syn_recv', 'established']);
    const states = walk([[O, SYN], [R, SYN | ACK], [O, ACK], [O, FIN | ACK], [R, FIN | ACK], [O, ACK], [O, SYN], [R, SYN | ACK], [O, ACK], [O, FIN | ACK]]);
    expect(states.slice(5)).toEqual(['time_wait', 'syn_sent', 'syn_recv', 'established', 'fin_wait']);
  });

  it('lets no reply packet reopen a finished connection', () => {
    expect(nextTcpState('time_wait', R, 'syn')).toBe('time_wait');
    expect(nextTcpState('close', R, 'synack')).toBe('close');
    expect(nextTcpState('time_wait', O, 'syn')).toBe('syn_sent');
  });

  it('calls time_wait and close closed, nothing else', () => {
    expect(TCP_STATES.filter(isTcpClosed)).toEqual(['time_wait', 'close']);
  });
});
