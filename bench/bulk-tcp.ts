/**
 * The bulk TCP sender and receiver the throughput bench runs in the lab's
 * client and server (python3, plain sockets: no third-party tool).
 *
 * `python3 -u bulk_tcp.py ROLE HOW HOST PORT MAX_BYTES MAX_SECONDS SOCKBUF`
 *
 * - ROLE `send` writes 1 MiB chunks (sendall) until MAX_BYTES have been
 *   sent or MAX_SECONDS have passed, whichever first, then half-closes and
 *   waits (bounded) for the peer to close. ROLE `recv` reads (recv_into a
 *   1 MiB buffer) until EOF, MAX_BYTES + 1 MiB, or MAX_SECONDS.
 * - HOW `listen` binds HOST:PORT, prints LISTENING and accepts one
 *   connection (at most MAX_SECONDS + 30 s of waiting); `connect` connects
 *   to HOST:PORT (10 s connect timeout).
 * - SOCKBUF > 0 sets SO_SNDBUF and SO_RCVBUF (before connect / listen, so
 *   the window scale follows); 0 leaves the kernel's autotuning.
 *
 * A transfer that stalls for 10 s ends with an error.
 *
 * Prints one JSON line: bytes moved, seconds from the connection being
 * established to the end (EOF for the receiver), and how it ended.
 */
export const BULK_TCP = `
import json, socket, sys, time
role, how, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
max_bytes, max_s, sockbuf = int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
CHUNK = 1 << 20
def tune(s):
    if sockbuf > 0:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sockbuf)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, sockbuf)
if how == 'listen':
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tune(l)
    l.bind((host, port)); l.listen(1)
    l.settimeout(max_s + 30)
    print('LISTENING', flush=True)
    s, peer = l.accept()
    l.close()
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tune(s)
    s.settimeout(10)
    s.connect((host, port))
    peer = s.getpeername()
s.settimeout(10)  # a transfer stalled for 10 s has failed
t0 = time.monotonic()
deadline = t0 + max_s
n, ended = 0, 'bytes'
try:
    if role == 'send':
        chunk = memoryview(bytes(CHUNK))
        while n < max_bytes:
            if time.monotonic() >= deadline:
                ended = 'time'; break
            k = min(CHUNK, max_bytes - n)
            s.sendall(chunk[:k]); n += k
        t1 = time.monotonic()
        s.shutdown(socket.SHUT_WR)
        s.settimeout(15)
        s.recv(1)
    else:
        buf = bytearray(CHUNK); mv = memoryview(buf)
        ended = 'eof'
        while n <= max_bytes:
            if time.monotonic() >= deadline:
                ended = 'time'; break
            k = s.recv_into(mv)
            if k == 0: break
            n += k
        else:
            ended = 'bytes'
        t1 = time.monotonic()
except OSError as e:
    t1 = time.monotonic(); ended = 'error: %s' % e
s.close()
print(json.dumps({'role': role, 'bytes': n, 'seconds': t1 - t0, 'ended': ended, 'peer': [peer[0], peer[1]]}), flush=True)
`;

export interface BulkResult {
  readonly role: 'send' | 'recv';
  readonly bytes: number;
  readonly seconds: number;
  readonly ended: string;
  readonly peer: [string, number];
}

export function parseBulk(stdout: string): BulkResult {
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no result line from the bulk TCP script:\n${stdout}`);
  return JSON.parse(line) as BulkResult;
}
