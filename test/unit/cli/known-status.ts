import type { StatusDocument } from '../../../host/service/algd-service';

/** A status document with known figures, for the CLI's and the metrics' exact-output tests. */
export const KNOWN_STATUS: Omit<StatusDocument, 'config'> = {
  service: 'algd',
  version: '0.1.0',
  pid: 4242,
  startedAt: '2026-01-02T03:04:05.000Z',
  uptimeSeconds: 3725,
  driver: 'nfqueue',
  driverStats: { received: 900, accepted: 890, dropped: 0, modified: 120, errors: 0 },
  adapters: [
    { name: 'veth-gw-priv', type: 'private', addresses: ['198.51.100.1'], present: true },
    { name: 'veth-gw-pub', type: 'boundary', addresses: ['203.0.113.1'], present: true },
  ] as unknown as StatusDocument['adapters'],
  listenerPorts: { from: 3000, to: 5000 },
  mappingPorts: { from: 61000, to: 64999 },
  mappingPortsHeld: 3,
  offload: { flows: 1, offloaded: 6, reclaimed: 5, refused: 0, packets: 52_000, bytes: 1_400_000_000 },
  plugins: [
    {
      name: 'ftp', version: '0.1.0', builtin: true, package: '@algd/plugin-ftp', state: 'enabled', error: undefined,
      captures: [{ protocol: 'tcp', port: 21, listener: 3000 }, { protocol: 'tcp', port: 2121, listener: 3001 }],
      sessions: 2, tasks: 40, failures: { threw: 0, timeout: 1 }, workerRestarts: 1, breaker: { state: 'closed', trips: 0 },
      counters: { 'passive-mapped': 4, 'low-port-refused': 1, 'framing-line-too-long': 1 }, bytesRewritten: 96, queueDepth: 0,
    },
    {
      name: 'sip', version: '0.1.0', builtin: true, package: '@algd/plugin-sip', state: 'disabled', error: undefined,
      captures: [], sessions: 0, tasks: 0, failures: {}, workerRestarts: 0, breaker: { state: 'closed', trips: 0 },
      counters: { 'session-limit': 3 }, bytesRewritten: 0, queueDepth: 0,
    },
    {
      name: 'rtsp', version: '0.1.0', builtin: true, package: '@algd/plugin-rtsp', state: 'tripped', error: undefined,
      captures: [{ protocol: 'tcp', port: 554, listener: 3002 }], sessions: 0, tasks: 9, failures: { threw: 5 }, workerRestarts: 0, breaker: { state: 'open', trips: 1 },
      counters: {}, bytesRewritten: 0, queueDepth: 0,
    },
  ],
  refusedPlugins: [{ dir: '/opt/algd/plugins/broken', reason: 'package.json: no "algd" manifest' }],
  sessions: [
    {
      id: 'ftp-1', plugin: 'ftp', protocol: 'tcp', client: '198.51.100.2:40000', server: '203.0.113.2:21', boundary: '203.0.113.1:40000',
      ageSeconds: 61, idleSeconds: 2, bytes: { clientToServer: 120, serverToClient: 800 }, passthrough: false,
      dataChannels: ['tcp 198.51.100.2:40001 <-> 203.0.113.1:61000 inbound remote 203.0.113.2'],
    },
    {
      id: 'ftp-2', plugin: 'ftp', protocol: 'tcp', client: '198.51.100.3:40100', server: '203.0.113.2:2121', boundary: '203.0.113.1:40100',
      ageSeconds: 5, idleSeconds: 5, bytes: { clientToServer: 14, serverToClient: 0 }, passthrough: true, dataChannels: [],
    },
  ],
  sessionsEnded: { closed: 10, idle: 2, framing: 0 },
  engine: {
    flows: 7,
    redirects: ['tcp 21 -> 127.0.0.1:3000', 'tcp 2121 -> 127.0.0.1:3001'],
    mappings: [{ id: 5, owner: 'ftp-1', mapping: 'tcp 198.51.100.2:40001 <-> 203.0.113.1:61000 inbound remote 203.0.113.2', active: true, liveFlows: 1, uses: 1 }],
    counters: { packets: 1000, passed: 700, translated: 298, flowsCreated: 30, mappingsCreated: 5, mappingsEnded: 4, redirected: 31, redirectsMissed: 1, drops: { 'bad-ip-checksum': 2 } },
  },
};
