/** The resolved `metrics` section: where the Prometheus text endpoint listens (loopback only). */
export interface MetricsSettings {
  readonly address: string;
  readonly port: number;
}
