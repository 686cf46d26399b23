/**
 * Tells the main thread when a file descriptor has data, without the main
 * thread ever blocking or spinning.
 *
 * Node cannot watch an arbitrary fd: `net.Socket({ fd })` refuses netlink
 * sockets (libuv only adopts stream, pipe and UDP fds) and libuv's
 * `uv_poll_t` is not exposed to JS. So a small worker thread blocks in
 * `poll(2)` on the fd and posts one message when it becomes readable. Then
 * it sleeps (Atomics.wait) until the main thread, having drained the fd,
 * re-arms it. One wake-up therefore covers a whole batch, and the watcher
 * never touches the socket's data: the main thread owns the queue.
 *
 * A dedicated thread rather than koffi's `poll.async`: an async koffi call
 * runs on libuv's threadpool (4 threads by default), and a poll parked there
 * for the life of the queue would take a thread from fs, dns.lookup, zlib
 * and crypto for good.
 *
 * Stopping: the state word goes to STOP, Atomics.notify wakes a sleeping
 * watcher, and a write to an eventfd (the second fd in the poll set) wakes
 * a polling one. The eventfd is level-triggered, so no wake-up is lost.
 *
 * The worker is evaluated from source (it is a dozen lines) so it runs the
 * same from `dist/` and from ts-jest, and coverage instrumentation cannot
 * rewrite it.
 */

import { Worker } from 'node:worker_threads';

import { EFD_CLOEXEC, EFD_NONBLOCK, loadLibc, POLLIN } from './libc';
import { describeErrno, koffiModulePath } from '../ffi/load-koffi';
import { NfqueueError } from './nfqueue-errors';

const IDLE = 0;
const ARMED = 1;
const STOP = 2;

const WATCHER_SOURCE = `
'use strict';
const { parentPort, workerData: d } = require('node:worker_threads');
const koffi = require(d.koffiPath);
const libc = koffi.load('libc.so.6');
const poll = libc.func('poll', 'int', ['void *', 'uint64_t', 'int']);
const read = libc.func('read', 'intptr_t', ['int', 'void *', 'size_t']);
const state = new Int32Array(d.state);
const fds = Buffer.alloc(16);
fds.writeInt32LE(d.fd, 0);
fds.writeInt16LE(d.POLLIN, 4);
fds.writeInt32LE(d.wakeFd, 8);
fds.writeInt16LE(d.POLLIN, 12);
const counter = Buffer.alloc(8);
for (;;) {
  Atomics.wait(state, 0, d.IDLE);
  if (Atomics.load(state, 0) === d.STOP) break;
  fds.writeInt16LE(0, 6);
  fds.writeInt16LE(0, 14);
  if (poll(fds, 2, -1) < 0) {
    const errno = koffi.errno();
    if (errno === koffi.os.errno.EINTR) continue;
    parentPort.postMessage({ errno });
    break;
  }
  if (fds.readInt16LE(14) !== 0) read(d.wakeFd, counter, 8);
  if (Atomics.load(state, 0) === d.STOP) break;
  if (fds.readInt16LE(6) !== 0 && Atomics.compareExchange(state, 0, d.ARMED, d.IDLE) === d.ARMED) {
    parentPort.postMessage(null);
  }
}
`;

export interface ReadinessWatcherEvents {
  /** `fd` has data (or an error such as ENOBUFS) to read. The watcher is idle until {@link ReadinessWatcher.arm}. */
  readonly onReadable: () => void;
  /** The watcher failed (poll error, worker crash); no more readiness will be reported. */
  readonly onFailure: (err: Error) => void;
}

export class ReadinessWatcher {
  private readonly state = new Int32Array(new SharedArrayBuffer(4));
  private readonly wakeFd: number;
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private stopping = false;
  /** False once the thread has ended and the eventfd is closed (its number may be reused then). */
  private alive = true;

  /** Starts watching `fd`, armed: the first report comes as soon as it is readable. */
  constructor(fd: number, events: ReadinessWatcherEvents) {
    const libc = loadLibc();
    this.wakeFd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.wakeFd < 0) {
      const errno = libc.errno();
      throw new NfqueueError(`eventfd() failed: ${describeErrno(errno)}`, 'eventfd', errno);
    }
    this.state[0] = ARMED;
    try {
      this.worker = new Worker(WATCHER_SOURCE, {
        eval: true,
        workerData: { koffiPath: koffiModulePath(), state: this.state.buffer, fd, wakeFd: this.wakeFd, POLLIN, IDLE, ARMED, STOP },
        // It runs a dozen lines; keep its heap small.
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      });
    } catch (err) {
      libc.close(this.wakeFd);
      throw err;
    }
    this.worker.on('message', (msg: { errno: number } | null) => {
      if (this.stopping) return;
      if (msg === null) events.onReadable();
      else events.onFailure(new Error(`poll() on fd ${fd} failed: ${describeErrno(msg.errno)}`));
    });
    this.worker.on('error', (err) => {
      if (!this.stopping) events.onFailure(err);
    });
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        if (!this.stopping) events.onFailure(new Error(`the readiness watcher of fd ${fd} exited (code ${code})`));
        this.alive = false;
        libc.close(this.wakeFd);
        resolve();
      }),
    );
  }

  /** Asks for the next readiness report; call once the fd has been drained. */
  arm(): void {
    if (this.stopping) return;
    Atomics.store(this.state, 0, ARMED);
    Atomics.notify(this.state, 0);
  }

  /** Stops the watcher and resolves when its thread has ended (then closes the eventfd). Idempotent. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      Atomics.store(this.state, 0, STOP);
      Atomics.notify(this.state, 0);
      if (this.alive) {
        const one = Buffer.alloc(8);
        one.writeBigUInt64LE(1n);
        loadLibc().write(this.wakeFd, one, 8);
      }
    }
    return this.exited;
  }
}
