import { describe, expect, it } from 'vitest';
import {
  anchorOf,
  anchorText,
  AUDIT_RETRY_FIRST_MS,
  AUDIT_RETRY_MAX_MS,
  auditRetryDelayMs,
  degradedAfter,
  degradedText,
} from '../../src/policy/audit-delivery.js';

const AT = '2026-12-02T10:00:00.000Z';

describe('audit delivery', () => {
  it('waits longer after each failed delivery, up to a minute', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(auditRetryDelayMs)).toEqual([
      2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000,
    ]);
    expect(auditRetryDelayMs(0)).toBe(AUDIT_RETRY_FIRST_MS);
    expect(auditRetryDelayMs(1e9)).toBe(AUDIT_RETRY_MAX_MS);
  });

  it('takes the anchor from an append that answers the chain head, and none from older answers', () => {
    const hash = 'ab'.repeat(32);
    expect(anchorOf({ written: 2, head: { seq: 7, hash } }, AT)).toEqual({ seq: 7, hash, at: AT });
    // Recorded histories hold a bare count: no anchor, and no failure either.
    expect(anchorOf(2, AT)).toBeNull();
    expect(anchorOf(undefined, AT)).toBeNull();
    expect(anchorOf({ written: 1 }, AT)).toBeNull();
    expect(anchorOf({ head: { seq: -1, hash } }, AT)).toBeNull();
    expect(anchorOf({ head: { seq: 1.5, hash } }, AT)).toBeNull();
    expect(anchorOf({ head: { seq: 1, hash: 3 } }, AT)).toBeNull();
  });

  it('is degraded since the first failure, with the latest error and how many tries failed', () => {
    const first = degradedAfter(null, 3, 'EISDIR: illegal operation on a directory', AT);
    expect(first).toEqual({
      since: AT,
      waiting: 3,
      lastError: 'EISDIR: illegal operation on a directory',
      attempts: 1,
    });
    const later = degradedAfter(first, 5, 'x'.repeat(1000), '2026-12-02T10:05:00.000Z');
    expect(later).toMatchObject({ since: AT, waiting: 5, attempts: 2 });
    expect(later.lastError).toHaveLength(300);
    expect(degradedText(first)).toBe(
      `audit degraded since ${AT}: 3 records waiting to be written, retried 1 time(s) (last error: EISDIR: illegal operation on a directory)`,
    );
    expect(degradedText({ ...first, waiting: 1 })).toContain(': 1 record waiting');
    expect(anchorText({ seq: 12, hash: 'c0de'.repeat(16), at: AT })).toBe(
      `audit anchored at #12 c0dec0dec0de (at ${AT})`,
    );
  });
});
