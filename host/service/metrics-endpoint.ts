import type { AlgdConfig } from '../config/config-schema';
import type { Logger } from '../logging/logger';
import type { StatusDocument } from './algd-service';
import type { Startable } from './service-tokens';

/** The metrics endpoint `metrics` configures, or null when it is absent. */
export function createMetricsEndpoint(config: AlgdConfig, _status: () => StatusDocument, log: Logger): Startable | null {
  if (!config.metrics) return null;
  log.warn('metrics: this build has no metrics endpoint yet; the "metrics" setting is ignored');
  return null;
}
