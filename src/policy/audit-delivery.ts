/**
 * Delivering audit records from a workflow to the audit store without ever holding up a deploy or a rollback:
 * how long to wait before trying again, what "audit degraded" says while records wait, and the anchor (the
 * chain head the store last answered) that the workflow keeps in its own history. Pure: the workflows'
 * AuditOutbox applies these.
 */

/**
 * The chain head the store returned for the workflow's last successful append, and when (workflow time). Kept
 * in workflow state, so Temporal history holds it where the store's writer cannot rewrite it.
 */
export interface AuditAnchor {
  seq: number;
  hash: string;
  at: string;
}

/** While records cannot be written: since when, how many wait, the last error and how many tries failed. */
export interface AuditDegraded {
  since: string;
  waiting: number;
  lastError: string;
  attempts: number;
}

/** First wait after a failed delivery; it doubles with each failure up to the cap. */
export const AUDIT_RETRY_FIRST_MS = 2_000;
export const AUDIT_RETRY_MAX_MS = 60_000;

/** How long to wait before the next delivery after `failures` failed ones in a row (1 or more). */
export function auditRetryDelayMs(failures: number): number {
  const n = Math.max(1, Math.min(failures, 16));
  return Math.min(AUDIT_RETRY_FIRST_MS * 2 ** (n - 1), AUDIT_RETRY_MAX_MS);
}

/**
 * The anchor an append's result gives: `{ written, head }` from stores that answer the chain's head, nothing
 * from older ones (recorded histories hold a bare count) or from a head that is not one.
 */
export function anchorOf(result: unknown, at: string): AuditAnchor | null {
  if (!result || typeof result !== 'object') return null;
  const head = (result as { head?: unknown }).head;
  if (!head || typeof head !== 'object') return null;
  const { seq, hash } = head as { seq?: unknown; hash?: unknown };
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || typeof hash !== 'string') return null;
  return { seq, hash, at };
}

/** Longest error text kept in state (and shown by status). */
const ERROR_TEXT = 300;

/** The state after a failed delivery: degraded since the first failure, with the latest error. */
export function degradedAfter(
  prior: AuditDegraded | null,
  waiting: number,
  error: string,
  at: string,
): AuditDegraded {
  return {
    since: prior?.since ?? at,
    waiting,
    lastError: error.slice(0, ERROR_TEXT),
    attempts: (prior?.attempts ?? 0) + 1,
  };
}

/** Undelivered records are carried across continue-as-new only while they fit well inside a payload. */
export const CARRY_LIMIT_CHARS = 1_000_000;

/** "audit degraded since …: 3 records waiting (last error: …)", as status and history print it. */
export function degradedText(d: AuditDegraded): string {
  const records = d.waiting === 1 ? '1 record' : `${d.waiting} records`;
  return `audit degraded since ${d.since}: ${records} waiting to be written, retried ${d.attempts} time(s) (last error: ${d.lastError})`;
}

/** "audit anchored at #12 3fa2…c0de (at …)". */
export function anchorText(a: AuditAnchor): string {
  return `audit anchored at #${a.seq} ${a.hash.slice(0, 12)} (at ${a.at})`;
}
