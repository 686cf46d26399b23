/**
 * What one side of a test session (the client or the server) received
 * through the gateway: each write of the host as one message, in order.
 */
export class PeerRecord {
  private readonly written: Buffer[] = [];

  /** Each message the host wrote to this side: a forwarded (possibly rewritten) message or the gateway's own reply. */
  get messages(): readonly Buffer[] {
    return this.written;
  }

  /** Everything received so far, concatenated (what a TCP peer reads from its stream). */
  get received(): Buffer {
    return Buffer.concat(this.written);
  }

  /** {@link received} as latin1 text, for text protocols. */
  get text(): string {
    return this.received.toString('latin1');
  }

  /** @internal Records a write of the host. */
  deliver(bytes: Uint8Array): void {
    this.written.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
}
