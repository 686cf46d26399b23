/** The Linux packet driver's lowest layer: libnetfilter_queue through koffi, and the iptables capture rules. */

export { NfqueueSocket, type NfqueueBatchHandler, type NfqueueDecision, type NfqueueOptions, type NfqueueStats, type NfqueueVerdict } from './nfqueue-socket';
export { NF_INET_HOOK, type NfqueuePacket } from './nfqueue-packet';
export { NfqueueError, NfqueueUnavailableError } from './nfqueue-errors';
export { loadNfqueueLib, NFQUEUE_LIBRARY } from './nfqueue-lib';
export { ALGD_CHAIN_PREFIX, ALGD_CHAINS, IptablesError, IptablesRules, nfqueueTarget, type AlgdHook, type AlgdRule, type IpFamily, type IptablesRulesOptions } from './iptables-rules';
export type { LogFn, LogLevel } from './throttled-log';
