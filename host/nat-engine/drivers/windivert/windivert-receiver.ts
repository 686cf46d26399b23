/**
 * Receives WinDivert batches on a dedicated worker thread, into memory the
 * main thread reads in place.
 *
 * Why a thread of our own, and not koffi's `.async` calls:
 *
 * - WinDivertRecvEx blocks until packets arrive. A koffi async call parks
 *   on one of libuv's threadpool threads (4 by default) for as long, taking
 *   it from fs, dns.lookup, zlib and crypto for the life of the capture.
 * - The failure reason is GetLastError(), a per-thread value. An async call
 *   runs on a pool thread, and the main thread reading GetLastError()
 *   afterwards gets its own, unrelated value. The shutdown handshake
 *   depends on telling ERROR_NO_DATA (queue drained) from real errors, so
 *   RecvEx and its GetLastError() must run on the same thread: here they do.
 *
 * Memory and hand-off: the packet buffer and the address array are
 * SharedArrayBuffers. The worker fills them with one RecvEx (up to 255
 * packets), writes the batch size to a control word, posts one message and
 * sleeps (Atomics.wait). The main thread processes the packets in place,
 * sends the accepted ones, and grants the next receive (`next()`), which
 * wakes the worker. One message per batch; nothing is copied between
 * threads; the worker never touches a buffer the main thread is using.
 *
 * The worker is evaluated from source (the loop below) so it runs the same
 * from `dist/` and from ts-jest.
 */

import { Worker } from 'node:worker_threads';

import { koffiModulePath } from '../ffi/load-koffi';
import { WINDIVERT_ADDRESS_SIZE, WINDIVERT_BATCH_MAX } from './windivert-constants';
import { WIN32_ERROR } from './windivert-errors';
import { RECV_EX_SIGNATURE, type LastErrorSource, type WindivertHandle } from './windivert-lib';

/** Control word values. */
const RECEIVE = 0;
const PROCESS = 1;
const STOP = 2;
/** Control array slots. */
const STATE = 0;
const COUNT = 1;
const LENGTH = 2;

/** Consecutive unexplained RecvEx failures after which the receiver gives up. */
const MAX_CONSECUTIVE_ERRORS = 50;

const RECEIVER_SOURCE = `
'use strict';
const { parentPort, workerData: d } = require('node:worker_threads');
const koffi = require(d.koffiPath);
const lib = koffi.load(d.library);
const recvEx = lib.func(d.recv.name, d.recv.result, d.recv.args);
const lastError = d.lastError.symbol === 'GetLastError'
  ? koffi.load(d.lastError.library).func('uint32_t __stdcall GetLastError(void)')
  : (d.lastError.library === d.library ? lib : koffi.load(d.lastError.library)).func(d.lastError.symbol, 'uint32_t', []);
const control = new Int32Array(d.control);
const packets = Buffer.from(d.packets);
const addrs = Buffer.from(d.addresses);
const recvLen = new Uint32Array(1);
const addrLen = new Uint32Array(1);
let failures = 0;
for (;;) {
  while (Atomics.load(control, ${STATE}) === ${PROCESS}) Atomics.wait(control, ${STATE}, ${PROCESS});
  if (Atomics.load(control, ${STATE}) === ${STOP}) break;
  recvLen[0] = 0;
  addrLen[0] = addrs.length;
  if (recvEx(d.handle, packets, packets.length, recvLen, 0, addrs, addrLen, null)) {
    failures = 0;
    control[${COUNT}] = Math.floor(addrLen[0] / ${WINDIVERT_ADDRESS_SIZE});
    control[${LENGTH}] = recvLen[0];
    Atomics.store(control, ${STATE}, ${PROCESS});
    parentPort.postMessage({ kind: 'batch' });
    continue;
  }
  const code = lastError();
  if (code === ${WIN32_ERROR.ERROR_NO_DATA} || code === ${WIN32_ERROR.ERROR_INVALID_HANDLE} || code === ${WIN32_ERROR.ERROR_OPERATION_ABORTED} || ++failures > ${MAX_CONSECUTIVE_ERRORS}) {
    parentPort.postMessage({ kind: 'end', code });
    break;
  }
  parentPort.postMessage({ kind: 'error', code });
  // A bounded pause, so a persistent error cannot spin; a stop request cuts it short.
  Atomics.wait(control, ${STATE}, ${RECEIVE}, Math.min(1000, 10 * failures));
}
`;

