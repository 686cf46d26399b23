import type { Framing, MessageDirection, TransportProtocol } from '@algd/sdk';
import type { HostServices, TaskEnvelope, TaskOutcome } from '@algd/sdk/runtime';
import type { FailurePolicy } from '../../config/config-schema';

/** What a session needs from its plugin: how to frame, whom to ask, what to do when asking fails. */
export interface SessionPlugin {
  readonly name: string;
  /** What happens to a session whose task failed. */
  readonly onFailure: FailurePolicy;
  /** Data channels one session may hold at once. */
  readonly maxDataChannels: number;
  /** False when the plugin has no handler for the direction: its bytes are relayed without a task. */
  handles(direction: MessageDirection): boolean;
  /** True when the plugin wants data-channel events. */
  readonly wantsEvents: boolean;
  framing(protocol: TransportProtocol): Framing | undefined;
  /** Runs a task in the plugin's worker pool; rejects when the task failed (the failure is already counted). */
  run(envelope: TaskEnvelope, services: HostServices): Promise<TaskOutcome>;
  /** Adds a session's counter increments to the plugin's counters. */
  addCounters(counters: Readonly<Record<string, number>>): void;
  /** Adds the length of a message the plugin changed, as forwarded (the "bytes rewritten" figure). */
  countRewritten?(bytes: number): void;
}
