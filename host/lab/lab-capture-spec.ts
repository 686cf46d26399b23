import { port } from '@algd/sdk';
import type { CaptureSpec } from '../nat-engine/drivers/capture-spec';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from './topology';

/**
 * The capture specification of the lab's gateway: priv0 private, pub0
 * public, the default listener and mapping ranges, FTP's control port, both
 * IP versions; a test or bench overrides what it needs.
 */
export function labCaptureSpec(overrides: Partial<CaptureSpec> = {}): CaptureSpec {
  return {
    adapters: [
      { name: GATEWAY_PRIVATE_IFACE, side: 'private' },
      { name: GATEWAY_PUBLIC_IFACE, side: 'public' },
    ],
    controlPorts: [{ protocol: 'tcp', port: port(21) }],
    listenerPorts: { from: 3000, to: 5000 },
    mappingPorts: { from: 61000, to: 64999 },
    families: [4, 6],
    ...overrides,
  };
}
