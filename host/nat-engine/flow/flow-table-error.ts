/**
 * Why the flow table refused a new flow:
 * - `full`: it holds `maxFlows` flows already;
 * - `duplicate`: one of the new flow's tuples is already tracked (or both
 *   of its tuples are the same), so packets could not tell the flows apart.
 *
 * Either way the caller drops the packet that would have created the flow.
 */
export type FlowTableErrorKind = 'full' | 'duplicate';

/** Thrown by `FlowTable.insert`; the engine counts it as a drop. */
export class FlowTableError extends Error {
  override readonly name = 'FlowTableError';

  constructor(
    readonly kind: FlowTableErrorKind,
    message: string,
  ) {
    super(message);
  }
}
