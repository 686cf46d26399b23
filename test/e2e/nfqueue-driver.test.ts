/**
 * The nfqueue driver against the real kernel, in the lab: real clients and
 * servers, the gateway's own masquerade, and algd's engine behind the
 * driver.
 *
 * A harness process in the gateway namespace (compiled dist/, so `npm run
 * build` first) runs a NatEngine with a redirect of TCP port 21 to a
 * listener on 127.0.0.1:3001 (IPv6: the gateway's private address, port
 * 3002), the NfqueueDriver, and those listeners, which answer each
 * connection with `ORIG <original destination>` (the engine's lookup) and
 * then echo. Mappings are created over its stdin. The server runs a "real"
 * service on port 21, so a connection that was not redirected is told
 * apart. Then the real `algd start` with `driver: nfqueue`: installation,
 * status, clean stop, crash and restart, fail-open and fail-closed.
 */

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { CLIENT_V4, GATEWAY_PRIVATE_V6, GATEWAY_PUBLIC_V4, SERVER_V4, SERVER_V6 } from '../../host/lab/addresses';
import type { Lab } from '../../host/lab/lab';
import type { LabProcess } from '../../host/lab/lab-process';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from '../../host/lab/topology';
import { describeLab, useLab } from '../lab/require-lab';
import { ALGD_BIN } from '../support/algd-process';
import { labCaptureSpec } from '../../host/lab/lab-capture-spec';
import { setTimeout as sleep } from 'node:timers/promises';

jest.setTimeout(60_000);

const DIST = resolve(__dirname, '../../dist');
const HARNESS_QUEUE = 4301;
const WAIT_MS = 15_000;
const LISTENER_V4 = { address: '127.0.0.1', port: 3001 };
const LISTENER_V6 = { address: GATEWAY_PRIVATE_V6 as string, port: 3002 };
const ROUTE_LOCALNET = `/proc/sys/net/ipv4/conf/${GATEWAY_PRIVATE_IFACE}/route_localnet`;

/** Gateway: engine + driver + listeners; commands on stdin (`map <json>`, `stats`, `stop`), answers on stdout. */
const HARNESS = `
'use strict';
const cfg = JSON.parse(process.argv[1]);
const net = require('node:net');
const { NatEngine } = require(cfg.dist + '/host/nat-engine/nat-engine.js');
const { NfqueueDriver } = require(cfg.dist + '/host/nat-engine/drivers/nfqueue/nfqueue-driver.js');
const out = (line) => process.stdout.write(line + '\\n');
const fmt = (e) => (e.address.includes(':') ? '[' + e.address + ']' : e.address) + ':' + e.port;
const engine = new NatEngine();
for (const r of cfg.redirects) engine.addRedirect(r);
const driver = new NfqueueDriver({ queueNum: cfg.queueNum, failOpen: true, stateDir: cfg.stateDir, kernelRedirect: false, log: (level, m) => process.stderr.write('[' + level + '] ' + m + '\\n') });
const servers = cfg.redirects.map((r) => {
  const l = r.listener;
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    const od = engine.originalDestination('tcp', { address: sock.remoteAddress, port: sock.remotePort }, l);
    sock.write('ORIG ' + (od ? fmt(od) : 'none') + '\\n');
    sock.on('data', (d) => sock.write(d));
  });
  server.listen(l.port, l.address);
  return server;
});
const tick = setInterval(() => engine.tick(), 1000);
driver.open(cfg.spec, engine).then(() => out('READY'), (err) => { out('FAILED ' + err.message); process.exit(1); });
require('node:readline').createInterface({ input: process.stdin }).on('line', async (line) => {
  const [cmd, ...rest] = line.trim().split(' ');
  if (cmd === 'map') {
    try { out('MAPPED ' + engine.createMapping(JSON.parse(rest.join(' '))).id); } catch (err) { out('ERROR ' + err.message); }
  } else if (cmd === 'forget') {
    out('FORGOT ' + engine.removeMappingsOf(rest[0], { closeFlows: true }));
  } else if (cmd === 'stats') {
    out('STATS ' + JSON.stringify({ driver: driver.details, engine: engine.counters.snapshot(), flows: engine.flowCount }));
  } else if (cmd === 'stop') {
    clearInterval(tick);
    for (const s of servers) s.close();
    await driver.close();
    await driver.close(); // idempotent
    process.stdout.write('STOPPED ' + JSON.stringify(driver.details) + '\\n', () => process.exit(0));
  }
});
`;

