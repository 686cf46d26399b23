import type { DriverName } from '../config/config-schema';
import { MemoryDriver } from '../nat-engine/drivers/memory-driver';
import type { PacketDriver } from '../nat-engine/drivers/packet-driver';

/** A driver named in configuration that this build or platform cannot provide. */
export class DriverUnavailableError extends Error {
  override readonly name = 'DriverUnavailableError';
}

/** The driver the configuration names. */
export function createDriver(name: DriverName): PacketDriver {
  switch (name) {
    case 'memory':
      return new MemoryDriver();
    case 'nfqueue':
    case 'windivert':
      throw new DriverUnavailableError(`the ${name} driver is not available in this version of algd; use "memory"`);
  }
}
