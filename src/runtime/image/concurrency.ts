// Bounded parallelism for layer work: unpacking is CPU- and disk-bound, so a few at a time.

/** Runs `action` over `items` with at most `limit` in flight; the first failure is rethrown after the rest settle. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, action: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const position = next++;
      try {
        results[position] = await action(items[position] as T, position);
      } catch (error) {
        if (!failed) failure = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failure;
  return results;
}
