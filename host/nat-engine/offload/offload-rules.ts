import type { OffloadRule } from '../drivers/flow-offload';
import type { Flow, FlowEntry } from '../flow';
import type { DirectionRewrite } from '../translation/endpoint-rewrite';
import type { FlowTranslation } from '../translation/flow-translation';

const TCP = 6;

/**
 * The kernel rules that translate `flow` as the engine does, or undefined
 * when the flow cannot be offloaded. Only a data channel's TCP flow
 * qualifies (a redirected control connection carries little and ends at
 * a local listener), and only when each direction rewrites one end: a
 * destination before routing or a source after it, a single lookup each.
 * A mapping that rewrites both ends of a direction (a private source) is
 * matched half-way through by the engine and stays there.
 */
export function offloadRules(flow: Flow<FlowTranslation>): OffloadRule[] | undefined {
  if (!offloadable(flow)) return undefined;
  return [directionRule(flow.originalEntry, flow.data.original), directionRule(flow.replyEntry, flow.data.reply)];
}

/** True when offloadRules would give rules (allocates nothing: the engine asks on the data path). */
export function offloadable(flow: Flow<FlowTranslation>): boolean {
  return flow.data.kind === 'mapping' && flow.original.protocol === TCP && oneEnd(flow.data.original) && oneEnd(flow.data.reply);
}

function oneEnd(rw: DirectionRewrite): boolean {
  return (rw.src === undefined) !== (rw.dst === undefined);
}

/** The rule of a direction that rewrites one end (offloadable checked that). */
function directionRule(entry: FlowEntry<FlowTranslation>, rw: DirectionRewrite): OffloadRule {
  const to = (rw.dst ?? rw.src)!;
  return {
    hook: rw.dst !== undefined ? 'prerouting' : 'postrouting',
    match: entry.tuple,
    rewrite: { side: rw.dst !== undefined ? 'dst' : 'src', addr: to.addr, port: to.port },
  };
}
