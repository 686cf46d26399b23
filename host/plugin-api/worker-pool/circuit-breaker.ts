export interface CircuitBreakerOptions {
  /** Failures within `windowMs` that trip the breaker. Default 5. */
  readonly threshold?: number;
  /** The window failures are counted in, in milliseconds. Default 60 000. */
  readonly windowMs?: number;
  /** How long the breaker stays open after it first trips, in milliseconds. Default 30 000. */
  readonly cooldownMs?: number;
  /** The clock, in milliseconds. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/** The longest cooldown, as a multiple of `cooldownMs`. */
const MAX_COOLDOWN_FACTOR = 8;

/**
 * Switches a plugin off when it keeps failing, and tries it again later.
 *
 * - **closed** (normal): `allows()` is true. Each failure is remembered
 *   with its time. The failure that makes `threshold` failures within the
 *   last `windowMs` milliseconds (itself included) trips the breaker: it
 *   opens. Successes do not erase failures; failures older than `windowMs`
 *   no longer count.
 * - **open**: `allows()` is false, for `cooldownMs` after it tripped. Then
 *   it is half-open (no call needed: the state follows the clock).
 * - **half-open**: `allows()` is true, on trial. The first success closes
 *   it (failures forgotten, cooldown back to `cooldownMs`); the first
 *   failure trips it again, open for twice the previous cooldown, at most
 *   8 × `cooldownMs`.
 * - `reset()` closes it at once and forgets failures and cooldown growth
 *   (an administrator re-enabling the plugin).
 *
 * Outcomes reported while it is open (tasks that started before it
 * tripped) change nothing. Pure logic over an injectable clock.
 */
export class CircuitBreaker {
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly baseCooldownMs: number;
  private readonly now: () => number;
  /** Times of the most recent failures while closed, oldest first; at most `threshold`. */
  private failures: number[] = [];
  private openedAt: number | undefined;
  private cooldown: number;

  constructor({ threshold = 5, windowMs = 60_000, cooldownMs = 30_000, now = Date.now }: CircuitBreakerOptions = {}) {
    if (!Number.isInteger(threshold) || threshold < 1) throw new RangeError(`threshold must be a positive integer, not ${threshold}`);
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, not ${windowMs}`);
    if (!(cooldownMs > 0)) throw new RangeError(`cooldownMs must be positive, not ${cooldownMs}`);
    this.threshold = threshold;
    this.windowMs = windowMs;
    this.baseCooldownMs = cooldownMs;
    this.cooldown = cooldownMs;
    this.now = now;
  }

  get state(): CircuitState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.cooldown ? 'half-open' : 'open';
  }

  /** When the breaker last tripped (clock milliseconds); undefined while closed. */
  get trippedAt(): number | undefined {
    return this.openedAt;
  }

  /** How long the breaker stays open when it trips next, or stays open now: `cooldownMs`, doubled with each failed trial, at most 8 ×. */
  get cooldownMs(): number {
    return this.cooldown;
  }

  /** True unless the breaker is open. */
  allows(): boolean {
    return this.state !== 'open';
  }

  /** Records a failure; true when this failure tripped the breaker (closed → open, or half-open → open). */
  recordFailure(): boolean {
    const state = this.state;
    const now = this.now();
    if (state === 'open') return false;
    if (state === 'half-open') {
      this.cooldown = Math.min(this.cooldown * 2, this.baseCooldownMs * MAX_COOLDOWN_FACTOR);
      this.openedAt = now;
      return true;
    }
    this.failures.push(now);
    while (this.failures.length > 0 && now - this.failures[0]! >= this.windowMs) this.failures.shift();
    if (this.failures.length > this.threshold) this.failures.shift();
    if (this.failures.length < this.threshold) return false;
    this.failures = [];
    this.openedAt = now;
    return true;
  }

  /** Records a success: a half-open breaker closes. */
  recordSuccess(): void {
    if (this.state === 'half-open') this.reset();
  }

  /** Closes the breaker and forgets failures and cooldown growth. */
  reset(): void {
    this.failures = [];
    this.openedAt = undefined;
    this.cooldown = this.baseCooldownMs;
  }
}
