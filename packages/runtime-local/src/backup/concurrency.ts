/** Bounded parallelism for backup and restore work. */

/** A small counting semaphore. */
export function limiter(max: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return {
    async acquire() {
      if (active < max) {
        active++;
        return;
      }
      await new Promise<void>((r) => waiting.push(r));
    },
    release() {
      const next = waiting.shift();
      if (next) next();
      else active--;
    },
  };
}

/** Runs `work` over `items` with at most `n` at a time; the first error stops new work and is thrown. */
export async function eachLimit<T>(
  items: readonly T[],
  n: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  const runner = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, runner));
  if (failed !== undefined) throw failed instanceof Error ? failed : new Error('a backup worker failed');
}
