/**
 * The workflow worker's sticky cache: how many workflow runs it keeps in memory between their tasks. A cached
 * run takes its next task (an approval, an activity result) with no replay; an evicted one replays its history
 * first (a release waiting at a gate: some 40-60 events, a few ms of worker CPU). A release waiting for approval
 * costs about 0.25-0.3 MB while cached and nothing once evicted, so the cache, not the number of waiting
 * releases, bounds the worker's memory. 300 keeps every run that is busy at once cached (a burst of starts, and
 * per app an environment workflow with the release it is deploying, for 100+ apps) while 1,000 waiting releases
 * stay under 0.1 MB each. See docs/deploying.md, "Scale and tuning".
 */
export const DEFAULT_WORKFLOW_CACHE = 300;
/** The SDK's floor while caching at all: it needs room for two concurrent workflow tasks. */
const MIN_WORKFLOW_CACHE = 2;
const MAX_WORKFLOW_CACHE = 100_000;

/**
 * SHIPGATE_WORKFLOW_CACHE: a whole number of runs (MIN..MAX), or 0 to turn the cache off (every task replays).
 * Unset or empty: the default. Anything else is refused with a sentence naming the variable.
 */
export function workflowCacheSize(value: string | undefined): { size: number } | { error: string } {
  if (value === undefined || value.trim() === '') return { size: DEFAULT_WORKFLOW_CACHE };
  const text = value.trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (n === 0) return { size: 0 };
  if (!Number.isSafeInteger(n) || n < MIN_WORKFLOW_CACHE || n > MAX_WORKFLOW_CACHE)
    return {
      error: `SHIPGATE_WORKFLOW_CACHE must be 0 (no cache) or a whole number from ${MIN_WORKFLOW_CACHE} to ${MAX_WORKFLOW_CACHE}, got "${value}"`,
    };
  return { size: n };
}

/**
 * Workflow tasks the worker runs at once: the SDK's 40, but never more than the cache holds (the SDK requires it).
 */
export function workflowTaskSlots(cacheSize: number): number {
  return cacheSize === 0 ? 40 : Math.max(2, Math.min(40, cacheSize));
}