/** Server: a "real" TCP service that says who it is and who connected (port in argv[1], tag argv[2]); IPv4 and IPv6. */
const TCP_TELLER = `
import socket, sys, threading
port, tag = int(sys.argv[1]), sys.argv[2]
def serve(s):
    while True:
        c, a = s.accept()
        try:
            c.sendall(('%s %s %d\\n' % (tag, a[0], a[1])).encode())
            data = c.recv(4096)
            if data: c.sendall(data)
        except OSError:
            pass
        c.close()
socks = []
for fam, host in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port)); s.listen(16); socks.append(s)
for s in socks: threading.Thread(target=serve, args=(s,), daemon=True).start()
print('LISTENING', flush=True)
threading.Event().wait()
`;

/** Client: connects to argv[1]:argv[2], reads the first line, sends a line, reads it back; JSON on stdout. */
const TCP_CLIENT = `
import socket, sys, json
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]) if len(sys.argv) > 3 else 5)
s.connect((host, port))
f = s.makefile('rb')
first = f.readline().decode().strip()
s.sendall(b'hello through algd\\n')
echo = f.readline().decode().strip()
print(json.dumps({'peer': list(s.getpeername()[:2]), 'first': first, 'echo': echo}))
`;

/** Client: a TCP service on argv[1] that prints each peer and echoes "echo:" + what it got. */
const TCP_ECHO = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(8)
print('LISTENING', flush=True)
while True:
    c, a = s.accept()
    print('PEER %s %d' % a, flush=True)
    c.settimeout(5)
    try:
        c.sendall(b'echo:' + c.recv(4096))
    except OSError:
        pass
    c.close()
`;

/** Client: on argv[1], accepts one connection and sends "tick" every 100 ms (6 s at most). */
const TCP_TICKER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(1)
print('LISTENING', flush=True)
c, a = s.accept()
for i in range(60):
    try:
        c.sendall(b'tick\\n')
    except OSError:
        break
    time.sleep(0.1)
`;

/** Server: connects to argv[1]:argv[2], prints the first line it reads, then reads on (6 s at most). */
const TCP_READER = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=6)
f = s.makefile('rb')
print('FIRST ' + f.readline().decode().strip(), flush=True)
try:
    while f.readline():
        pass
except OSError:
    pass
`;

/** Server: connects to argv[1]:argv[2], sends "ping", prints what comes back and the endpoints as JSON. */
const TCP_PING = `
import socket, sys, json
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b'ping')
data = s.recv(4096).decode()
print(json.dumps({'reply': data, 'peer': list(s.getpeername()[:2])}))
`;

/** A UDP echo on argv[1]: prints "FROM addr port data" and echoes "echo:" + data. */
const UDP_ECHO = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', int(sys.argv[1])))
print('LISTENING', flush=True)
while True:
    data, a = s.recvfrom(4096)
    print('FROM %s %d %s' % (a[0], a[1], data.decode()), flush=True)
    s.sendto(b'echo:' + data, a)
`;

/** Client: from local port argv[3] (0: any) sends argv[4] to argv[1]:argv[2] (3 tries), prints the reply and its source as JSON. */
const UDP_CLIENT = `
import socket, sys, json
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', int(sys.argv[3])))
s.settimeout(1.5)
for attempt in range(3):
    s.sendto(sys.argv[4].encode(), (sys.argv[1], int(sys.argv[2])))
    try:
        data, a = s.recvfrom(4096)
        print(json.dumps({'reply': data.decode(), 'from': [a[0], a[1]], 'attempts': attempt + 1}))
        break
    except socket.timeout:
        pass
else:
    print(json.dumps({'reply': None}))
`;

/** Client: one ICMP echo to argv[1] over a raw socket; exit 0 when the reply comes within 2 s. */
const PING = `
import socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(0.5)
body = struct.pack('!BBHHH', 8, 0, 0, 0x4c47, 1) + b'algd-e2e'
s.sendto(body[:2] + struct.pack('!H', csum(body)) + body[4:], (sys.argv[1], 0))
deadline = time.time() + 2
while time.time() < deadline:
    try:
        data, a = s.recvfrom(2048)
    except socket.timeout:
        continue
    ihl = (data[0] & 15) * 4
    if a[0] == sys.argv[1] and data[ihl] == 0 and data[ihl + 4:ihl + 6] == b'\\x4c\\x47':
        sys.exit(0)
sys.exit(1)
`;

