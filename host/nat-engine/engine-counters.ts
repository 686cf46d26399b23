import { REJECT_REASONS, type RejectReason } from './packet';

/** Drops the engine itself decides, beyond packets the codec rejects. */
export const ENGINE_DROP_REASONS = ['flow-table-full', 'tuple-conflict'] as const;
export type EngineDropReason = (typeof ENGINE_DROP_REASONS)[number];

/** Every reason a packet can be dropped. */
export type DropReason = RejectReason | EngineDropReason;

/**
 * What the engine did with a packet: left it alone (`pass`: not ours),
 * rewrote it (`translated`), or a {@link DropReason}.
 */
export type ProcessOutcome = 'pass' | 'translated' | DropReason;

/** Packet and drop counters; plain numbers so status can copy them cheaply. */
export class EngineCounters {
  packets = 0;
  passed = 0;
  translated = 0;
  flowsCreated = 0;
  /** Mappings (data channels) opened, and those that stopped taking connections (used, expired or removed). */
  mappingsCreated = 0;
  mappingsEnded = 0;
  /** Connections sent to a listener, by the engine or by the driver's kernel redirect. */
  redirected = 0;
  /** Connections to a captured port let through uncaptured: the kernel redirect's entry was pending or refused. */
  redirectsMissed = 0;
  readonly drops: Record<DropReason, number>;

  constructor() {
    const drops = {} as Record<DropReason, number>;
    for (const r of [...REJECT_REASONS, ...ENGINE_DROP_REASONS]) drops[r] = 0;
    this.drops = drops;
  }

  count(outcome: ProcessOutcome): void {
    this.packets++;
    if (outcome === 'pass') this.passed++;
    else if (outcome === 'translated') this.translated++;
    else this.drops[outcome]++;
  }

  /** A JSON-ready copy; drop reasons that never happened are left out. */
  snapshot(): { packets: number; passed: number; translated: number; flowsCreated: number; mappingsCreated: number; mappingsEnded: number; redirected: number; redirectsMissed: number; drops: Partial<Record<DropReason, number>> } {
    const drops: Partial<Record<DropReason, number>> = {};
    for (const [reason, n] of Object.entries(this.drops) as [DropReason, number][]) if (n > 0) drops[reason] = n;
    const { packets, passed, translated, flowsCreated, mappingsCreated, mappingsEnded, redirected, redirectsMissed } = this;
    return { packets, passed, translated, flowsCreated, mappingsCreated, mappingsEnded, redirected, redirectsMissed, drops };
  }
}
