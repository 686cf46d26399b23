import { dirname } from 'node:path';
import type { AlgdConfig } from '../config/config-schema';
import type { Logger } from '../logging/logger';
import { MemoryDriver } from '../nat-engine/drivers/memory-driver';
import { NfqueueDriver } from '../nat-engine/drivers/nfqueue/nfqueue-driver';
import type { PacketDriver } from '../nat-engine/drivers/packet-driver';
import type { LogFn } from '../nat-engine/drivers/throttled-log';
import { WindivertDriver } from '../nat-engine/drivers/windivert/windivert-driver';

/** A driver named in configuration that this build or platform cannot provide. */
export class DriverUnavailableError extends Error {
  override readonly name = 'DriverUnavailableError';
}

/** What a driver is built from: its name and options in the configuration. */
export type DriverConfig = Pick<AlgdConfig, 'driver' | 'nfqueue' | 'windivert' | 'adminSocket'>;

/** The driver the configuration names, with its options. */
export function createDriver(config: DriverConfig, logger?: Logger): PacketDriver {
  const log: LogFn | undefined = logger ? (level, message) => logger.log(level, message) : undefined;
  switch (config.driver) {
    case 'memory':
      return new MemoryDriver();
    case 'nfqueue':
      if (process.platform !== 'linux') throw new DriverUnavailableError(`the nfqueue driver needs Linux (this is ${process.platform})`);
      return new NfqueueDriver({
        ...config.nfqueue,
        offload: config.nfqueue.offload.enabled,
        // Crash-recovery state goes next to the admin socket: the service's runtime directory (/run/algd).
        stateDir: dirname(config.adminSocket),
        ...(log ? { log } : {}),
      });
    case 'windivert':
      // On Windows WinDivert.dll; on Linux only the WinDivert-compatible test library (windivert.path names it).
      return new WindivertDriver({ ...config.windivert, ...(log ? { log } : {}) });
  }
}
