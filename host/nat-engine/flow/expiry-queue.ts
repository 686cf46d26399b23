/** What the queue needs of an item: a slot for its heap position and the deadline it is filed under. */
export interface Expiring {
  /** Position in the heap, -1 when not queued. Written only by the queue. */
  queueIndex: number;
  /** The deadline the item is filed under. Written only by the queue. */
  queuedUntil: number;
}

/**
 * Items ordered by deadline: an indexed binary min-heap.
 *
 * Why a heap: `expire()` then costs O(k log n) for k due items instead of
 * a scan of every flow each tick, and with the index kept on the item,
 * removing a flow that ends early is O(log n) too (no tombstones left
 * behind to pile up). A timer wheel would make filing O(1), but the flow
 * table files a flow only a few times in its life (see FlowTable), so the
 * heap's simplicity wins.
 */
export class ExpiryQueue<E extends Expiring> {
  private readonly heap: E[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** The item with the earliest deadline. */
  peek(): E | undefined {
    return this.heap[0];
  }

  /** Files an item that is not queued. */
  push(item: E, deadline: number): void {
    item.queuedUntil = deadline;
    item.queueIndex = this.heap.length;
    this.heap.push(item);
    this.siftUp(item.queueIndex);
  }

  /** Files a queued item under a new deadline, earlier or later. */
  reschedule(item: E, deadline: number): void {
    const i = item.queueIndex;
    if (i < 0) return;
    const earlier = deadline < item.queuedUntil;
    item.queuedUntil = deadline;
    if (earlier) this.siftUp(i);
    else this.siftDown(i);
  }

  /** Takes an item out of the queue; no-op if it is not queued. */
  remove(item: E): void {
    const i = item.queueIndex;
    if (i < 0) return;
    const last = this.heap.pop()!;
    item.queueIndex = -1;
    if (last === item) return;
    this.heap[i] = last;
    last.queueIndex = i;
    this.siftDown(i);
    this.siftUp(last.queueIndex);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.queuedUntil <= item.queuedUntil) break;
      heap[i] = parent;
      parent.queueIndex = i;
      i = parentIndex;
    }
    heap[i] = item;
    item.queueIndex = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.queuedUntil < heap[left]!.queuedUntil ? right : left;
      const smallest = heap[child]!;
      if (smallest.queuedUntil >= item.queuedUntil) break;
      heap[i] = smallest;
      smallest.queueIndex = i;
      i = child;
    }
    heap[i] = item;
    item.queueIndex = i;
  }
}