/** What the receiver reports to its owner, on the main thread. */
export interface ReceiverEvents {
  /**
   * A batch is ready: `count` packets packed in the first `length` bytes
   * of {@link WindivertReceiver.packets}, their addresses at the start of
   * {@link WindivertReceiver.addresses}. The buffers are the main thread's
   * until it calls {@link WindivertReceiver.next}.
   */
  readonly onBatch: (count: number, length: number) => void;
  /** A RecvEx failed with `code` (GetLastError); receiving continues. */
  readonly onError: (code: number) => void;
  /**
   * Receiving has ended: `code` is ERROR_NO_DATA after a shutdown drained
   * the queue, another Win32 code when the handle failed or closed, or
   * undefined when the thread stopped or died (`err`).
   */
  readonly onEnd: (code: number | undefined, err?: Error) => void;
}

/** Receives from `handle` on its own thread. See the module comment. */
export interface ReceiverOptions {
  readonly handle: WindivertHandle;
  /** The library file to bind in the thread (the main binding's). */
  readonly library: string;
  readonly lastError: LastErrorSource;
  /** Size of the packet buffer in bytes. */
  readonly bufferSize: number;
}

/** The packet source the driver consumes; the worker thread implementation or, in tests, a fake. */
export interface BatchSource {
  readonly packets: Buffer;
  readonly addresses: Buffer;
  start(events: ReceiverEvents): void;
  /** Hands the buffers back for the next receive. */
  next(): void;
  /** Stops receiving after the receive in progress; resolves when the source has ended. */
  stop(): Promise<void>;
}

export class WindivertReceiver implements BatchSource {
  readonly packets: Buffer;
  readonly addresses: Buffer;
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * 4));
  private readonly packetMemory: SharedArrayBuffer;
  private readonly addressMemory = new SharedArrayBuffer(WINDIVERT_BATCH_MAX * WINDIVERT_ADDRESS_SIZE);
  private worker: Worker | undefined;
  private exited: Promise<void> = Promise.resolve();
  private ended = false;

  constructor(private readonly opts: ReceiverOptions) {
    this.packetMemory = new SharedArrayBuffer(opts.bufferSize);
    this.packets = Buffer.from(this.packetMemory);
    this.addresses = Buffer.from(this.addressMemory);
  }

  start(events: ReceiverEvents): void {
    if (this.worker) throw new Error('the receiver is already started');
    const end = (code: number | undefined, err?: Error): void => {
      if (this.ended) return;
      this.ended = true;
      events.onEnd(code, err);
    };
    const worker = new Worker(RECEIVER_SOURCE, {
      eval: true,
      workerData: {
        koffiPath: koffiModulePath(),
        library: this.opts.library,
        lastError: this.opts.lastError,
        recv: RECV_EX_SIGNATURE,
        handle: this.opts.handle,
        control: this.control.buffer,
        packets: this.packetMemory,
        addresses: this.addressMemory,
      },
      // A loop of a dozen lines; keep its heap small.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    this.worker = worker;
    worker.on('message', (msg: { kind: 'batch' } | { kind: 'error'; code: number } | { kind: 'end'; code: number }) => {
      if (this.ended) return;
      if (msg.kind === 'batch') events.onBatch(this.control[COUNT]!, this.control[LENGTH]!);
      else if (msg.kind === 'error') events.onError(msg.code);
      else end(msg.code);
    });
    worker.on('error', (err) => end(undefined, err));
    this.exited = new Promise((resolve) =>
      worker.once('exit', (code) => {
        end(undefined, code === 0 ? undefined : new Error(`the WinDivert receive thread exited with code ${code}`));
        resolve();
      }),
    );
  }

  next(): void {
    if (Atomics.compareExchange(this.control, STATE, PROCESS, RECEIVE) === PROCESS) Atomics.notify(this.control, STATE);
  }

  /**
   * Asks the thread to stop once its current RecvEx returns (call
   * WinDivertShutdown or WinDivertClose first, or it may wait for a packet),
   * and resolves when it has exited. After `timeoutMs` the thread is
   * terminated instead.
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    Atomics.store(this.control, STATE, STOP);
    Atomics.notify(this.control, STATE);
    if (!this.worker) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const late = await Promise.race([this.exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      await this.worker.terminate();
      await this.exited;
    }
  }
}
