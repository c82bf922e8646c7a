/**
 * Following a release: read its status until the awaited environment is done, the release ends, or the
 * deadline passes. The one loop behind `release --wait`, the GitHub Action, the demo, tests and scripts.
 * Transient server errors are retried until the deadline (without one, they are thrown at once); the deadline
 * never cancels the release.
 */
import { TERMINAL_STATES, type ReleaseStatus } from '../workflows/types.js';
import { EXIT, type ExitCode } from '../protocol/failures.js';
import { isTransient } from './errors.js';

export interface FollowOptions {
  /**
   * An environment's name: following ends once it succeeded. Or any condition on the status. Either way,
   * following ends when the release ends.
   */
  until: string | ((s: ReleaseStatus) => boolean);
  /** Epoch milliseconds after which following stops with `timedOut`; none means follow until done. */
  deadline?: number;
  /** Between reads; default 250 ms. */
  intervalMs?: number;
  /** Called with every status this loop reads (not with `first`). */
  onStatus?: (s: ReleaseStatus) => void;
  /** Called when a read failed with an error worth retrying. */
  onRetry?: (err: Error) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface FollowResult {
  status: ReleaseStatus;
  /** The deadline passed before the release got there. */
  timedOut: boolean;
}

/** One read never runs past the deadline, nor longer than this. */
const MAX_READ_MS = 30_000;

export function isTerminal(s: ReleaseStatus): boolean {
  return TERMINAL_STATES.includes(s.state);
}

/** Whether the release is done with `env`: that environment succeeded, or the release ended. */
export function environmentDone(env: string) {
  return (s: ReleaseStatus) => s.environments[env]?.state === 'succeeded' || isTerminal(s);
}

/** The condition `until` stands for, always including the release's end. */
export function followCondition(until: FollowOptions['until']): (s: ReleaseStatus) => boolean {
  if (typeof until === 'string') return environmentDone(until);
  return (s) => until(s) || isTerminal(s);
}

/**
 * Follows from `first` (or from a first read), reading through `read`, which is given the epoch ms by which
 * its answer is due (undefined: no bound).
 */
export async function followStatus(
  read: (due: number | undefined) => Promise<ReleaseStatus>,
  first: ReleaseStatus | undefined,
  opts: FollowOptions,
): Promise<FollowResult> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const done = followCondition(opts.until);
  const deadline = opts.deadline ?? Infinity;
  const interval = opts.intervalMs ?? 250;
  const due = () => (deadline === Infinity ? undefined : Math.min(deadline, now() + MAX_READ_MS));

  let status = first;
  let lastError: unknown;
  for (let attempt = 0; ; attempt++) {
    if (status && done(status)) return { status, timedOut: false };
    // Every read but an immediate first one waits its turn, and none starts past the deadline.
    if (status || attempt > 0) {
      const left = deadline - now();
      if (left > 0) await sleep(Math.min(interval, left));
      if (deadline - now() <= 0) {
        if (status) return { status, timedOut: true };
        throw lastError;
      }
    }
    try {
      status = await read(due());
      opts.onStatus?.(status);
    } catch (err) {
      if (deadline === Infinity || !isTransient(err)) throw err;
      lastError = err;
      opts.onRetry?.(err as Error);
    }
  }
}

/**
 * The exit code a caller that waited for `env` ends with: 0 when it succeeded (or the whole release did),
 * 1 when the release ended otherwise, null while it is still on its way.
 */
export function exitCodeForWait(s: ReleaseStatus, env: string): ExitCode | null {
  if (s.environments[env]?.state === 'succeeded') return EXIT.ok;
  if (isTerminal(s)) return s.state === 'succeeded' ? EXIT.ok : EXIT.failed;
  return null;
}
