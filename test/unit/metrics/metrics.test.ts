import { request } from 'node:http';
import winston from 'winston';
import { MetricsAddressError, MetricsServer } from '../../../host/metrics/metrics-server';
import { metricsSnapshotFrom, type MetricsSnapshot } from '../../../host/metrics/metrics-snapshot';
import { metricsText } from '../../../host/metrics/metrics-text';
import type { StatusDocument } from '../../../host/service/algd-service';
import { KNOWN_STATUS } from '../cli/known-status';

const SNAPSHOT: MetricsSnapshot = {
  plugins: [
    { plugin: 'ftp', enabled: true, sessions: 3, bytesRewritten: 1234, workerRestarts: 1, queueDepth: 2, taskFailures: { timeout: 1 }, counters: { 'passive-mapped': 7 } },
    { plugin: 'sip', enabled: false, sessions: 0, bytesRewritten: 0, workerRestarts: 0, queueDepth: 0, taskFailures: {}, counters: {} },
  ],
  sessionsEnded: { closed: 10, idle: 2 },
  mappings: 4,
  mappingsCreated: 9,
  mappingsEnded: 5,
  flows: 12,
  packets: { translated: 100, passed: 50 },
  redirects: { captured: 40, uncaptured: 2 },
  drops: [
    { source: 'engine', reason: 'bad-ip-checksum', count: 3 },
    { source: 'driver', reason: 'dropped', count: 1 },
    { source: 'plugin', plugin: 'ftp', reason: 'session-limit', count: 2 },
  ],
};

const EXPECTED = `# HELP algd_plugin_enabled Whether the plugin captures its control channels (1) or not (0: disabled, tripped or failed).
# TYPE algd_plugin_enabled gauge
algd_plugin_enabled{plugin="ftp"} 1
algd_plugin_enabled{plugin="sip"} 0

# HELP algd_sessions Control sessions open now.
# TYPE algd_sessions gauge
algd_sessions{plugin="ftp"} 3
algd_sessions{plugin="sip"} 0

# HELP algd_bytes_rewritten_total Bytes of the control messages a plugin changed, as forwarded.
# TYPE algd_bytes_rewritten_total counter
algd_bytes_rewritten_total{plugin="ftp"} 1234
algd_bytes_rewritten_total{plugin="sip"} 0

# HELP algd_worker_restarts_total Plugin workers that ended abnormally and were replaced.
# TYPE algd_worker_restarts_total counter
algd_worker_restarts_total{plugin="ftp"} 1
algd_worker_restarts_total{plugin="sip"} 0

# HELP algd_queue_depth Plugin tasks waiting for a free worker.
# TYPE algd_queue_depth gauge
algd_queue_depth{plugin="ftp"} 2
algd_queue_depth{plugin="sip"} 0

# HELP algd_plugin_task_failures_total Failed plugin tasks by kind.
# TYPE algd_plugin_task_failures_total counter
algd_plugin_task_failures_total{plugin="ftp",kind="timeout"} 1

# HELP algd_plugin_events_total The plugin's own counters.
# TYPE algd_plugin_events_total counter
algd_plugin_events_total{plugin="ftp",counter="passive-mapped"} 7

# HELP algd_sessions_ended_total Control sessions ended, by reason.
# TYPE algd_sessions_ended_total counter
algd_sessions_ended_total{reason="closed"} 10
algd_sessions_ended_total{reason="idle"} 2

# HELP algd_mappings NAT mappings (data channels) now.
# TYPE algd_mappings gauge
algd_mappings 4

# HELP algd_mappings_created_total NAT mappings opened.
# TYPE algd_mappings_created_total counter
algd_mappings_created_total 9

# HELP algd_mappings_ended_total NAT mappings that stopped taking connections.
# TYPE algd_mappings_ended_total counter
algd_mappings_ended_total 5

# HELP algd_flows Flows in the NAT engine now.
# TYPE algd_flows gauge
algd_flows 12

# HELP algd_packets_total Packets the NAT engine translated or passed untouched.
# TYPE algd_packets_total counter
algd_packets_total{outcome="translated"} 100
algd_packets_total{outcome="passed"} 50

# HELP algd_redirected_connections_total Connections to captured control ports: sent to their listener, or let through uncaptured while the kernel redirect was not installed.
# TYPE algd_redirected_connections_total counter
algd_redirected_connections_total{outcome="captured"} 40
algd_redirected_connections_total{outcome="uncaptured"} 2

# HELP algd_drops_total Packets, messages and connections dropped, by who dropped them and why.
# TYPE algd_drops_total counter
algd_drops_total{source="engine",plugin="",reason="bad-ip-checksum"} 3
algd_drops_total{source="driver",plugin="",reason="dropped"} 1
algd_drops_total{source="plugin",plugin="ftp",reason="session-limit"} 2
`;

