import type { DataChannelEndReason, DataChannelEvent } from '../data-channel';

/**
 * Which events of a data channel reach its plugin (DataChannelRequest
 * `notify`): each delivered event is a worker task, so the host runs only
 * those the plugin asked for.
 */
export interface ChannelNotify {
  readonly used: boolean;
  readonly ended: ReadonlySet<DataChannelEndReason>;
}

const END_REASONS: readonly DataChannelEndReason[] = ['used', 'expired', 'removed'];

export const NOTIFY_NONE: ChannelNotify = Object.freeze({ used: false, ended: new Set<DataChannelEndReason>() });
export const NOTIFY_ALL: ChannelNotify = Object.freeze({ used: true, ended: new Set(END_REASONS) });

/** `notify` as it crossed from a worker (plain data): `true`, `false`/absent, or `{ used?, ended? }`. Throws naming what is wrong. */
export function channelNotify(notify: unknown): ChannelNotify {
  if (notify === undefined || notify === false) return NOTIFY_NONE;
  if (notify === true) return NOTIFY_ALL;
  if (typeof notify !== 'object' || notify === null || Array.isArray(notify)) throw new Error('notify must be true, false or { used?, ended? }');
  const { used, ended } = notify as { used?: unknown; ended?: unknown };
  if (used !== undefined && typeof used !== 'boolean') throw new Error('notify.used must be true or false');
  if (ended !== undefined && !Array.isArray(ended)) throw new Error('notify.ended must be a list of end reasons');
  const reasons = new Set<DataChannelEndReason>();
  for (const r of (ended ?? []) as unknown[]) {
    if (!END_REASONS.includes(r as DataChannelEndReason)) throw new Error(`notify.ended: ${JSON.stringify(r)} is not one of ${END_REASONS.join(', ')}`);
    reasons.add(r as DataChannelEndReason);
  }
  return { used: used === true, ended: reasons };
}

/** Whether `event` is one the plugin asked for. */
export function wantsEvent(notify: ChannelNotify, event: DataChannelEvent): boolean {
  return event.kind === 'used' ? notify.used : notify.ended.has(event.reason);
}
