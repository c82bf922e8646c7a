/**
 * The environment ledger: what was deployed or restored, by whom, and how it ended. Pure rules for choosing
 * what a rollback may restore, for opening an entry and for settling it, one function per outcome.
 */
import type { ProofRef } from '../protocol/proof-record.js';

/** adopt: what ran (changed outside shipgate) was taken as current; nothing was started. */
export type LedgerAction = 'deploy' | 'rollback' | 'adopt';
export type LedgerOutcome = 'running' | 'succeeded' | 'failed' | 'rolled-back';

export interface LedgerEntry {
  opId: string;
  action: LedgerAction;
  version: string;
  /** Opaque reference to the built artifact, handed to the target as the build returned it. */
  artifact: string;
  commit: string | null;
  actor: string;
  approvers: string[];
  reason: string | null;
  fromVersion: string | null;
  outcome: LedgerOutcome;
  /** Set once the version passed verification here, even if it was later rolled back from. */
  verifiedAt: string | null;
  releaseId: string | null;
  automatic: boolean;
  requestedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  failure: string | null;
  /**
   * The proofs behind it: a deploy's approvals, a requested rollback's requester (digests only; the audit
   * records and the workflows' histories keep the proofs). Absent from entries made before proofs.
   */
  proofs?: ProofRef[];
  /** The content digest the target reported it runs (`sha256:...`), where it reports one. */
  digest?: string;
}

/** Versions that passed verification on this environment, newest first, each once. */
export function knownGoodVersions(ledger: readonly LedgerEntry[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = ledger.length - 1; i >= 0; i--) {
    const e = ledger[i]!;
    if (e.verifiedAt !== null && !seen.has(e.version)) {
      seen.add(e.version);
      out.push(e.version);
    }
  }
  return out;
}

export type RollbackChoice =
  { ok: true; to: string; artifact: string } | { ok: false; reason: string; candidates: string[] };

/**
 * With no `to`: the newest version that succeeded here before the current one and was not since rolled back
 * from. With `to`: any version that once passed verification here, other than the one serving.
 */
export function chooseRollbackTarget(
  ledger: readonly LedgerEntry[],
  current: string | null,
  to?: string,
): RollbackChoice {
  const good = knownGoodVersions(ledger).filter((v) => v !== current);
  const artifactOf = (v: string) =>
    [...ledger].reverse().find((e) => e.version === v && e.verifiedAt !== null)!.artifact;
  if (to !== undefined) {
    if (to === current) return { ok: false, reason: `${to} is already serving`, candidates: good };
    if (!good.includes(to)) {
      const failed = ledger.some((e) => e.version === to);
      return {
        ok: false,
        reason: failed
          ? `${to} never passed verification here, so it cannot be restored`
          : `${to} was never deployed here`,
        candidates: good,
      };
    }
    return { ok: true, to, artifact: artifactOf(to) };
  }
  const currentIndex = lastIndexWhere(ledger, (e) => e.version === current && e.outcome !== 'failed');
  for (let i = currentIndex - 1; i >= 0; i--) {
    const e = ledger[i]!;
    if (e.outcome === 'succeeded' && e.version !== current)
      return { ok: true, to: e.version, artifact: e.artifact };
  }
  return {
    ok: false,
    reason:
      current === null
        ? 'nothing has been deployed here yet'
        : `no version older than ${current} succeeded here`,
    candidates: good,
  };
}

function lastIndexWhere<T>(items: readonly T[], pred: (t: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (pred(items[i]!)) return i;
  return items.length;
}

/** Keeps the newest `size` entries, but never drops one still running. */
export function trimLedger(ledger: LedgerEntry[], size: number): LedgerEntry[] {
  if (ledger.length <= size) return ledger;
  const drop = ledger.length - size;
  const kept = ledger.slice(drop);
  const running = ledger.slice(0, drop).filter((e) => e.outcome === 'running');
  return [...running, ...kept];
}

// ---- entries: opened when an operation starts, settled once when it ends ----

export type NewEntry = Partial<LedgerEntry> &
  Pick<LedgerEntry, 'opId' | 'action' | 'version' | 'artifact' | 'actor'>;

/** A running entry; `fromVersion` defaults to what serves when it opens, and both times to `at`. */
export function openEntry(fields: NewEntry, serving: string | null, at: string): LedgerEntry {
  return {
    commit: null,
    approvers: [],
    reason: null,
    fromVersion: serving,
    outcome: 'running',
    verifiedAt: null,
    releaseId: null,
    automatic: false,
    requestedAt: at,
    startedAt: at,
    endedAt: null,
    failure: null,
    ...fields,
  };
}

/** How an operation ended, as the ledger records it. */
export type Settlement =
  /** The version started and passed verification here. */
  | { kind: 'verified' }
  /** The version could not start, or (for a restore) failed its checks. */
  | { kind: 'failed'; failure: string }
  /** A rollback cancelled the deploy before it finished. */
  | { kind: 'preempted'; by: string | null; version: string }
  /** The deploy started but failed verification; compensation, if any, follows. */
  | { kind: 'verification-failed'; version: string; env: string; detail: string }
  /** The automatic rollback after failed verification put `to` back, or failed with `failure`. */
  | { kind: 'compensated'; to: string; restored: boolean; failure: string | null }
  /** Automatic rollback was due, but nothing had served before. */
  | { kind: 'nothing-to-restore' };

/** The fields a settlement changes on `entry` at time `at` (pure: the caller applies them). */
export function settlement(entry: LedgerEntry, s: Settlement, at: string): Partial<LedgerEntry> {
  switch (s.kind) {
    case 'verified':
      return { outcome: 'succeeded', verifiedAt: at, endedAt: at };
    case 'failed':
      return { outcome: 'failed', failure: s.failure, endedAt: at };
    case 'preempted':
      return {
        outcome: 'failed',
        failure: `preempted: ${s.by ?? 'a rollback'} cancelled the deploy of ${s.version}`,
        endedAt: at,
      };
    case 'verification-failed':
      return {
        outcome: 'failed',
        failure: `verification of ${s.version} on ${s.env} failed: ${s.detail}`,
        endedAt: at,
      };
    case 'compensated':
      return s.restored
        ? { outcome: 'rolled-back', failure: `${entry.failure}; rolled back to ${s.to}` }
        : { failure: `${entry.failure}; automatic rollback to ${s.to} failed: ${s.failure}` };
    case 'nothing-to-restore':
      return { failure: `${entry.failure}; no earlier version to roll back to` };
  }
}

/**
 * The entry a successful restore marks as rolled back from: the newest succeeded entry of `version`, or -1.
 * The restore's own entry counts too, so restoring the version that still serves marks itself.
 */
export function rolledBackFromIndex(ledger: readonly LedgerEntry[], version: string | null): number {
  if (!version) return -1;
  for (let i = ledger.length - 1; i >= 0; i--) {
    const e = ledger[i]!;
    if (e.version === version && e.outcome === 'succeeded') return i;
  }
  return -1;
}

/** What a release is told once its deploy has settled (a missing entry reads as failed). */
export function deployOutcome(entry: LedgerEntry | undefined): {
  outcome: 'succeeded' | 'failed' | 'rolled-back';
  reason: string | undefined;
} {
  const outcome =
    entry?.outcome === 'succeeded'
      ? 'succeeded'
      : entry?.outcome === 'rolled-back'
        ? 'rolled-back'
        : 'failed';
  return { outcome, reason: entry?.failure ?? undefined };
}
