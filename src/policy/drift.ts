/**
 * Drift, pure: what runs differs from what the environment's ledger says serves, because someone changed it
 * outside shipgate (`kubectl set image`, a Deployment scaled to zero, a Service selector patched by hand).
 * These rules say which environments are checked, when a finding is new (each distinct drift is recorded once,
 * not at every check), whether it holds deploys, and what adopting the live state records. The environment
 * workflow holds the state and reaches the target through activities.
 */
import type { DriftFinding, ExpectedState, TargetConfig } from '../targets/types.js';
import type {
  DriftRecord,
  DriftResolution,
  DriftSettings,
  GateVerdict,
  OnDrift,
} from '../workflows/types.js';
import type { LedgerEntry } from './ledger.js';
import type { ProofRef } from '../protocol/proof-record.js';

/** How many drift records an environment keeps (and carries) for history. */
export const DRIFT_LOG_SIZE = 50;

/** Who acts when the environment itself does something about drift. */
export const SHIPGATE = 'shipgate';

/**
 * Whether an environment's target can drift. Local processes run only what shipgate starts; every other kind
 * is shared with people who hold credentials to it. A deploy requested before targets had kinds (no target
 * block) was local.
 */
export function driftCheckable(target: TargetConfig | undefined): boolean {
  return target !== undefined && target.kind !== 'local';
}

const findingKey = (f: DriftFinding) => JSON.stringify([f.what, f.object, f.expected, f.actual]);

/** Whether two checks found the same differences, in whatever order. */
export function sameFindings(a: readonly DriftFinding[], b: readonly DriftFinding[]): boolean {
  if (a.length !== b.length) return false;
  const left = a.map(findingKey).sort();
  const right = b.map(findingKey).sort();
  return left.every((k, i) => k === right[i]);
}

/** What a check's findings mean, given the drift in force (if any). */
export type DriftStep =
  /** Nothing differs and no drift was in force. */
  | { kind: 'none' }
  /** The drift in force, seen again: it is recorded once. */
  | { kind: 'same' }
  /** The drift in force no longer shows: what runs matches the ledger again. */
  | { kind: 'gone' }
  /** A drift to record (one in force with other findings, or against another ledger entry, is replaced). */
  | { kind: 'new' };

export function driftStep(
  open: DriftRecord | null,
  expected: ExpectedState,
  findings: readonly DriftFinding[],
): DriftStep {
  if (findings.length === 0) return open ? { kind: 'gone' } : { kind: 'none' };
  if (
    open &&
    open.expected.version === expected.version &&
    open.expected.artifact === expected.artifact &&
    sameFindings(open.findings, findings)
  )
    return { kind: 'same' };
  return { kind: 'new' };
}

/** Most findings a record keeps, and the longest text of each: what a target reports is bounded in history. */
const MAX_FINDINGS = 20;
const MAX_FINDING_TEXT = 300;

/** Findings as a record keeps them: at most MAX_FINDINGS, each text cut to MAX_FINDING_TEXT characters. */
export function boundFindings(findings: readonly DriftFinding[]): DriftFinding[] {
  const cut = (t: string) => (t.length > MAX_FINDING_TEXT ? `${t.slice(0, MAX_FINDING_TEXT - 1)}…` : t);
  return findings.slice(0, MAX_FINDINGS).map((f) => ({
    what: f.what,
    object: cut(String(f.object)),
    expected: cut(String(f.expected)),
    actual: cut(String(f.actual)),
  }));
}

/** A newly found drift's record. */
export function newDrift(
  seq: number,
  expected: ExpectedState,
  findings: readonly DriftFinding[],
  onDrift: OnDrift,
  at: string,
): DriftRecord {
  return {
    id: `drift-${seq}`,
    at,
    expected: { version: expected.version, artifact: expected.artifact },
    findings: findings.map((f) => ({ ...f })),
    onDrift,
    resolved: null,
  };
}

/** The newest DRIFT_LOG_SIZE records, oldest first; the one in force is never dropped. */
export function trimDriftLog(log: readonly DriftRecord[], size = DRIFT_LOG_SIZE): DriftRecord[] {
  if (log.length <= size) return [...log];
  const drop = log.length - size;
  return [...log.slice(0, drop).filter((d) => d.resolved === null), ...log.slice(drop)];
}

/** `deployment/checkout image: expected registry/checkout:1.2.0, found registry/checkout:hotfix`. */
export function describeFinding(f: DriftFinding): string {
  return `${f.object} ${f.what}: expected ${f.expected}, found ${f.actual}`;
}

