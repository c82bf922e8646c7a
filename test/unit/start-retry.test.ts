/** When a release start is sent again, and how long it waits first (pure; see src/policy/start-retry.ts). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  isRetryableStartCode,
  RELEASE_START_MS,
  retryStartAfter,
  startRetryDelay,
} from '../../src/policy/start-retry.js';

describe('release start retries', () => {
  it('retries a deadline, an exhausted resource and an unavailable server; nothing else', () => {
    expect([4, 8, 14].map(isRetryableStartCode)).toEqual([true, true, true]);
    // OK, CANCELLED, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION, INTERNAL
    expect([0, 1, 3, 5, 6, 7, 9, 13, undefined].some(isRetryableStartCode)).toBe(false);
  });

  it('waits between half and all of a capped, doubling step, so starts that failed together spread out', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, r) => {
          const cap = Math.min(4000, 200 * 2 ** (attempt - 1));
          const d = startRetryDelay(attempt, r);
          expect(d).toBeGreaterThanOrEqual(cap / 2);
          expect(d).toBeLessThanOrEqual(cap);
        },
      ),
    );
    expect(startRetryDelay(1, 0)).toBe(100);
    expect(startRetryDelay(3, 0.999999)).toBe(800);
    expect(startRetryDelay(20, 0)).toBe(2000);
  });

  it('never sleeps past the overall bound, however many attempts failed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: RELEASE_START_MS }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, elapsed, r) => {
          const delay = retryStartAfter(4, attempt, elapsed, RELEASE_START_MS, r);
          if (delay !== null) expect(elapsed + delay).toBeLessThan(RELEASE_START_MS);
          else expect(elapsed + startRetryDelay(attempt, r)).toBeGreaterThanOrEqual(RELEASE_START_MS);
        },
      ),
    );
    expect(retryStartAfter(9, 1, 0, RELEASE_START_MS, 0.5)).toBeNull();
  });
});
