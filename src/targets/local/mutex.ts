// Keyed by environment folder at module level, so two LocalTarget objects in one process (an old one and one
// that adopted the data plane) still take turns.
const tails = new Map<string, Promise<unknown>>();

/** Runs fn after every earlier call with the same key has settled. */
export function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = tails.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  tails.set(key, tail);
  void tail.then(() => {
    if (tails.get(key) === tail) tails.delete(key);
  });
  return run;
}
