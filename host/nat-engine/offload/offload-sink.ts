import type { Flow } from '../flow';
import type { FlowTranslation } from '../translation/flow-translation';

/**
 * What the engine tells a kernel fast path (NatEngine.attachOffload). The
 * engine decides on the data path, synchronously, and sets `flow.offload`
 * before it calls; the sink does the slow part (installing rules) later.
 */
export interface OffloadSink {
  /** The flow is established, has carried enough, and each direction rewrites one end: `flow.offload` is `kernel`. */
  offloadFlow(flow: Flow<FlowTranslation>): void;
  /** The flow is back with the engine for good (it is closing, or left the table): `flow.offload` is `retired`. */
  reclaimFlow(flow: Flow<FlowTranslation>): void;
}
