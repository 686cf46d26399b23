import { port as toPort, type Port, type TransportProtocol } from '@algd/sdk';
import type { AlgdConfig } from '../config/config-schema';
import type { CaptureSpec } from '../nat-engine/drivers/capture-spec';

/** What the driver must capture: the given control ports (those of the enabled plugins), the listener and mapping ranges. */
export function captureSpecFromConfig(config: AlgdConfig, controlPorts: readonly { protocol: TransportProtocol; port: Port }[]): CaptureSpec {
  return {
    adapters: config.adapters.map((a) => ({ name: a.name, side: a.type === 'private' ? 'private' : 'public', firewalled: a.type === 'firewalled' })),
    controlPorts,
    publishedPorts: config.publish.map((p) => ({ protocol: p.protocol, port: toPort(p.port) })),
    listenerPorts: config.listenerPorts,
    mappingPorts: config.mappingPorts,
    families: [4, 6],
  };
}