interface TcpResult {
  peer: [string, number];
  first: string;
  echo: string;
}

interface HarnessStats {
  driver: { received: number; accepted: number; dropped: number; modified: number; errors: number; overruns: number; staleDrops: number };
  engine: { packets: number; passed: number; translated: number; flowsCreated: number; drops: Record<string, number> };
  flows: number;
}


/** Every algd rule, chain and table in the gateway: iptables and ip6tables (raw, nat, mangle) and nftables. */
async function algdLeftovers(lab: Lab): Promise<string[]> {
  const lines: string[] = [];
  for (const program of ['iptables', 'ip6tables']) {
    for (const table of ['raw', 'nat', 'mangle', 'filter']) {
      const out = await lab.execOk('gateway', [program, '-w', '5', '-t', table, '-S']);
      lines.push(...out.stdout.split('\n').filter((l) => /ALGD/i.test(l)).map((l) => `${program} -t ${table}: ${l}`));
    }
  }
  const tables = await lab.execOk('gateway', ['nft', 'list', 'tables']);
  lines.push(...tables.stdout.split('\n').filter((l) => /\balgd\s*$/.test(l.trim())));
  return lines;
}

/** The `-S` lines of algd's chains, per family and table, sorted: the installed capture as text. */
async function algdRuleset(lab: Lab): Promise<string[]> {
  const lines: string[] = [];
  for (const program of ['iptables', 'ip6tables']) {
    for (const table of ['raw', 'mangle']) {
      const out = await lab.execOk('gateway', [program, '-w', '5', '-t', table, '-S']);
      lines.push(...out.stdout.split('\n').filter((l) => l.includes('ALGD_')).map((l) => `${program} ${table} ${l}`));
    }
  }
  const nft = await lab.exec('gateway', ['nft', 'list', 'table', 'inet', 'algd']);
  if (nft.code === 0) lines.push(...nft.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((l) => `nft ${l}`));
  return lines.sort();
}

async function routeLocalnet(lab: Lab): Promise<string> {
  return (await lab.execOk('gateway', ['cat', ROUTE_LOCALNET])).stdout.trim();
}

async function markedConnections(lab: Lab): Promise<string> {
  const r = await lab.exec('gateway', ['conntrack', '-L', '--mark', '0x20000000/0x20000000']);
  return r.stdout.trim();
}

