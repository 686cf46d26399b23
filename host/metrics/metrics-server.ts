import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from '../logging/logger';
import type { MetricsSettings } from './metrics-settings';
import type { MetricsSnapshot } from './metrics-snapshot';
import { METRICS_CONTENT_TYPE, metricsText } from './metrics-text';

/** The only addresses the endpoint may listen on: it is unauthenticated, so it never leaves the machine. */
const LOOPBACK = new Set(['127.0.0.1', '::1']);

/** The metrics endpoint was configured on an address other than loopback. */
export class MetricsAddressError extends Error {
  override readonly name = 'MetricsAddressError';
}

/** The Prometheus text endpoint, `GET /metrics`, on a loopback address. */
export class MetricsServer {
  private server: Server | undefined;

  constructor(
    private readonly settings: MetricsSettings,
    private readonly source: () => MetricsSnapshot,
    private readonly log: Logger,
  ) {
    // Security check: refuse anything but loopback, before any socket exists.
    if (isIP(settings.address) === 0 || !LOOPBACK.has(settings.address)) {
      throw new MetricsAddressError(`metrics.address: ${JSON.stringify(settings.address)} is not a loopback address (127.0.0.1 or ::1); the metrics endpoint has no authentication and is never exposed to a network`);
    }
    if (!Number.isInteger(settings.port) || settings.port < 0 || settings.port > 65535) throw new MetricsAddressError(`metrics.port: ${settings.port} is not a TCP port`);
  }

  /** The bound port (the configured one, or the OS's pick for port 0 in tests). */
  get port(): number {
    const a = this.server?.address();
    return typeof a === 'object' && a !== null ? a.port : this.settings.port;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
        return;
      }
      metricsText(this.source()).then(
        (text) => res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(text),
        (err: unknown) => {
          this.log.error(`metrics: ${(err as Error).message}`);
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.settings.address, port: this.settings.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error(`metrics endpoint: ${err.message}`));
    this.server = server;
    this.log.info(`metrics on http://${this.settings.address.includes(':') ? `[${this.settings.address}]` : this.settings.address}:${this.port}/metrics`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
