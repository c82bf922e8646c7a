/**
 * When a release start may be sent again. A busy server or worker answers an update-with-start with
 * DEADLINE_EXCEEDED ("context deadline exceeded"), RESOURCE_EXHAUSTED or UNAVAILABLE although the request may
 * have been taken; sending the same request again is safe because it names the same workflow id (conflict
 * policy USE_EXISTING) and the same admit Update id, which Temporal deduplicates within the run.
 */

/** gRPC DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and UNAVAILABLE: the server did not answer in time, or was busy. */
const RETRYABLE_START_CODES: ReadonlySet<number> = new Set([4, 8, 14]);

/** How long a release start keeps trying, all attempts together (each one is also bound by NO_WORKER_MS). */
export const RELEASE_START_MS = 60_000;
const FIRST_DELAY_MS = 200;
const MAX_DELAY_MS = 4_000;

export function isRetryableStartCode(code: number | undefined): boolean {
  return code !== undefined && RETRYABLE_START_CODES.has(code);
}

/**
 * The pause before attempt `attempt + 1` (attempt counts from 1): exponential, capped, with "equal jitter"
 * (half fixed, half random) so that hundreds of starts that failed together do not all come back together.
 * `random` is in [0, 1).
 */
export function startRetryDelay(attempt: number, random: number): number {
  const cap = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + (cap / 2) * Math.min(Math.max(random, 0), 1));
}

/** Whether to try again after `attempt` failed now with gRPC `code`, within the overall bound `until` (epoch ms). */
export function retryStartAfter(
  code: number | undefined,
  attempt: number,
  now: number,
  until: number,
  random: number,
): number | null {
  if (!isRetryableStartCode(code)) return null;
  const delay = startRetryDelay(attempt, random);
  return now + delay < until ? delay : null;
}