const quiet = winston.createLogger({ silent: true });

function get(port: number, address: string, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('metrics text', () => {
  it('is exactly the Prometheus exposition of a known snapshot', async () => {
    expect(await metricsText(SNAPSHOT)).toBe(EXPECTED);
  });

  it('is built from a status document: drops from the engine, the driver and the host\'s own plugin counters', () => {
    const s = metricsSnapshotFrom(KNOWN_STATUS as StatusDocument);
    expect(s.plugins[0]).toEqual({ plugin: 'ftp', enabled: true, sessions: 2, bytesRewritten: 96, workerRestarts: 1, queueDepth: 0, taskFailures: { threw: 0, timeout: 1 }, counters: { 'passive-mapped': 4, 'low-port-refused': 1 } });
    expect(s.drops).toEqual([
      { source: 'engine', reason: 'bad-ip-checksum', count: 2 },
      { source: 'driver', reason: 'dropped', count: 0 },
      { source: 'driver', reason: 'error', count: 0 },
      { source: 'plugin', plugin: 'ftp', reason: 'framing-line-too-long', count: 1 },
      { source: 'plugin', plugin: 'sip', reason: 'session-limit', count: 3 },
    ]);
    expect([s.mappings, s.mappingsCreated, s.mappingsEnded, s.flows]).toEqual([1, 5, 4, 7]);
    expect(s.redirects).toEqual({ captured: 31, uncaptured: 1 });
    expect(s.offload).toEqual({ flows: 1, offloaded: 6, refused: 0, packets: 52_000, bytes: 1_400_000_000 });
    expect(metricsSnapshotFrom({ ...KNOWN_STATUS, offload: null } as StatusDocument).offload).toBeUndefined();
  });

  it('shows the kernel fast path\'s figures when there is one', async () => {
    const text = await metricsText({ ...SNAPSHOT, offload: { flows: 1, offloaded: 6, refused: 2, packets: 52_000, bytes: 1_400_000_000 } });
    expect(text.startsWith(EXPECTED)).toBe(true);
    expect(text.slice(EXPECTED.length)).toBe(`
# HELP algd_offload_flows Connections the kernel fast path translates now.
# TYPE algd_offload_flows gauge
algd_offload_flows 1

# HELP algd_offload_flows_total Connections handed to the kernel fast path, by outcome.
# TYPE algd_offload_flows_total counter
algd_offload_flows_total{outcome="offloaded"} 6
algd_offload_flows_total{outcome="refused"} 2

# HELP algd_offload_packets_total Packets the kernel fast path translated (as of its last reading).
# TYPE algd_offload_packets_total counter
algd_offload_packets_total 52000

# HELP algd_offload_bytes_total Bytes (IP) the kernel fast path translated (as of its last reading).
# TYPE algd_offload_bytes_total counter
algd_offload_bytes_total 1400000000
`);
  });
});

describe('metrics endpoint', () => {
  it('serves the snapshot at GET /metrics on loopback, 404 elsewhere', async () => {
    const server = new MetricsServer({ address: '127.0.0.1', port: 0 }, () => SNAPSHOT, quiet);
    await expect(server.start()).resolves.toBeUndefined();
    try {
      const r = await get(server.port, '127.0.0.1', '/metrics');
      expect(r).toEqual({ status: 200, type: 'text/plain; version=0.0.4; charset=utf-8', body: EXPECTED });
      expect((await get(server.port, '127.0.0.1', '/')).status).toBe(404);
    } finally {
      await server.stop();
    }
  });

  it.each(['0.0.0.0', '::', '198.51.100.1', '203.0.113.1', 'localhost', '127.0.0.2', ''])('refuses the non-loopback address %j before listening', (address) => {
    expect(() => new MetricsServer({ address, port: 9464 }, () => SNAPSHOT, quiet)).toThrow(MetricsAddressError);
    expect(() => new MetricsServer({ address, port: 9464 }, () => SNAPSHOT, quiet)).toThrow('is not a loopback address');
  });

  it('listens on ::1 too', async () => {
    const server = new MetricsServer({ address: '::1', port: 0 }, () => SNAPSHOT, quiet);
    await server.start();
    try {
      expect((await get(server.port, '::1', '/metrics')).body).toBe(EXPECTED);
    } finally {
      await server.stop();
    }
  });
});
