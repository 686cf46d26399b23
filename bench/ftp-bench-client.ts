/**
 * The FTP client the ALG bench runs in the lab's client (Python's ftplib,
 * /usr/bin/python3: nothing beyond the standard library).
 *
 * `python3 -u ftp_bench.py sessions HOST COUNT CONCURRENCY MAX_SECONDS`:
 * COUNT control sessions, CONCURRENCY at a time (threads), each one
 * connect, anonymous login, PORT + LIST in active mode (the server
 * connects back through the gateway, so the ALG must have rewritten the
 * PORT and opened the way in), QUIT. No new session starts after
 * MAX_SECONDS. Prints one JSON line: sessions done and failed, the
 * seconds from the first start to the last end, the first errors.
 *
 * `python3 -u ftp_bench.py noop HOST COUNT WARMUP`: one session, login,
 * WARMUP untimed NOOPs, then COUNT NOOPs each timed from the request's
 * send to its reply (microseconds, one JSON line with all samples).
 *
 * Every socket has a 10 s timeout, so nothing waits unbounded.
 */
export const FTP_BENCH_CLIENT = `
import ftplib, json, sys, threading, time
mode, host = sys.argv[1], sys.argv[2]
TIMEOUT = 10

def login():
    f = ftplib.FTP()
    f.connect(host, 21, timeout=TIMEOUT)
    f.login()
    return f

if mode == 'sessions':
    count, conc, max_s = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    lock = threading.Lock()
    state = {'next': 0, 'ok': 0, 'failed': 0, 'errors': [], 'listed': 0}
    t0 = time.monotonic()
    deadline = t0 + max_s
    def take():
        with lock:
            if state['next'] >= count or time.monotonic() >= deadline:
                return False
            state['next'] += 1
            return True
    def worker():
        while take():
            try:
                f = login()
                f.set_pasv(False)
                lines = []
                f.retrlines('LIST', lines.append)
                f.quit()
                with lock:
                    state['ok'] += 1
                    state['listed'] += len(lines)
            except Exception as e:
                with lock:
                    state['failed'] += 1
                    if len(state['errors']) < 5:
                        state['errors'].append('%s: %s' % (type(e).__name__, e))
    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads: t.start()
    for t in threads: t.join()
    seconds = time.monotonic() - t0
    print(json.dumps({'ok': state['ok'], 'failed': state['failed'], 'seconds': seconds, 'listed': state['listed'], 'errors': state['errors']}), flush=True)
elif mode == 'noop':
    count, warmup = int(sys.argv[3]), int(sys.argv[4])
    f = login()
    for _ in range(warmup):
        f.voidcmd('NOOP')
    samples = []
    for _ in range(count):
        t = time.perf_counter_ns()
        f.voidcmd('NOOP')
        samples.append((time.perf_counter_ns() - t) / 1000.0)
    f.quit()
    print(json.dumps({'samples': samples}), flush=True)
else:
    sys.exit('unknown mode ' + mode)
`;

export interface SessionsResult {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  /** LIST lines received in all (each session's listing arrived over an active data connection). */
  readonly listed: number;
  readonly errors: readonly string[];
}

export interface NoopResult {
  /** Round trips of NOOP → 200, microseconds. */
  readonly samples: readonly number[];
}

/** The JSON line of the client's output. */
export function parseClientLine<T>(stdout: string): T {
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no result line from the FTP bench client:\n${stdout}`);
  return JSON.parse(line) as T;
}
