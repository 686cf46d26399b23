/**
 * A packet capture on one interface of one lab host: `tcpdump` writing a
 * pcap file, started only once it is really capturing.
 */

import { existsSync } from 'node:fs';

import type { LabProcess } from './lab-process';
import { ipPackets, readPcap, type Pcap } from './pcap';

export interface CaptureOptions {
  /** Bytes kept per packet; default 0 (whole packets). */
  readonly snapLen?: number;
  /** How long tcpdump may take to start capturing; default 10 s. */
  readonly startTimeoutMs?: number;
}

export interface StopOptions {
  /** Wait this long before stopping, so packets still in flight are written; default 200 ms. */
  readonly settleMs?: number;
}

/**
 * The argv of a tcpdump that writes every packet to `file` as soon as it is
 * seen (`-U --immediate-mode`), does not resolve names (`-n`), keeps root
 * (`-Z root`, so it can write to the lab's private work directory) and
 * captures only what `filter` (a pcap-filter expression, one argument)
 * selects.
 */
export function tcpdumpArgv(iface: string, file: string, filter: string, snapLen = 0): string[] {
  const argv = ['tcpdump', '-n', '-U', '--immediate-mode', '-Z', 'root', '-s', String(snapLen), '-i', iface, '-w', file];
  if (filter.trim() !== '') argv.push(filter);
  return argv;
}

export class Capture {
  private stopped: Promise<string> | undefined;

  /** Use `lab.capture(...)`; this wraps a tcpdump process started with {@link tcpdumpArgv}. */
  constructor(
    readonly tcpdump: LabProcess,
    /** The pcap file tcpdump writes. */
    readonly path: string,
  ) {}

  /** Resolves once tcpdump reports that it is capturing (it prints "listening on" on stderr). */
  async started(timeoutMs = 10_000): Promise<this> {
    await this.tcpdump.waitForOutput(/listening on/, timeoutMs, 'stderr');
    return this;
  }

  /** What has been written so far (a capture still running may end in a partial record, which is left out). */
  read(): Pcap {
    return existsSync(this.path) ? readPcap(this.path, { allowTruncated: true }) : { linkType: -1, snapLen: 0, packets: [] };
  }

  /** The IP packets (link headers stripped) written so far, in capture order. */
  packets(): Buffer[] {
    return ipPackets(this.read()).map((p) => p.packet);
  }

  /**
   * Resolves with the IP packets captured so far once `predicate` holds for
   * them; polls the file, bounded by `timeoutMs`.
   */
  async waitFor(predicate: (packets: Buffer[]) => boolean, timeoutMs = 10_000, what = 'the expected packets'): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const packets = this.packets();
      if (predicate(packets)) return packets;
      if (!this.tcpdump.running) throw new Error(`${this.tcpdump.description} exited before capturing ${what}\n${this.tcpdump.stderr}`);
      if (Date.now() > deadline) throw new Error(`${this.tcpdump.description} did not capture ${what} within ${timeoutMs} ms (${packets.length} IP packets)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Stops tcpdump (SIGINT, so it flushes and closes the file) and resolves
   * with the pcap file's path. Idempotent. Rejects if tcpdump had failed.
   */
  stop(opts: StopOptions = {}): Promise<string> {
    this.stopped ??= (async () => {
      if (this.tcpdump.running) await new Promise((r) => setTimeout(r, opts.settleMs ?? 200));
      const exit = await this.tcpdump.kill('SIGINT');
      const clean = exit.code === 0 || exit.signal === 'SIGINT';
      if (!clean || !existsSync(this.path)) {
        throw new Error(`${this.tcpdump.description} failed (${JSON.stringify(exit)}): ${this.tcpdump.stderr.trim()}`);
      }
      return this.path;
    })();
    return this.stopped;
  }
}
