/**
 * Hands out the listener ports of the configured range (3000-5000 by
 * default) in order. A port some other program holds is found out when
 * binding fails (EADDRINUSE) and skipped.
 */
export class ListenerPorts {
  private readonly used = new Set<number>();

  constructor(private readonly range: { readonly from: number; readonly to: number }) {}

  /**
   * Binds something on the first free port: `bind(port)` resolves when it
   * could, rejects with EADDRINUSE to try the next. Throws when the range is
   * exhausted.
   */
  async allocate<T>(bind: (port: number) => Promise<T>): Promise<{ port: number; bound: T }> {
    for (let p = this.range.from; p <= this.range.to; p++) {
      if (this.used.has(p)) continue;
      try {
        const bound = await bind(p);
        this.used.add(p);
        return { port: p, bound };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
    throw new Error(`no free listener port in ${this.range.from}-${this.range.to}`);
  }

  /** True when a listener holds `port`. */
  isUsed(port: number): boolean {
    return this.used.has(port);
  }

  release(port: number): void {
    this.used.delete(port);
  }
}
