import { CircuitBreaker } from '../../../host/plugin-api/worker-pool/circuit-breaker';

/** A breaker on a clock the test moves by hand. */
function breakerAt(start = 1_000, opts: { threshold?: number; windowMs?: number; cooldownMs?: number } = {}) {
  let now = start;
  const breaker = new CircuitBreaker({ threshold: 3, windowMs: 10_000, cooldownMs: 1_000, ...opts, now: () => now });
  return { breaker, advance: (ms: number) => (now += ms), at: () => now };
}

describe('CircuitBreaker', () => {
  it('uses the documented defaults: 5 failures within 60 s, 30 s cooldown', () => {
    let now = 0;
    const b = new CircuitBreaker({ now: () => now });
    expect([1, 2, 3, 4].map(() => b.recordFailure())).toEqual([false, false, false, false]);
    expect(b.recordFailure()).toBe(true);
    expect(b.state).toBe('open');
    expect(b.cooldownMs).toBe(30_000);
    now = 29_999;
    expect(b.state).toBe('open');
    now = 30_000;
    expect(b.state).toBe('half-open');
  });

  it('starts closed and allows', () => {
    const { breaker } = breakerAt();
    expect(breaker.state).toBe('closed');
    expect(breaker.allows()).toBe(true);
    expect(breaker.trippedAt).toBeUndefined();
  });

  it('trips on the threshold-th failure within the window, at that failure', () => {
    const { breaker, advance } = breakerAt();
    expect(breaker.recordFailure()).toBe(false);
    advance(4_000);
    expect(breaker.recordFailure()).toBe(false);
    advance(5_999);
    expect(breaker.state).toBe('closed');
    expect(breaker.recordFailure()).toBe(true); // 3 failures within 9 999 ms
    expect(breaker.state).toBe('open');
    expect(breaker.allows()).toBe(false);
    expect(breaker.trippedAt).toBe(1_000 + 4_000 + 5_999);
  });

  it('forgets failures windowMs old: they no longer count', () => {
    const { breaker, advance } = breakerAt();
    breaker.recordFailure(); // t=1000
    advance(1_000);
    breaker.recordFailure(); // t=2000
    advance(9_000);
    expect(breaker.recordFailure()).toBe(false); // t=11000: the first is exactly 10 000 ms old
    expect(breaker.state).toBe('closed');
    advance(500);
    expect(breaker.recordFailure()).toBe(true); // t=11500: 2000, 11000, 11500
  });

  it('does not let successes erase failures while closed', () => {
    const { breaker } = breakerAt();
    breaker.recordFailure();
    breaker.recordSuccess();
    breaker.recordFailure();
    breaker.recordSuccess();
    expect(breaker.recordFailure()).toBe(true);
  });

  it('ignores outcomes reported while open', () => {
    const { breaker, advance } = breakerAt();
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    advance(500);
    expect(breaker.recordFailure()).toBe(false);
    breaker.recordSuccess();
    expect(breaker.state).toBe('open');
    expect(breaker.trippedAt).toBe(1_000);
    advance(500);
    expect(breaker.state).toBe('half-open'); // the cooldown still runs from the trip
  });

  it('becomes half-open exactly cooldownMs after the trip; one success closes it', () => {
    const { breaker, advance } = breakerAt();
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    advance(999);
    expect(breaker.state).toBe('open');
    advance(1);
    expect(breaker.state).toBe('half-open');
    expect(breaker.allows()).toBe(true);
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
    expect(breaker.trippedAt).toBeUndefined();
    // Failures before the trip are forgotten: it takes threshold new ones.
    expect(breaker.recordFailure()).toBe(false);
    expect(breaker.recordFailure()).toBe(false);
    expect(breaker.recordFailure()).toBe(true);
  });

  it('re-opens on one failure in half-open, doubling the cooldown up to 8x', () => {
    const { breaker, advance, at } = breakerAt();
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    const cooldowns: number[] = [];
    for (let trial = 0; trial < 5; trial++) {
      advance(breaker.cooldownMs - 1);
      expect(breaker.state).toBe('open');
      advance(1);
      expect(breaker.state).toBe('half-open');
      expect(breaker.recordFailure()).toBe(true);
      expect(breaker.state).toBe('open');
      expect(breaker.trippedAt).toBe(at());
      cooldowns.push(breaker.cooldownMs);
    }
    expect(cooldowns).toEqual([2_000, 4_000, 8_000, 8_000, 8_000]);
    // A success after the long cooldown closes it and the cooldown starts over.
    advance(8_000);
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
    expect(breaker.cooldownMs).toBe(1_000);
  });

  it('reset() closes at once and forgets failures and cooldown growth', () => {
    const { breaker, advance } = breakerAt();
    breaker.recordFailure();
    breaker.recordFailure();
    breaker.reset();
    expect(breaker.recordFailure()).toBe(false); // the two before reset are gone
    breaker.reset();
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    advance(1_000);
    breaker.recordFailure(); // half-open -> open, cooldown 2000
    expect(breaker.cooldownMs).toBe(2_000);
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(breaker.allows()).toBe(true);
    expect(breaker.trippedAt).toBeUndefined();
    expect(breaker.cooldownMs).toBe(1_000);
  });

  it('with threshold 1 trips on the first failure', () => {
    const { breaker } = breakerAt(0, { threshold: 1 });
    expect(breaker.recordFailure()).toBe(true);
    expect(breaker.trippedAt).toBe(0);
  });

  it.each([
    [{ threshold: 0 }, /threshold/],
    [{ threshold: 1.5 }, /threshold/],
    [{ windowMs: 0 }, /windowMs/],
    [{ cooldownMs: -1 }, /cooldownMs/],
  ])('rejects %j', (opts, message) => {
    expect(() => new CircuitBreaker(opts)).toThrow(message);
  });
});
