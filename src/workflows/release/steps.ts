/**
 * The release's pipeline steps are generators: a step yields each promise it waits on (`yield* wait(p)` where an
 * async function would `await p`), and the workflow function awaits it in its own frame and resumes the step
 * with the result. Unlike returning from an async function, moving from one step to the next (or to the end)
 * then takes no extra microtask turn. The audit and card loops run alongside the pipeline, so extra turns could
 * reorder commands against the histories of running releases; with generators every command is issued at the
 * same turn as before the steps existed.
 */
import type { Ending } from '../../policy/release-decisions.js';

/** A pipeline step: yields the promises it waits on; returns how the release ends, or null to go on. */
export type Step<R = Ending | null> = Generator<Promise<unknown>, R, unknown>;

/** A step's `await`. */
export function* wait<T>(promise: Promise<T>): Step<T> {
  // The driver resumes the step with exactly what `promise` resolved to.
  return (yield promise) as T;
}