export function describeFindings(findings: readonly DriftFinding[]): string {
  return findings.map(describeFinding).join('; ');
}

/** What the environment does next, for the drift record's reason, its notification and its history row. */
export function driftConsequence(onDrift: OnDrift, app: string, env: string): string {
  switch (onDrift) {
    case 'block':
      return `deploys to ${app}/${env} are held until someone runs \`shipgate adopt ${app} ${env}\` or a rollback succeeds (onDrift: block)`;
    case 'adopt':
      return 'shipgate takes what runs as current (onDrift: adopt)';
    case 'warn':
      return 'deploys go ahead (onDrift: warn)';
  }
}

/** Whether the drift in force holds deploys under the environment's live onDrift. */
export function holdsDeploys(open: DriftRecord | null | undefined, onDrift: OnDrift): boolean {
  return !!open && open.resolved === null && onDrift === 'block';
}

/**
 * The gate verdict for drift that holds deploys, or null. It lasts until someone adopts or rolls back, so it
 * names no end; an override never skips it (the environment holds the deploy itself).
 */
export function driftHold(
  open: DriftRecord | null | undefined,
  onDrift: OnDrift,
  app: string,
  env: string,
): GateVerdict | null {
  if (!open || !holdsDeploys(open, onDrift)) return null;
  const what = describeFindings(open.findings);
  return {
    allowed: false,
    blockedBy: `drift: ${what}`,
    until: null,
    reason: `${app}/${env} runs something its ledger does not say (changed outside shipgate since ${open.at}): ${what}; ${driftConsequence('block', app, env)}`,
    kind: 'drift',
  };
}

/** When the next periodic check is due (epoch ms), or null when this environment is not checked. */
export function nextDriftCheck(
  settings: DriftSettings | null,
  hasCurrent: boolean,
  nowMs: number,
): number | null {
  if (!settings || !hasCurrent || !driftCheckable(settings.target)) return null;
  return nowMs + settings.intervalMs;
}

/** How a drift ends when shipgate itself puts a version in place (a deploy's or a rollback's activation). */
export function activationResolution(
  action: LedgerEntry['action'],
  by: string,
  version: string,
  at: string,
): DriftResolution {
  return { at, how: action === 'rollback' ? 'rolled-back' : 'deployed', by, version };
}

/** Whether adopting the live state goes ahead, and which drift it ends. */
export type AdoptDecision = { ok: true; resolves: DriftRecord | null } | { ok: false; reason: string };

/**
 * Adopting takes what runs as the ledger's current entry. With drift in force, it ends it. Without one it is
 * still allowed when what runs differs from the ledger (drift not noticed yet) or nothing was deployed here
 * (taking over what already runs), and refused when what runs is what the ledger says: nothing to adopt.
 */
export function adoptDecision(
  current: ExpectedState | null,
  open: DriftRecord | null,
  live: ExpectedState,
  app: string,
  env: string,
): AdoptDecision {
  if (open && open.resolved === null) return { ok: true, resolves: open };
  if (current && current.version === live.version && current.artifact === live.artifact)
    return {
      ok: false,
      reason: `nothing to adopt: ${app}/${env} runs ${live.version} (${live.artifact}), as its ledger says`,
    };
  return { ok: true, resolves: null };
}

/** The ledger entry adopting records: settled at once, succeeded, and never verified (shipgate ran no checks). */
export function adoptEntry(
  fields: {
    opId: string;
    live: ExpectedState;
    from: string | null;
    actor: string;
    reason: string;
    automatic: boolean;
    proofs?: ProofRef[];
  },
  at: string,
): LedgerEntry {
  return {
    opId: fields.opId,
    action: 'adopt',
    version: fields.live.version,
    artifact: fields.live.artifact,
    commit: null,
    actor: fields.actor,
    approvers: [],
    reason: fields.reason,
    fromVersion: fields.from,
    outcome: 'succeeded',
    verifiedAt: null,
    releaseId: null,
    automatic: fields.automatic,
    requestedAt: at,
    startedAt: at,
    endedAt: at,
    failure: null,
    ...(fields.proofs ? { proofs: fields.proofs } : {}),
  };
}

/** The reason an automatic adoption records. */
export const automaticAdoptReason = (findings: readonly DriftFinding[]): string =>
  `automatic (onDrift: adopt): ${describeFindings(findings)}`;

/** The op id of an adoption: from the client's request id when it gave one, so a retry finds the first. */
export const adoptRequestKey = (requestId: string | undefined): string | null =>
  requestId ? `adopt:${requestId}` : null;
