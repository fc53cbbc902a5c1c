/** A FIFO semaphore over bytes. Every request is at most the capacity. */
export class ByteBudget {
  private available: number;
  private readonly queue: Array<{ n: number; grant: () => void }> = [];

  constructor(readonly capacity: number) {
    this.available = capacity;
  }

  acquire(n: number, signal: AbortSignal): Promise<void> {
    n = Math.min(n, this.capacity);
    signal.throwIfAborted();
    if (this.queue.length === 0 && n <= this.available) {
      this.available -= n;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const entry = {
        n,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.queue.indexOf(entry);
        if (i >= 0) this.queue.splice(i, 1);
        this.drain();
        reject(signal.reason);
      };
      this.queue.push(entry);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(n: number): void {
    this.available += Math.min(n, this.capacity);
    this.drain();
  }

  private drain(): void {
    while (this.queue.length > 0 && this.queue[0]!.n <= this.available) {
      const e = this.queue.shift()!;
      this.available -= e.n;
      e.grant();
    }
  }
}
