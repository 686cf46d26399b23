/**
 * Tiny TCP and UDP echo peers (Python 3, no shell) for lab tests: servers
 * that report which address each peer came from, and one-shot clients that
 * report their own address and whether the echo came back.
 */

import { ipAddress, port as toPort, type Endpoint, type IpAddress } from '@algd/sdk';

import type { Lab, LabHost } from './lab';
import type { LabProcess } from './lab-process';

/** Strips the IPv4-mapped prefix a dual-stack socket reports for IPv4 peers. */
const PY_COMMON = `
import socket, sys
def show(a):
    h = a[0]
    return h[7:] if h.startswith('::ffff:') and '.' in h else h
def family(addr):
    return socket.AF_INET6 if ':' in addr else socket.AF_INET
def bound(kind, addr, port):
    s = socket.socket(family(addr), kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family(addr) == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((addr, port))
    return s
`;

const TCP_SERVER = `${PY_COMMON}
s = bound(socket.SOCK_STREAM, sys.argv[1], int(sys.argv[2]))
s.listen(16)
print('listening', flush=True)
while True:
    c, a = s.accept()
    print('peer', show(a), a[1], flush=True)
    c.settimeout(10)
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError as e:
        print('error', e, flush=True)
    c.close()
`;

const UDP_SERVER = `${PY_COMMON}
s = bound(socket.SOCK_DGRAM, sys.argv[1], int(sys.argv[2]))
print('listening', flush=True)
while True:
    d, a = s.recvfrom(65536)
    print('peer', show(a), a[1], flush=True)
    s.sendto(d, a)
`;

const CLIENT = `${PY_COMMON}
kind, addr, port, payload, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode(), float(sys.argv[5])
try:
    if kind == 'tcp':
        c = socket.create_connection((addr, port), timeout=timeout)
        print('local', show(c.getsockname()), c.getsockname()[1], flush=True)
        c.sendall(payload)
        got = b''
        while len(got) < len(payload):
            d = c.recv(65536)
            if not d:
                break
            got += d
    else:
        c = socket.socket(family(addr), socket.SOCK_DGRAM)
        c.settimeout(timeout)
        c.connect((addr, port))
        print('local', show(c.getsockname()), c.getsockname()[1], flush=True)
        c.send(payload)
        got = c.recv(65536)
    c.close()
    print('reply', got.decode(errors='replace'), flush=True)
    sys.exit(0 if got == payload else 3)
except socket.timeout:
    print('error timeout', flush=True)
    sys.exit(2)
except ConnectionRefusedError:
    print('error refused', flush=True)
    sys.exit(4)
except OSError as e:
    print('error', type(e).__name__, e, flush=True)
    sys.exit(1)
`;

/** An echo server running in a lab host. */
export class EchoServer {
  constructor(readonly process: LabProcess) {}

  /** The peers it has served so far, in order (IPv4-mapped addresses unmapped). */
  peers(): Endpoint[] {
    const out: Endpoint[] = [];
    for (const m of this.process.stdout.matchAll(/^peer (\S+) (\d+)$/gm)) {
      out.push({ address: ipAddress(m[1]!), port: toPort(Number(m[2])) });
    }
    return out;
  }

  /** The addresses of the peers served so far. */
  peerAddresses(): IpAddress[] {
    return this.peers().map((p) => p.address);
  }

  stop(): Promise<unknown> {
    return this.process.kill();
  }
}

/** The wildcard address for a lab host's servers: dual-stack when the lab has IPv6. */
function wildcard(lab: Lab): string {
  return lab.options.ipv6 ? '::' : '0.0.0.0';
}

/** Starts a TCP echo server on `port` in `host` and resolves once it listens. */
export async function startTcpEchoServer(lab: Lab, host: LabHost, port: number, timeoutMs = 10_000): Promise<EchoServer> {
  const proc = lab.spawn(host, ['python3', '-u', '-c', TCP_SERVER, wildcard(lab), String(port)]);
  await proc.waitForPort('tcp', port, timeoutMs);
  return new EchoServer(proc);
}

/** Starts a UDP echo server on `port` in `host` and resolves once it is bound. */
export async function startUdpEchoServer(lab: Lab, host: LabHost, port: number, timeoutMs = 10_000): Promise<EchoServer> {
  const proc = lab.spawn(host, ['python3', '-u', '-c', UDP_SERVER, wildcard(lab), String(port)]);
  await proc.waitForPort('udp', port, timeoutMs);
  return new EchoServer(proc);
}

/** What a one-shot echo client saw. */
export interface EchoResult {
  /** True when the whole payload came back unchanged. */
  readonly ok: boolean;
  /** Its own address and port, when it got as far as having one. */
  readonly local?: Endpoint;
  readonly reply?: string;
  /** 'timeout', 'refused' or an OS error, when it failed. */
  readonly error?: string;
  readonly code: number | null;
}

/**
 * Sends `payload` from `host` to `address`:`port` over `proto` and waits
 * (up to `timeoutMs`) for the echo. Never rejects for network failures;
 * they are reported in the result.
 */
export async function echoRequest(
  lab: Lab,
  host: LabHost,
  proto: 'tcp' | 'udp',
  address: IpAddress,
  port: number,
  payload: string,
  timeoutMs = 3_000,
): Promise<EchoResult> {
  const argv = ['python3', '-c', CLIENT, proto, address, String(port), payload, String(timeoutMs / 1000)];
  const r = await lab.exec(host, argv, { timeoutMs: timeoutMs + 10_000 });
  const local = /^local (\S+) (\d+)$/m.exec(r.stdout);
  const reply = /^reply (.*)$/m.exec(r.stdout);
  const error = /^error (.*)$/m.exec(r.stdout);
  return {
    ok: r.code === 0,
    code: r.code,
    ...(local ? { local: { address: ipAddress(local[1]!), port: toPort(Number(local[2])) } } : {}),
    ...(reply ? { reply: reply[1]! } : {}),
    ...(error ? { error: error[1]! } : r.code !== 0 ? { error: r.stderr.trim() } : {}),
  };
}
