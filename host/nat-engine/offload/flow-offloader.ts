import type { FlowOffload, OffloadCounter } from '../drivers/flow-offload';
import type { Flow } from '../flow';
import type { FlowTranslation } from '../translation/flow-translation';
import { offloadRules } from './offload-rules';
import type { OffloadSink } from './offload-sink';

/** How often the kernel's counters are read while flows are offloaded: far below any TCP idle timeout. */
export const OFFLOAD_SYNC_MS = 5_000;

/** The fast path's figures, for status. */
export interface OffloadStats {
  /** Flows the kernel translates now. */
  readonly flows: number;
  /** Flows handed to the kernel since start. */
  readonly offloaded: number;
  /** Flows taken back (closed, or gone from the table). */
  readonly reclaimed: number;
  /** Flows the kernel refused (they stayed with the engine). */
  readonly refused: number;
  /** Packets and bytes (IP) the kernel translated, as of the last reading. */
  readonly packets: number;
  readonly bytes: number;
}

export interface FlowOffloaderOptions {
  /** Restarts a flow's idle timeout (NatEngine.touchFlow). */
  readonly touch: (flow: Flow<FlowTranslation>) => void;
  readonly log: (level: 'info' | 'warn', message: string) => void;
  /** Milliseconds clock; injectable for tests. */
  readonly now?: () => number;
  readonly syncMs?: number;
}

/**
 * Carries the engine's offload decisions to the driver's fast path: the
 * rules of a flow that qualified are installed, those of a flow taken
 * back removed (in the order asked: the driver runs them one at a time),
 * and the kernel's counters are read every few seconds so that a flow the
 * engine no longer sees packets of does not idle out while it carries
 * data. A flow the kernel refused goes back to the engine for good and is
 * counted; the engine translates it as before, so nothing is lost but
 * speed.
 */
export class FlowOffloader implements OffloadSink {
  private readonly flows = new Map<number, Flow<FlowTranslation>>();
  /** Packets last read per flow, to tell which ones moved. */
  private readonly seen = new Map<number, { packets: number; bytes: number }>();
  private readonly now: () => number;
  private readonly syncMs: number;
  private lastSync = 0;
  private syncing = false;
  private stopped = false;
  private figures = { offloaded: 0, reclaimed: 0, refused: 0, packets: 0, bytes: 0 };

  constructor(
    private readonly kernel: FlowOffload,
    private readonly opts: FlowOffloaderOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.syncMs = opts.syncMs ?? OFFLOAD_SYNC_MS;
  }

  offloadFlow(flow: Flow<FlowTranslation>): void {
    const rules = offloadRules(flow);
    if (this.stopped || rules === undefined) {
      flow.offload = 'retired';
      return;
    }
    this.flows.set(flow.id, flow);
    this.kernel.add(flow.id, rules).then(
      () => {
        this.figures.offloaded++;
      },
      (err: unknown) => {
        this.figures.refused++;
        this.flows.delete(flow.id);
        if (flow.offload === 'kernel') flow.offload = 'retired';
        this.opts.log('warn', `offload: the kernel refused ${flow.describe()}; the engine keeps translating it: ${(err as Error).message}`);
      },
    );
  }

  reclaimFlow(flow: Flow<FlowTranslation>): void {
    if (!this.flows.delete(flow.id)) return;
    const before = this.seen.get(flow.id);
    this.seen.delete(flow.id);
    this.figures.reclaimed++;
    if (this.stopped) return;
    this.kernel.remove(flow.id).then(
      (last) => {
        if (last !== undefined) this.count(last, before);
      },
      (err: unknown) => this.opts.log('warn', `offload: removing the rules of flow #${flow.id} failed: ${(err as Error).message}`),
    );
  }

  /** Adds what the kernel counted since `before` to the figures. */
  private count(c: OffloadCounter, before = { packets: 0, bytes: 0 }): void {
    this.figures.packets += Math.max(0, c.packets - before.packets);
    this.figures.bytes += Math.max(0, c.bytes - before.bytes);
  }

  /** Reads the kernel's counters when due (call it about once a second); resolves when done. */
  async tick(now = this.now()): Promise<void> {
    if (this.stopped || this.syncing || this.flows.size === 0 || now - this.lastSync < this.syncMs) return;
    this.syncing = true;
    this.lastSync = now;
    try {
      const counters = await this.kernel.counters();
      for (const [id, c] of counters) {
        const flow = this.flows.get(id);
        if (flow === undefined) continue;
        const before = this.seen.get(id);
        if (c.packets <= (before?.packets ?? 0)) continue;
        this.count(c, before);
        this.seen.set(id, { packets: c.packets, bytes: c.bytes });
        this.opts.touch(flow);
      }
    } catch (err) {
      this.opts.log('warn', `offload: reading the kernel's counters failed: ${(err as Error).message}`);
    } finally {
      this.syncing = false;
    }
  }

  /** Hands nothing more to the kernel (the driver removes what it holds when it closes). */
  stop(): void {
    this.stopped = true;
  }

  get stats(): OffloadStats {
    return { flows: this.flows.size, ...this.figures };
  }
}
