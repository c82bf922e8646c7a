/**
 * The workflows the time-skipping harness bundles: the real ones, and a clock keeper of its own.
 *
 * The time-skipping server gives every workflow started without timeouts a run timeout of ten years, and when a
 * client awaits a result it skips straight to the next timer whenever nothing runs. A result's wait unlocks
 * skipping until the client locks it again, a moment after the workflow closed: if an idle environment
 * workflow (no timer of its own) is all that is left then, the clock jumps ten years and the environment
 * times out, and the next deploy starts a fresh one with an empty ledger. The keeper's timer bounds any
 * such jump to one step.
 */
import { continueAsNew, sleep } from '@temporalio/workflow';

export * from '../../src/workflows/index.js';

/** How far the clock may run past the end of an awaited workflow before something wakes. */
export const CLOCK_KEEPER_STEP_MS = 60 * 60_000;

export async function clockKeeper(): Promise<void> {
  // A bounded history: a week of skipped time is 168 steps.
  for (let i = 0; i < 1000; i++) await sleep(CLOCK_KEEPER_STEP_MS);
  await continueAsNew<typeof clockKeeper>();
}
