/** The environment ledger and the pure rules for choosing what a rollback may restore. */
export type LedgerAction = 'deploy' | 'rollback';
export type LedgerOutcome = 'running' | 'succeeded' | 'failed' | 'rolled-back';

export interface LedgerEntry {
  opId: string;
  action: LedgerAction;
  version: string;
  artifactDir: string;
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
  { ok: true; to: string; artifactDir: string } | { ok: false; reason: string; candidates: string[] };

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
    [...ledger].reverse().find((e) => e.version === v && e.verifiedAt !== null)!.artifactDir;
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
    return { ok: true, to, artifactDir: artifactOf(to) };
  }
  const currentIndex = lastIndexWhere(ledger, (e) => e.version === current && e.outcome !== 'failed');
  for (let i = currentIndex - 1; i >= 0; i--) {
    const e = ledger[i]!;
    if (e.outcome === 'succeeded' && e.version !== current)
      return { ok: true, to: e.version, artifactDir: e.artifactDir };
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
