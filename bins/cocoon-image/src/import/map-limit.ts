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

/** A semaphore: `run(fn)` waits until fewer than `limit` runs are active. */
export function limiter(limit: number): { run<R>(fn: () => Promise<R>): Promise<R> } {
  let active = 0;
  const waiting: Array<() => void> = [];
  return {
    async run(fn) {
      if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      active++;
      try {
        return await fn();
      } finally {
        active--;
        waiting.shift()?.();
      }
    },
  };
}
