export { createOsPortProbe, LinuxProcPortProbe, type LinuxProcPortProbeOptions } from './os-port-probe';
export { NO_PORT_IN_USE_PROBE, type PortInUseProbe } from './port-in-use-probe';
export { PortPool, type PortPoolOptions } from './port-pool';
export { PortPoolExhaustedError } from './port-pool-exhausted-error';
export { checkPortRange, formatPortRange, type PortRange } from './port-range';
export { describeRequest, type ReserveOptions } from './reserve-options';
