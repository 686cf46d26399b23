import type { AlgdConfig } from '../config/config-schema';
import type { Logger } from '../logging/logger';
import { MetricsServer } from '../metrics/metrics-server';
import { metricsSnapshotFrom } from '../metrics/metrics-snapshot';
import type { StatusDocument } from './algd-service';
import type { Startable } from './service-tokens';

/** The metrics endpoint `metrics` configures, fed from the service's status, or null when it is absent. */
export function createMetricsEndpoint(config: AlgdConfig, status: () => StatusDocument, log: Logger): Startable | null {
  if (!config.metrics) return null;
  return new MetricsServer(config.metrics, () => metricsSnapshotFrom(status()), log);
}
