export { formatTuple, reverseTuple, tupleEquals, tupleFromPacket, tupleMatchesPacket, type FiveTuple } from './five-tuple';
export { DirectionCounters, Flow, FlowEntry, type DatagramState, type FlowDirection, type FlowOffloadState, type FlowState } from './flow';
export { DEFAULT_MAX_FLOWS, FlowTable, type FlowRemoveReason, type FlowTableOptions } from './flow-table';
export { FlowTableError, type FlowTableErrorKind } from './flow-table-error';
export { isTcpClosed, nextTcpState, tcpEvent, TCP_STATES, type TcpEvent, type TcpState } from './tcp-tracker';
export { DEFAULT_FLOW_TIMEOUTS, resolveFlowTimeouts, type FlowTimeouts } from './timeouts';
export { tupleHasher, hashPacketTuple, hashTuple, type TupleHasher } from './tuple-hash';
export type { TupleSource } from './tuple-source';
