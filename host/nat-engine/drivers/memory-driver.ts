import { EventEmitter } from 'node:events';
import type { ProcessOutcome } from '../engine-counters';
import type { PacketMeta } from '../packet-meta';
import type { PacketDriver, PacketProcessor } from './packet-driver';

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
  private processor: PacketProcessor | undefined;

  async open(processor: PacketProcessor): Promise<void> {
    this.processor = processor;
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
    if (outcome === 'pass' || outcome === 'translated') {
      this.emit('packet', delivered);
      return buf;
    }
    this.emit('drop', delivered);
    return undefined;
  }
}
