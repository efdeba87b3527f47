/**
 * Runs work items in order per key (a topic partition) and up to `concurrency` keys at once,
 * the way a consumer must handle records: one partition's records one after another, several
 * partitions side by side. Knows nothing of Kafka; unit-tested on its own.
 */
export class PartitionQueues<T> {
  private readonly pending = new Map<string, T[]>();
  /** Keys with pending items and no item running, in the order they became ready. */
  private readonly ready: string[] = [];
  private readonly running = new Set<string>();
  private count = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly run: (item: T, key: string) => Promise<void>,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(`concurrency must be a whole number ≥ 1, not ${concurrency}`);
    }
  }

  /** Items queued or running. */
  get size(): number {
    return this.count;
  }

  push(key: string, item: T): void {
    let items = this.pending.get(key);
    if (items === undefined) {
      items = [];
      this.pending.set(key, items);
      if (!this.running.has(key)) this.ready.push(key);
    }
    items.push(item);
    this.count += 1;
    this.drain();
  }

  /** Drops every item not yet started; running ones finish. */
  clear(): void {
    for (const items of this.pending.values()) this.count -= items.length;
    this.pending.clear();
    this.ready.length = 0;
    this.notifyIdle();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(): void {
    while (this.running.size < this.concurrency) {
      const key = this.ready.shift();
      if (key === undefined) return;
      const item = this.takeNext(key);
      if (item === undefined) continue;
      this.running.add(key);
      void this.runOne(key, item);
    }
  }

  /** Runs `item`, then the key's next items for as long as no other key waits for a turn. */
  private async runOne(key: string, first: T): Promise<void> {
    let item: T | undefined = first;
    while (item !== undefined) {
      try {
        await this.run(item, key);
      } catch {
        // `run` owns its errors (retries, logging); a throw here must not stop the queue.
      }
      this.count -= 1;
      item = this.ready.length === 0 ? this.takeNext(key) : undefined;
    }
    this.running.delete(key);
    if (this.pending.has(key)) this.ready.push(key); // behind the keys already waiting
    this.drain();
    this.notifyIdle();
  }

  private takeNext(key: string): T | undefined {
    const items = this.pending.get(key);
    const item = items?.shift();
    if (items?.length === 0) this.pending.delete(key);
    return item;
  }

  private notifyIdle(): void {
    if (this.count !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
