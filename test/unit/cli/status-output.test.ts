import { formatMappings } from '../../../host/cli/commands/mappings';
import { formatPluginList } from '../../../host/cli/commands/plugins';
import { formatSessions } from '../../../host/cli/commands/sessions';
import { formatStatus } from '../../../host/cli/commands/status';
import type { StatusDocument } from '../../../host/service/algd-service';
import { KNOWN_STATUS } from './known-status';

const status = KNOWN_STATUS as StatusDocument;

describe('algd status, sessions, mappings, plugins list: text for a known status', () => {
  it('status: header, the "show alg status" plugin table, engine and driver figures', () => {
    expect(formatStatus(status)).toBe(
      [
        'algd 0.1.0 (pid 4242), driver nfqueue, up 3725 s',
        'adapters: veth-gw-priv (private 198.51.100.1), veth-gw-pub (boundary 203.0.113.1)',
        '',
        'PLUGIN  STATE     PORTS            LISTENER   SESSIONS  MAPPINGS  REWRITTEN  DROPS  FAILURES  RESTARTS  BREAKER',
        'ftp     enabled   tcp/21 tcp/2121  3000 3001  2         1         96         1      1         1         closed',
        'sip     disabled  -                -          0         0         0          3      0         0         closed',
        'rtsp    tripped   tcp/554          3002       0         0         0          0      5         0         open (1 trips)',
        '  ftp counters: passive-mapped 4, low-port-refused 1, framing-line-too-long 1',
        '  sip counters: session-limit 3',
        '',
        'sessions 2 open; ended: closed 10, idle 2',
        'mappings 1 (opened 5, ended 4), flows 7, redirects 2',
        'mapping ports held 3 of 4000 (61000-64999)',
        'packets 1000 (translated 298, passed 700); engine drops: bad-ip-checksum 2',
        'driver nfqueue: received 900, accepted 890 (modified 120), dropped 0, errors 0',
        'kernel fast path: 1 flow now (offloaded 6, reclaimed 5, refused 0), 52000 packets, 1400000000 bytes',
        'refused plugin /opt/algd/plugins/broken: package.json: no "algd" manifest',
        '',
      ].join('\n'),
    );
  });

  it('sessions: one row each, data channels below', () => {
    expect(formatSessions(status.sessions)).toBe(
      [
        'SESSION  PROTO  CLIENT              SERVER            BOUNDARY           AGE  IDLE  C>S BYTES  S>C BYTES  CHANNELS  MODE',
        'ftp-1    tcp    198.51.100.2:40000  203.0.113.2:21    203.0.113.1:40000  61s  2s    120        800        1',
        '  tcp 198.51.100.2:40001 <-> 203.0.113.1:61000 inbound remote 203.0.113.2',
        'ftp-2    tcp    198.51.100.3:40100  203.0.113.2:2121  203.0.113.1:40100  5s   5s    14         0          0         passthrough',
        '',
      ].join('\n'),
    );
    expect(formatSessions([])).toBe('no sessions\n');
  });

  it('mappings: one row each with its owning session', () => {
    expect(formatMappings(status.engine.mappings)).toBe(
      [
        'ID  SESSION  ACTIVE  FLOWS  USES  MAPPING',
        '5   ftp-1    yes     1      1     tcp 198.51.100.2:40001 <-> 203.0.113.1:61000 inbound remote 203.0.113.2',
        '',
      ].join('\n'),
    );
  });

  it('plugins list: version, state, source, ports; refused packages', () => {
    expect(formatPluginList(status)).toBe(
      [
        'PLUGIN  VERSION  STATE     SOURCE    PORTS            ERROR',
        'ftp     0.1.0    enabled   built-in  tcp/21 tcp/2121',
        'sip     0.1.0    disabled  built-in  -',
        'rtsp    0.1.0    tripped   built-in  tcp/554',
        'refused /opt/algd/plugins/broken: package.json: no "algd" manifest',
        '',
      ].join('\n'),
    );
  });
});
