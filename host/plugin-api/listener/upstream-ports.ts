import type { ListenerPorts } from './listener-ports';

/**
 * Local ports for the host's upstream TCP connections when the driver
 * needs them inside listenerPorts (WinDivert's static filter tells the
 * host's own connections to a control port from clients' by that). Handed
 * out round-robin from the top of the range down, away from the listeners
 * allocated from the bottom; a port the OS still holds (a connection in
 * TIME_WAIT) fails with EADDRINUSE and the caller asks for the next.
 */
export class UpstreamPorts {
  private cursor: number;

  constructor(private readonly range: { readonly from: number; readonly to: number }, private readonly listeners: ListenerPorts) {
    this.cursor = range.to;
  }

  /** The next candidate port. */
  next(): number {
    const size = this.range.to - this.range.from + 1;
    for (let i = 0; i < size; i++) {
      const p = this.cursor;
      this.cursor = p === this.range.from ? this.range.to : p - 1;
      if (!this.listeners.isUsed(p)) return p;
    }
    throw new Error(`no port left in ${this.range.from}-${this.range.to} for upstream connections`);
  }
}
