import { EventEmitter } from 'node:events';
import type { ProcessOutcome } from '../engine-counters';
import type { PacketMeta } from '../packet-meta';
import type { CaptureSpec } from './capture-spec';
import type { ListenerPlacement, DriverStats, PacketDriver, PacketProcessor } from './packet-driver';

/** A packet the memory driver let through, as the engine left it. */
export interface DeliveredPacket {
  readonly packet: Buffer;
  readonly meta: PacketMeta;
  readonly outcome: ProcessOutcome;
}

/**
 * The in-process driver: tests and replay tools inject packets and read what
 * the engine made of them. Nothing touches the OS.
 */
export class MemoryDriver extends EventEmitter<{ packet: [DeliveredPacket]; drop: [DeliveredPacket] }> implements PacketDriver {
  readonly name = 'memory';
  /** In-process: nothing to reach. */
  readonly listenerPlacement: ListenerPlacement = { ipv4: 'loopback', upstreamFromListenerPorts: false };
  private processor: PacketProcessor | undefined;
  private readonly counters = { received: 0, accepted: 0, dropped: 0, modified: 0, errors: 0 };
  /** The capture the host asked for (the memory driver captures whatever is injected). */
  spec: CaptureSpec | undefined;

  async open(spec: CaptureSpec, processor: PacketProcessor): Promise<void> {
    this.spec = spec;
    this.processor = processor;
  }

  get stats(): DriverStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.processor = undefined;
  }

  get isOpen(): boolean {
    return this.processor !== undefined;
  }

  /**
   * Passes a copy of `packet` through the engine. Returns the packet as it
   * leaves the gateway, or undefined when the engine dropped it.
   */
  inject(packet: Uint8Array, meta: PacketMeta): Buffer | undefined {
    if (!this.processor) throw new Error('memory driver is not open');
    const buf = Buffer.from(packet);
    const outcome = this.processor.process(buf, meta);
    const delivered = { packet: buf, meta, outcome };
    this.counters.received++;
    if (outcome === 'pass' || outcome === 'translated') {
      this.counters.accepted++;
      if (outcome === 'translated') this.counters.modified++;
      this.emit('packet', delivered);
      return buf;
    }
    this.counters.dropped++;
    this.emit('drop', delivered);
    return undefined;
  }
}
