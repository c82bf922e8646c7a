/**
 * Follows a release by polling its status query until the awaited environment is done, the release ends, or
 * the deadline passes. Transient server errors are retried until the deadline; the deadline never cancels the
 * release.
 */
import type { ReleaseStatus } from '../../workflows/types.js';

export interface FollowOptions {
  /** Epoch milliseconds after which following stops. */
  deadline: number;
  intervalMs: number;
  /** Whether following is done (the awaited environment succeeded, or the release ended). */
  done: (s: ReleaseStatus) => boolean;
  /** Called with every status read, after `first`. */
  onStatus?: (s: ReleaseStatus) => void;
  /** Called when a read failed with an error worth retrying. */
  onRetry?: (err: Error) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface FollowResult {
  status: ReleaseStatus;
  timedOut: boolean;
}

/** gRPC codes that say "try again": DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE. */
const RETRYABLE_CODES = new Set([4, 8, 14]);

export function isRetryable(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (typeof e.code === 'number' && RETRYABLE_CODES.has(e.code)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

export async function follow(
  read: (deadline: number) => Promise<ReleaseStatus>,
  first: ReleaseStatus,
  opts: FollowOptions,
): Promise<FollowResult> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let status = first;
  for (;;) {
    if (opts.done(status)) return { status, timedOut: false };
    const left = opts.deadline - now();
    if (left <= 0) return { status, timedOut: true };
    await sleep(Math.min(opts.intervalMs, left));
    if (opts.deadline - now() <= 0) return { status, timedOut: true };
    try {
      // One read never runs past the deadline, nor longer than 30 s.
      status = await read(Math.min(opts.deadline, now() + 30_000));
      opts.onStatus?.(status);
    } catch (err) {
      if (!isRetryable(err)) throw err;
      opts.onRetry?.(err as Error);
    }
  }
}
