/** The Linux packet driver (NfqueueDriver) and its layers: libnetfilter_queue through koffi, the iptables capture rules, the nat guard. */

export { NfqueueDriver, type NfqueueDriverDetails, type NfqueueDriverOptions } from './nfqueue-driver';
export { ALGD_MARK } from './algd-mark';
export { NfqueueSocket, type NfqueueBatchHandler, type NfqueueDecision, type NfqueueOptions, type NfqueueStats, type NfqueueVerdict } from './nfqueue-socket';
export { NF_INET_HOOK, type NfqueuePacket } from './nfqueue-packet';
export { NfqueueError, NfqueueUnavailableError } from './nfqueue-errors';
export { loadNfqueueLib, NFQUEUE_LIBRARY } from './nfqueue-lib';
export { ALGD_CHAIN_PREFIX, ALGD_CHAINS, ALGD_TABLES, IptablesError, IptablesRules, nfqueueTarget, type AlgdHook, type AlgdRule, type IpFamily, type IptablesRulesOptions, type IptablesTable } from './iptables-rules';
export type { LogFn, LogLevel } from '../throttled-log';
