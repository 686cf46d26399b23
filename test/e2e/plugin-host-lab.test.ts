/**
 * The plugin host behind the real nfqueue driver, in the lab: a plugin
 * (test/fixtures/plugin-packages/lines-rewriter, loaded from a plugins
 * folder) rewrites a control connection and asks for a data channel; the
 * server opens a connection to the announced public endpoint, as an FTP
 * server does in active mode, and it reaches the client behind the
 * gateway. While the channel lives, both legs of the control connection
 * carry TCP keepalive. IPv6 control connections go through the listener on
 * the private adapter's IPv6 address.
 */

import { GATEWAY_PUBLIC_V4, SERVER_V4, SERVER_V6 } from '../../host/lab/addresses';
import { echoRequest, startTcpEchoServer } from '../../host/lab/echo-peers';
import { describeLab, useLab } from '../lab/require-lab';
import { useLabAlgd } from '../support/lab-algd';
import { FIXTURE_PLUGINS } from '../support/plugin-host-rig';

jest.setTimeout(60_000);

/** Server on 2100: answers each line with "ok <line>"; on "MAPPED <addr> <port> <id>" connects there and sends "data-ok". */
const CONTROL_SERVER = `
import socket, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 2100)); s.listen(8)
print('LISTENING', flush=True)
def serve(c):
    f = c.makefile('rb')
    for raw in f:
        line = raw.decode().strip()
        print('GOT ' + line, flush=True)
        if line.startswith('MAPPED '):
            _, addr, port, _id = line.split(' ')
            try:
                d = socket.create_connection((addr, int(port)), timeout=5)
                d.sendall(b'data-ok'); d.close()
                c.sendall(b'data sent\\r\\n')
            except OSError as e:
                c.sendall(('data failed %s\\r\\n' % e).encode())
        else:
            c.sendall(('ok %s\\r\\n' % line).encode())
while True:
    c, a = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** Client: listens on 5000 for the data connection, sends "map 5000" on the control connection, prints what arrives, then holds the control connection until stdin closes. */
const CONTROL_CLIENT = `
import socket, sys, threading
data = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
data.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
data.bind(('0.0.0.0', 5000)); data.listen(1); data.settimeout(10)
c = socket.create_connection((sys.argv[1], 2100), timeout=10)
f = c.makefile('rb')
c.sendall(b'hello\\r\\n')
print('REPLY ' + f.readline().decode().strip(), flush=True)
c.sendall(b'MAP 5000\\r\\n')
d, a = data.accept()
print('DATA %s from %s' % (d.recv(100).decode(), a[0]), flush=True)
print('REPLY ' + f.readline().decode().strip(), flush=True)
sys.stdin.read()
c.close()
`;

describeLab('the plugin host behind the nfqueue driver', () => {
  const lab = useLab({ name: 'phost', ipv6Nat: true });
  const algd = useLabAlgd(lab, 'phost', () => ({
    pluginsDir: FIXTURE_PLUGINS,
    plugins: { sip: { enabled: false }, rtsp: { enabled: false }, faulty: { enabled: false }, 'datagram-tagger': { enabled: false } },
  }));

  const status = () =>
    algd.status<{
      sessions: { id: string; dataChannels: string[] }[];
      engine: { redirects: string[]; mappings: { owner: string; active: boolean }[] };
      sessionsEnded: Record<string, number>;
    }>();

  it('a data channel the plugin asked for carries the server\'s connection to the client, and keepalive runs while it lives', async () => {
    const server = lab().spawn('server', ['python3', '-u', '-c', CONTROL_SERVER]);
    await server.waitForOutput(/LISTENING/, 10_000, 'stdout');
    const client = lab().spawn('client', ['python3', '-u', '-c', CONTROL_CLIENT, SERVER_V4]);
    try {
      await client.waitForOutput(/^REPLY \[2\] data sent$/m, 15_000, 'stdout');
      expect(client.stdout).toContain('REPLY [1] ok HELLO');
      expect(client.stdout).toContain(`DATA data-ok from ${SERVER_V4}`);
      expect(server.stdout).toMatch(new RegExp(`GOT MAPPED ${GATEWAY_PUBLIC_V4.replace(/\./g, '\\.')} 6[1-4]\\d{3} \\d+`));

      // The control connection is idle now, its channel used; both legs keep alive while the channel's connection lives.
      const s = await status();
      expect(s.sessions).toHaveLength(1);
      expect(s.sessions[0]!.dataChannels).toHaveLength(1);
      const sockets = (await lab().execOk('gateway', ['ss', '-tnoH', 'state', 'established'])).stdout.split('\n');
      const legs = sockets.filter((l) => / 127\.0\.0\.1:\d+ /.test(l) || l.includes(`${SERVER_V4}:2100`));
      expect(legs.length).toBeGreaterThanOrEqual(2);
      for (const leg of legs) expect(leg).toContain('timer:(keepalive');
    } finally {
      client.child.stdin?.end();
      await client.waitForExit(10_000).catch(() => undefined);
      if (client.running) await client.kill('SIGTERM');
      await server.kill('SIGTERM');
    }
  });

  it('IPv6 control connections go through the listener on the private adapter\'s address', async () => {
    const echo = await startTcpEchoServer(lab(), 'server', 21);
    try {
      // A whole line: the FTP plugin frames the control connection by lines.
      const r = await echoRequest(lab(), 'client', 'tcp', SERVER_V6, 21, 'USER anonymous\r\n');
      expect(r).toMatchObject({ ok: true });
      const doc = await status();
      expect(doc.engine.redirects.filter((r) => r.startsWith('tcp port 21 '))).toEqual([
        // Carried by the driver's kernel redirect (the nfqueue default), which the engine installed for each.
        expect.stringMatching(/^tcp port 21 \(IPv4\) -> 127\.0\.0\.1:\d+, kernel redirect installed$/),
        expect.stringMatching(/^tcp port 21 \(IPv6\) -> \[2001:db8:1::1\]:\d+, kernel redirect installed$/),
      ]);
      expect(doc.sessionsEnded['closed']).toBeGreaterThanOrEqual(1);
    } finally {
      await echo.stop();
    }
  });
});
