/**
 * Pure decisions of the environment workflow: who may roll back, freeze, unfreeze and adopt; what a rollback starts
 * from and where it waits in the queue; whether a deploy request was seen before. The workflow holds the state
 * and makes the calls; these say what is allowed and why not.
 */
import type { Freeze } from './windows.js';
import type { LedgerEntry, RollbackChoice } from './ledger.js';

export type EnvironmentAction = 'rollback' | 'freeze' | 'unfreeze' | 'adopt';

/** The part of the environment's live policy that says who may act on it. */
export interface EnvironmentMembers {
  rollbackers: string[];
  rollbackersDescription: string;
  freezers: string[];
  freezersDescription: string;
}

export type PolicyLoad<P extends EnvironmentMembers> =
  { ok: true; policy: P } | { ok: false; message: string };

const VERB: Record<EnvironmentAction, string> = {
  rollback: 'roll back',
  freeze: 'freeze',
  unfreeze: 'unfreeze',
  adopt: 'adopt the live state of',
};

const isMember = (members: readonly string[], login: string) =>
  members.some((m) => m.toLowerCase() === login.toLowerCase());

/**
 * Whether `by` may take `action` on app/env under the policy just loaded. An unreadable policy refuses with its
 * own message. Logins compare case-insensitively.
 */
export function authorise<P extends EnvironmentMembers>(
  loaded: PolicyLoad<P>,
  action: EnvironmentAction,
  by: string,
  app: string,
  env: string,
): { ok: true; policy: P } | { ok: false; reason: string } {
  if (!loaded.ok) return { ok: false, reason: loaded.message };
  const { policy } = loaded;
  // Adopting the live state replaces the ledger's current entry, as a rollback does: the same people may.
  const [members, description] =
    action === 'rollback' || action === 'adopt'
      ? [policy.rollbackers, policy.rollbackersDescription]
      : [policy.freezers, policy.freezersDescription];
  if (!isMember(members, by))
    return { ok: false, reason: `${by} may not ${VERB[action]} ${app}/${env}: ${description}` };
  return { ok: true, policy };
}

/** Why a freeze until `until` cannot be made at `nowMs`, or null. */
export function freezeUntilProblem(until: string, nowMs: number): string | null {
  return Date.parse(until) <= nowMs ? `--until ${until} is in the past` : null;
}

/** Freezes still in force at `nowMs`. */
export function activeFreezes(freezes: readonly Freeze[], nowMs: number): Freeze[] {
  return freezes.filter((f) => Date.parse(f.until) > nowMs);
}

/** Why there is nothing to unfreeze, or null. */
export function unfreezeProblem(active: number, app: string, env: string): string | null {
  return active === 0 ? `${app}/${env} is not frozen` : null;
}

/** The queue as the rules see it: kind, and the version a rollback restores. */
export type QueuedOp = { kind: 'deploy'; version: string } | { kind: 'rollback'; to: string };

/**
 * What a new rollback rolls back from: what the last queued rollback will leave serving, else the deploy in
 * flight (rolling back means getting off it), else what serves now.
 */
export function rollbackBaseline(
  queue: readonly QueuedOp[],
  running: QueuedOp | null,
  serving: string | null,
): string | null {
  const pending = [...queue].reverse().find((o) => o.kind === 'rollback');
  if (pending?.kind === 'rollback') return pending.to;
  if (running?.kind === 'deploy') return running.version;
  return serving;
}

/** Rollbacks go ahead of queued deploys and behind earlier rollbacks, so they never interleave. */
export function rollbackPosition(queue: readonly Pick<QueuedOp, 'kind'>[]): number {
  const firstDeploy = queue.findIndex((o) => o.kind === 'deploy');
  return firstDeploy === -1 ? queue.length : firstDeploy;
}

/** The refusal for a rollback with no acceptable target, listing what could be restored instead. */
export function rollbackRefusal(
  choice: Extract<RollbackChoice, { ok: false }>,
  app: string,
  env: string,
): string {
  const list = choice.candidates.length
    ? ` Versions it could roll back to: ${choice.candidates.join(', ')}.`
    : ' There is no version it could roll back to.';
  return `cannot roll back ${app}/${env}: ${choice.reason}.${list}`;
}

/** The refusal for a rollback while deploys are blocked and the policy holds rollbacks too. */
export function rollbackHeldRefusal(blockedBy: string | null, app: string, env: string): string {
  return `rollbacks of ${app}/${env} are held while ${blockedBy} blocks deploys (rollbackDuringWindows: deny)`;
}

/** Why the running deploy is cancelled, as its ledger entry will say. */
export function preemptionCause(to: string, by: string): string {
  return `a rollback to ${to} requested by ${by}`;
}

/**
 * A deploy request whose op id was seen before is answered, not queued again: Update ids dedupe only within a
 * run, so the op id kept in state is what makes a retried request safe. A settled op's outcome is sent again.
 */
export function deployDedupe(
  opId: string,
  known: ReadonlySet<string>,
  ledger: readonly Pick<LedgerEntry, 'opId' | 'outcome'>[],
  queue: readonly { opId: string }[],
): { seen: false } | { seen: true; position: number; resendOutcome: boolean } {
  if (!known.has(opId)) return { seen: false };
  return {
    seen: true,
    position: queue.findIndex((o) => o.opId === opId),
    resendOutcome: ledger.some((e) => e.opId === opId && e.outcome !== 'running'),
  };
}

/** The op id of a rollback: from the client's request id when it gave one, so a retry finds the first. */
export const rollbackRequestKey = (requestId: string | undefined): string | null =>
  requestId ? `rollback:${requestId}` : null;
