import { DEFAULT_FLOW_TIMEOUTS, resolveFlowTimeouts } from '../../../../host/nat-engine/flow';

describe('flow timeouts', () => {
  it('defaults to conntrack-like values, with the RFC 5382 minimum for established TCP', () => {
    expect(DEFAULT_FLOW_TIMEOUTS).toEqual({
      tcpSynSent: 120, tcpSynRecv: 60, tcpEstablished: 7440, tcpFinWait: 120, tcpCloseWait: 60, tcpLastAck: 30,
      tcpTimeWait: 120, tcpClose: 10, udpUnreplied: 30, udpReplied: 180, other: 60,
    });
    expect(DEFAULT_FLOW_TIMEOUTS.tcpEstablished).toBeGreaterThanOrEqual(2 * 3600 + 4 * 60);
  });

  it('overrides only what is given', () => {
    const t = resolveFlowTimeouts({ udpReplied: 300, tcpClose: undefined });
    expect(t.udpReplied).toBe(300);
    expect(t.tcpClose).toBe(10);
    expect(Object.isFrozen(t)).toBe(true);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects %p', (bad) => {
    expect(() => resolveFlowTimeouts({ tcpTimeWait: bad })).toThrow(/tcpTimeWait must be a positive number/);
  });
});
