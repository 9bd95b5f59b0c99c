/**
 * SIGIO as an event: the virtio console driver raises it on a port with O_ASYNC set when
 * the host connects or disconnects (and when data arrives). Signals coalesce, so waiters
 * compare a counter instead of counting deliveries, and re-check what they wait for.
 */
export class SigioWatch {
  private seen = 0;
  private readonly waiters = new Set<() => void>();
  private installed = false;

  /** How many SIGIOs arrived so far (read it before checking the condition). */
  get count(): number {
    return this.seen;
  }

  /**
   * Resolves once a SIGIO arrived after `count` was `seen` (at once if one already did),
   * or after `fallbackMs` (a safety net: the caller re-checks either way).
   */
  after(seen: number, fallbackMs: number): Promise<void> {
    this.install();
    if (this.seen !== seen) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, fallbackMs);
      this.waiters.add(done);
    });
  }

  /** Installs the handler; must happen before any fd gets O_ASYNC (SIGIO's default kills). */
  install(): void {
    if (this.installed) return;
    this.installed = true;
    process.on('SIGIO', () => {
      this.seen++;
      for (const wake of [...this.waiters]) wake();
    });
  }

  /** Wakes every waiter (shutdown). */
  wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
