/** Bounded concurrency for layer downloads and conversions. */
/**
 * Runs `fn` over `items` with at most `limit` at a time. The first failure aborts the
 * others (through the signal) and is rethrown once every task has settled.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, signal: AbortSignal) => Promise<R>): Promise<R[]> {
  const ctrl = new AbortController();
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { err: unknown } | null = null;
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, ctrl.signal);
      } catch (err) {
        failure ??= { err };
        ctrl.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw (failure as { err: unknown }).err;
  return results;
}

/** A place in an `orderedLimiter`'s queue: run once, or release it unused. */
export interface Ticket {
  run<R>(fn: () => Promise<R>): Promise<R>;
  /** Gives the place up if it was never run (idempotent). */
  release(): void;
}

/**
 * A semaphore that grants its `limit` slots in the order tickets were taken, not in the
 * order callers arrive at `run`: layers are downloaded bottom first even though each
 * caller does some async work before it downloads. A released (unused) ticket is skipped.
 */
export function orderedLimiter(limit: number): { ticket(): Ticket } {
  let active = 0;
  let next = 0;
  let issued = 0;
  // ticket number → what to do on its turn: start it (takes a slot) or skip it (released).
  const turns = new Map<number, { takesSlot: boolean; go: () => void }>();
  const pump = () => {
    for (let turn = turns.get(next); turn && (!turn.takesSlot || active < limit); turn = turns.get(next)) {
      turns.delete(next++);
      if (turn.takesSlot) active++;
      turn.go();
    }
  };
  return {
    ticket() {
      const n = issued++;
      let used = false;
      return {
        async run(fn) {
          if (used) throw new Error('Assertion failed: a ticket runs once');
          used = true;
          await new Promise<void>((go) => {
            turns.set(n, { takesSlot: true, go });
            pump();
          });
          try {
            return await fn();
          } finally {
            active--;
            pump();
          }
        },
        release() {
          if (used) return;
          used = true;
          turns.set(n, { takesSlot: false, go: () => undefined });
          pump();
        },
      };
    },
  };
}