describeLab('the nfqueue driver (engine, driver and kernel together)', () => {
  const lab = useLab({ name: 'nfqd' });
  const procs: Record<string, LabProcess> = {};

  const tcp = async (host: 'client' | 'server', addr: string, port: number, timeoutS = 5): Promise<TcpResult> => {
    const r = await lab().execOk(host, ['python3', '-c', TCP_CLIENT, addr, String(port), String(timeoutS)]);
    return JSON.parse(r.stdout) as TcpResult;
  };
  const tcpFails = async (addr: string, port: number, timeoutS: number): Promise<boolean> =>
    (await lab().exec('client', ['python3', '-c', TCP_CLIENT, addr, String(port), String(timeoutS)])).code !== 0;
  const udp = async (addr: string, port: number, localPort: number, text: string): Promise<{ reply: string | null; from?: [string, number] }> => {
    const r = await lab().execOk('client', ['python3', '-c', UDP_CLIENT, addr, String(port), String(localPort), text]);
    return JSON.parse(r.stdout) as { reply: string | null; from?: [string, number] };
  };

  beforeAll(async () => {
    if (!existsSync(join(DIST, 'host/nat-engine/drivers/nfqueue/nfqueue-driver.js'))) throw new Error(`${DIST} lacks the nfqueue driver: run \`npm run build\` first`);
    const l = lab();
    const start = async (name: string, host: 'client' | 'server', script: string, args: string[]): Promise<void> => {
      procs[name] = l.spawn(host, ['python3', '-u', '-c', script, ...args]);
      await procs[name]!.waitForOutput(/LISTENING/, WAIT_MS, 'stdout');
    };
    await start('real21', 'server', TCP_TELLER, ['21', 'REAL']);
    await start('teller2121', 'server', TCP_TELLER, ['2121', 'SERVER2121']);
    await start('udp9000', 'server', UDP_ECHO, ['9000']);
    await start('udp7001', 'server', UDP_ECHO, ['7001']);
    await start('echo50000', 'client', TCP_ECHO, ['50000']);
  });

  // The engine carries the redirected connections itself here (nfqueue.kernelRedirect off); algd's default, the kernel redirect, is below and in ftp-plugin.test.ts.
  describe('a harness in the gateway: engine, driver and listeners (redirects in userland)', () => {
    let harness: LabProcess;
    let stateDir: string;

    const command = async (line: string, answer: RegExp): Promise<RegExpMatchArray> => {
      const before = harness.stdout.length;
      harness.write(`${line}\n`);
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const m = answer.exec(harness.stdout.slice(before));
        if (m) return m;
        if (!harness.running || Date.now() > deadline) throw new Error(`harness did not answer ${line}:\n${harness.stdout}\n${harness.stderr}`);
        await sleep(20);
      }
    };
    const stats = async (): Promise<HarnessStats> => JSON.parse((await command('stats', /^STATS (.*)$/m))[1]!) as HarnessStats;

    beforeAll(async () => {
      stateDir = join(lab().workDir, 'harness-state');
      const spec = labCaptureSpec();
      const redirects = [
        { protocol: 'tcp', port: 21, listener: LISTENER_V4 },
        { protocol: 'tcp', port: 21, listener: LISTENER_V6 },
      ];
      harness = lab().spawn('gateway', [process.execPath, '-e', HARNESS, JSON.stringify({ dist: DIST, queueNum: HARNESS_QUEUE, stateDir, spec, redirects })]);
      await harness.waitForOutput(/^READY$/m, WAIT_MS, 'stdout');
    });

    afterAll(async () => {
      if (harness?.running) await harness.kill();
    });

    it('installs its capture: raw, mangle and the nat table, route_localnet on the private adapter', async () => {
      const rules = await algdRuleset(lab());
      expect(rules).toContain(`iptables raw -A ALGD_PREROUTING -i ${GATEWAY_PRIVATE_IFACE} -p tcp -m tcp --dport 21 -j NFQUEUE --queue-num ${HARNESS_QUEUE} --queue-bypass`);
      expect(rules).toContain(`ip6tables raw -A ALGD_PREROUTING -i ${GATEWAY_PUBLIC_IFACE} -p udp -m udp --dport 61000:64999 -j NFQUEUE --queue-num ${HARNESS_QUEUE} --queue-bypass`);
      expect(rules).toContain(`iptables mangle -A ALGD_POSTROUTING -m connmark --mark 0x20000000/0x20000000 -j NFQUEUE --queue-num ${HARNESS_QUEUE} --queue-bypass`);
      expect(rules).toContain('iptables mangle -A POSTROUTING -j ALGD_POSTROUTING');
      expect(rules.some((l) => l.startsWith('nft type nat hook postrouting'))).toBe(true);
      expect(await routeLocalnet(lab())).toBe('1');
      expect(readdirSync(stateDir).filter((f) => f.startsWith('route-localnet.'))).toHaveLength(1);
    });

    it('redirects a client connection to the listener, which learns the original destination; the client sees the server', async () => {
      const before = await stats();
      const r = await tcp('client', SERVER_V4, 21);
      expect(r).toEqual({ peer: [SERVER_V4, 21], first: `ORIG ${SERVER_V4}:21`, echo: 'hello through algd' });
      // The listener's replies (locally generated, loopback source) arrived with valid checksums: the client counted no error.
      const snmp = (await lab().execOk('client', ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
      const header = snmp[0]!.split(/\s+/);
      expect(Number(snmp[1]!.split(/\s+/)[header.indexOf('InCsumErrors')])).toBe(0);
      const after = await stats();
      expect(after.engine.flowsCreated - before.engine.flowsCreated).toBe(1);
      expect(after.engine.translated).toBeGreaterThan(before.engine.translated + 4);
      expect(after.driver.errors).toBe(0);
    });

    it('redirects IPv6 to a listener on the gateway\'s private address', async () => {
      const r = await tcp('client', SERVER_V6, 21);
      expect(r).toEqual({ peer: [SERVER_V6, 21], first: `ORIG [${SERVER_V6}]:21`, echo: 'hello through algd' });
    });

    it('carries an inbound TCP mapping to the client, replies and all; the client sees the server', async () => {
      const spec = { protocol: 'tcp', private: { address: CLIENT_V4, port: 50000 }, public: { address: GATEWAY_PUBLIC_V4, port: 61000 }, remote: { address: SERVER_V4 }, direction: 'inbound', persistent: false, owner: 'e2e-active' };
      await command(`map ${JSON.stringify(spec)}`, /^MAPPED \d+$/m);
      const r = await lab().execOk('server', ['python3', '-c', TCP_PING, GATEWAY_PUBLIC_V4, '61000']);
      expect(JSON.parse(r.stdout)).toEqual({ reply: 'echo:ping', peer: [GATEWAY_PUBLIC_V4, 61000] });
      await procs['echo50000']!.waitForOutput(new RegExp(`^PEER ${SERVER_V4.replace(/\./g, '\\.')} \\d+$`, 'm'), WAIT_MS, 'stdout');
      // One-shot: a second connection is not carried (nothing listens on the gateway's 61000).
      expect((await lab().exec('server', ['python3', '-c', TCP_PING, GATEWAY_PUBLIC_V4, '61000'])).code).not.toBe(0);
    });

    it('an outbound UDP mapping leaves with the mapping\'s public port, not masquerade\'s choice, and replies reach the client', async () => {
      const spec = { protocol: 'udp', private: { address: CLIENT_V4, port: 8000 }, public: { address: GATEWAY_PUBLIC_V4, port: 61002 }, remote: { address: SERVER_V4, port: 9000 }, direction: 'outbound', persistent: true, owner: 'e2e-rtp' };
      await command(`map ${JSON.stringify(spec)}`, /^MAPPED \d+$/m);
      const r = await udp(SERVER_V4, 9000, 8000, 'rtp-1');
      expect(r).toMatchObject({ reply: 'echo:rtp-1', from: [SERVER_V4, 9000] });
      const again = await udp(SERVER_V4, 9000, 8000, 'rtp-2');
      expect(again).toMatchObject({ reply: 'echo:rtp-2', from: [SERVER_V4, 9000] });
      const seen = procs['udp9000']!.stdout.split('\n').filter((l) => / rtp-\d$/.test(l));
      expect(seen).toEqual([`FROM ${GATEWAY_PUBLIC_V4} 61002 rtp-1`, `FROM ${GATEWAY_PUBLIC_V4} 61002 rtp-2`]);
      // The kernel knows the connection as algd's (connection mark), and did not masquerade it.
      expect(await markedConnections(lab())).toMatch(/src=198\.51\.100\.2 dst=203\.0\.113\.2 sport=8000 dport=9000 .*src=203\.0\.113\.2 dst=198\.51\.100\.2 sport=9000 dport=8000/);
    });

    it('once the engine forgets a connection, its packets never leave the public adapter with the private address', async () => {
      const spec = { protocol: 'tcp', private: { address: CLIENT_V4, port: 50001 }, public: { address: GATEWAY_PUBLIC_V4, port: 61001 }, remote: { address: SERVER_V4 }, direction: 'inbound', persistent: true, owner: 'e2e-forget' };
      await command(`map ${JSON.stringify(spec)}`, /^MAPPED \d+$/m);
      const ticker = lab().spawn('client', ['python3', '-u', '-c', TCP_TICKER, '50001']);
      await ticker.waitForOutput(/LISTENING/, WAIT_MS, 'stdout');
      const leaks = await lab().capture('gateway', GATEWAY_PUBLIC_IFACE, `src host ${CLIENT_V4}`);
      const reader = lab().spawn('server', ['python3', '-u', '-c', TCP_READER, GATEWAY_PUBLIC_V4, '61001']);
      await reader.waitForOutput(/^FIRST tick$/m, WAIT_MS, 'stdout');

      await command('forget e2e-forget', /^FORGOT 1$/m);
      await sleep(800); // the client keeps sending a tick every 100 ms
      expect(leaks.packets()).toEqual([]);
      await leaks.stop();
      const guard = await lab().execOk('gateway', ['nft', 'list', 'chain', 'inet', 'algd', 'untranslated']);
      expect(Number(/counter packets (\d+)/.exec(guard.stdout)![1])).toBeGreaterThan(0);
      await Promise.all([ticker.kill(), reader.kill()]);
    });

    it('leaves unrelated traffic (TCP 2121, UDP) to the kernel\'s masquerade, untouched', async () => {
      const before = await stats();
      const t = await tcp('client', SERVER_V4, 2121);
      expect(t.first).toMatch(new RegExp(`^SERVER2121 ${GATEWAY_PUBLIC_V4.replace(/\./g, '\\.')} \\d+$`));
      expect(t.echo).toBe('hello through algd');
      const u = await udp(SERVER_V4, 7001, 0, 'plain');
      expect(u).toMatchObject({ reply: 'echo:plain', from: [SERVER_V4, 7001] });
      expect(procs['udp7001']!.stdout).toMatch(new RegExp(`^FROM ${GATEWAY_PUBLIC_V4.replace(/\./g, '\\.')} \\d+ plain$`, 'm'));
      const after = await stats();
      // Only the first packet of each new connection was shown to the engine, which passed it
      // (the TCP connection alone sends about ten packets). A UDP retry, or a last packet of the
      // previous test's killed connections arriving late, may add one or two.
      expect(after.engine.flowsCreated).toBe(before.engine.flowsCreated);
      expect(after.engine.translated).toBe(before.engine.translated);
      const passed = after.engine.passed - before.engine.passed;
      expect(passed).toBeGreaterThanOrEqual(2);
      expect(passed).toBeLessThanOrEqual(4);
    });

    it('on stop removes every rule, the nat table, algd\'s conntrack entries, and restores route_localnet', async () => {
      const m = await command('stop', /^STOPPED (.*)$/m);
      const final = JSON.parse(m[1]!) as HarnessStats['driver'];
      expect(final.errors).toBe(0);
      expect(final.received).toBeGreaterThan(0);
      expect((await harness.waitForExit(WAIT_MS)).code).toBe(0);
      expect(await algdLeftovers(lab())).toEqual([]);
      expect(await markedConnections(lab())).toBe('');
      expect(await routeLocalnet(lab())).toBe('0');
      expect(readdirSync(stateDir)).toEqual([]);
      // Without algd, port 21 reaches the real server again.
      expect((await tcp('client', SERVER_V4, 21)).first).toMatch(/^REAL /);
    });
  });

  describe('algd start with driver nfqueue', () => {
    const configFile = (): string => join(lab().workDir, 'algd-nfqueue.json');
    const socket = (): string => join(lab().workDir, 'algd.sock');
    const writeConfig = (failOpen: boolean): void => {
      writeFileSync(
        configFile(),
        JSON.stringify({
          driver: 'nfqueue',
          nfqueue: { queueNum: 4200, failOpen },
          adapters: [
            { name: GATEWAY_PRIVATE_IFACE, type: 'private' },
            { name: GATEWAY_PUBLIC_IFACE, type: 'boundary' },
          ],
          adminSocket: socket(),
        }),
      );
    };
    const startAlgd = async (): Promise<LabProcess> => {
      const algd = lab().spawn('gateway', [process.execPath, ALGD_BIN, 'start', '--config', configFile()]);
      await algd.waitForOutput(/running/, WAIT_MS);
      return algd;
    };
    const stateFiles = (): string[] => readdirSync(lab().workDir).filter((f) => f.startsWith('route-localnet.'));

    it('installs its chains, shows the driver in status, and SIGTERM removes everything and restores route_localnet', async () => {
      writeConfig(true);
      expect(await routeLocalnet(lab())).toBe('0');
      const algd = await startAlgd();
      const rules = await algdRuleset(lab());
      expect(rules.filter((l) => / -A (PREROUTING|POSTROUTING) -j ALGD_/.test(l))).toHaveLength(4); // raw and mangle, IPv4 and IPv6
      // The kernel redirect (the default): only a control connection's SYN is queued; the nat table sends it to the listener.
      expect(rules).toContain(`iptables raw -A ALGD_PREROUTING -i ${GATEWAY_PRIVATE_IFACE} -p tcp -m tcp --dport 21 --tcp-flags FIN,SYN,RST,ACK SYN -j NFQUEUE --queue-num 4200 --queue-bypass`);
      expect(rules).toContain('nft meta mark & 0x40000000 == 0x40000000 meta nfproto ipv4 dnat ip to meta l4proto . th dport map @redirect4');
      expect(await routeLocalnet(lab())).toBe('1');
      const status = await lab().execOk('gateway', [process.execPath, ALGD_BIN, 'status', '--json', '--config', configFile()]);
      expect(JSON.parse(status.stdout)).toMatchObject({ service: 'algd', driver: 'nfqueue' });

      // A second instance (its own admin socket) in the same namespace is refused before it touches anything.
      const other = join(lab().workDir, 'algd-second.json');
      writeFileSync(other, JSON.stringify({ ...JSON.parse(readFileSync(configFile(), 'utf8')), adminSocket: join(lab().workDir, 'second.sock') }));
      const second = await lab().exec('gateway', [process.execPath, ALGD_BIN, 'start', '--config', other]);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain('another algd runs the nfqueue driver in this network namespace');
      expect(await algdRuleset(lab())).toEqual(rules);
      expect(await routeLocalnet(lab())).toBe('1');

      expect((await algd.kill('SIGTERM', 10_000)).code).toBe(0);
      expect(await algdLeftovers(lab())).toEqual([]);
      expect(await routeLocalnet(lab())).toBe('0');
      expect(stateFiles()).toEqual([]);
      expect(existsSync(socket())).toBe(false);
    });

    it('after kill -9 a new start leaves exactly one set of rules, restores the original route_localnet, and a clean stop leaves none', async () => {
      writeConfig(true);
      const first = await startAlgd();
      const installed = await algdRuleset(lab());
      expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');
      expect(await algdRuleset(lab())).toEqual(installed); // what a crash leaves
      expect(await routeLocalnet(lab())).toBe('1');

      const second = await startAlgd();
      expect(await algdRuleset(lab())).toEqual(installed);
      expect((await second.kill('SIGTERM', 10_000)).code).toBe(0);
      expect(await algdLeftovers(lab())).toEqual([]);
      // The value recorded before the crash, not the 1 the crash left.
      expect(await routeLocalnet(lab())).toBe('0');
      expect(stateFiles()).toEqual([]);
    });

    it('fail-closed: with algd killed, captured traffic is dropped; fail-open: it flows untranslated', async () => {
      for (const failOpen of [false, true]) {
        writeConfig(failOpen);
        const algd = await startAlgd();
        await algd.kill('SIGKILL');
        // Port 21 is captured before routing, 2121 as a new connection leaving the public adapter.
        expect(await tcpFails(SERVER_V4, 21, 2)).toBe(!failOpen);
        expect(await tcpFails(SERVER_V4, 2121, 2)).toBe(!failOpen);
        // Uncaptured traffic is never affected: ICMP echo through the gateway.
        expect((await lab().exec('client', ['python3', '-c', PING, SERVER_V4])).code).toBe(0);
        // A clean run after the crash removes what it left, even when SIGTERM comes the moment it says "running".
        const cleanup = await startAlgd();
        const exit = await cleanup.kill('SIGTERM', 10_000);
        if (exit.code !== 0) throw new Error(`algd exited ${JSON.stringify(exit)} on SIGTERM:\n${cleanup.stderr}`);
      }
      expect(await algdLeftovers(lab())).toEqual([]);
      expect(await routeLocalnet(lab())).toBe('0');
      expect(stateFiles()).toEqual([]);
      expect((await tcp('client', SERVER_V4, 2121)).first).toMatch(/^SERVER2121 /);
    });
  });
});

/** Client: on argv[1], accepts one connection, reads argv[2] bytes, sends argv[2] bytes of its own (seed argv[3]) back; JSON hashes on stdout. */
const BULK_SINK = `
import socket, sys, json, hashlib, random
port, n, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', port)); s.listen(1)
print('LISTENING', flush=True)
c, a = s.accept()
c.settimeout(20)
h, got = hashlib.sha256(), 0
while got < n:
    d = c.recv(1 << 20)
    if not d: break
    h.update(d); got += len(d)
out = random.Random(seed).randbytes(n)
c.sendall(out)
c.shutdown(socket.SHUT_WR)
c.recv(1)
print(json.dumps({'received': got, 'receivedSha': h.hexdigest(), 'sentSha': hashlib.sha256(out).hexdigest()}), flush=True)
`;

/** Server: connects to argv[1]:argv[2], sends argv[3] bytes (seed argv[4]), then reads to EOF; JSON hashes on stdout. */
const BULK_SOURCE = `
import socket, sys, json, hashlib, random
n, seed = int(sys.argv[3]), int(sys.argv[4])
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
data = random.Random(seed).randbytes(n)
s.sendall(data)
h, got = hashlib.sha256(), 0
while True:
    d = s.recv(1 << 20)
    if not d: break
    h.update(d); got += len(d)
s.close()
print(json.dumps({'sentSha': hashlib.sha256(data).hexdigest(), 'received': got, 'receivedSha': h.hexdigest()}))
`;

describeLab('the nfqueue driver with veth offloads on (GSO super-packets, partial checksums)', () => {
  const lab = useLab({ name: 'nfqgso', offloads: true, ipv6: false });
  const BULK_BYTES = 4 * 1024 * 1024;
  let harness: LabProcess;

  const stats = async (): Promise<HarnessStats & { driver: { gsoPackets: number; partialChecksums: number; completedChecksums: number; largestPacket: number } }> => {
    const before = harness.stdout.length;
    harness.write('stats\n');
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const m = /^STATS (.*)$/m.exec(harness.stdout.slice(before));
      if (m) return JSON.parse(m[1]!);
      if (!harness.running || Date.now() > deadline) throw new Error(`harness did not answer stats:\n${harness.stdout}\n${harness.stderr}`);
      await sleep(20);
    }
  };
  const csumErrors = async (host: 'client' | 'server'): Promise<number> => {
    const snmp = (await lab().execOk(host, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
    return Number(snmp[1]!.split(/\s+/)[snmp[0]!.split(/\s+/).indexOf('InCsumErrors')]);
  };

  beforeAll(async () => {
    if (!existsSync(join(DIST, 'host/nat-engine/drivers/nfqueue/nfqueue-driver.js'))) throw new Error(`${DIST} lacks the nfqueue driver: run \`npm run build\` first`);
    const offloads = (await lab().execOk('gateway', ['ethtool', '-k', GATEWAY_PUBLIC_IFACE])).stdout;
    expect(offloads).toMatch(/^tcp-segmentation-offload: on/m);
    const spec = labCaptureSpec({ controlPorts: [], families: [4] });
    harness = lab().spawn('gateway', [process.execPath, '-e', HARNESS, JSON.stringify({ dist: DIST, queueNum: HARNESS_QUEUE, stateDir: join(lab().workDir, 'gso-state'), spec, redirects: [] })]);
    await harness.waitForOutput(/^READY$/m, WAIT_MS, 'stdout');
  });

  afterAll(async () => {
    if (harness?.running) await harness.kill();
  });

  it('carries bulk TCP both ways through an inbound mapping intact, as GSO super-packets with partial checksums, with no checksum errors at either end', async () => {
    const spec = { protocol: 'tcp', private: { address: CLIENT_V4, port: 50010 }, public: { address: GATEWAY_PUBLIC_V4, port: 61010 }, remote: { address: SERVER_V4 }, direction: 'inbound', persistent: false, owner: 'e2e-gso' };
    harness.write(`map ${JSON.stringify(spec)}\n`);
    await harness.waitForOutput(/^MAPPED \d+$/m, WAIT_MS, 'stdout');
    const errorsBefore = { client: await csumErrors('client'), server: await csumErrors('server') };
    const before = await stats();

    const sink = lab().spawn('client', ['python3', '-u', '-c', BULK_SINK, '50010', String(BULK_BYTES), '2']);
    await sink.waitForOutput(/LISTENING/, WAIT_MS, 'stdout');
    const source = await lab().execOk('server', ['python3', '-c', BULK_SOURCE, GATEWAY_PUBLIC_V4, '61010', String(BULK_BYTES), '1'], { timeoutMs: 30_000 });
    const up = JSON.parse(source.stdout) as { sentSha: string; received: number; receivedSha: string };
    await sink.waitForOutput(/^\{.*\}$/m, WAIT_MS, 'stdout');
    const down = JSON.parse(/^(\{.*\})$/m.exec(sink.stdout)![1]!) as { received: number; receivedSha: string; sentSha: string };
    await sink.kill();

    // Intact both ways: server → client (destination rewrite before routing), client → server (source rewrite after routing).
    expect(down.received).toBe(BULK_BYTES);
    expect(down.receivedSha).toBe(up.sentSha);
    expect(up.received).toBe(BULK_BYTES);
    expect(up.receivedSha).toBe(down.sentSha);
    expect({ client: await csumErrors('client'), server: await csumErrors('server') }).toEqual(errorsBefore);

    const after = await stats();
    const d = after.driver;
    process.stderr.write(`[gso] driver: ${JSON.stringify(d)}\n[gso] engine: ${JSON.stringify(after.engine)}\n`);
    expect(d.errors).toBe(0);
    expect(d.gsoPackets - before.driver.gsoPackets).toBeGreaterThan(0);
    expect(d.largestPacket).toBeGreaterThan(1500);
    expect(d.partialChecksums - before.driver.partialChecksums).toBeGreaterThan(0);
    expect(d.completedChecksums - before.driver.completedChecksums).toBeGreaterThan(0);
    expect(after.engine.translated).toBeGreaterThan(before.engine.translated);
    expect(after.engine.drops).toEqual(before.engine.drops);
  });
});
