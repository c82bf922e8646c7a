/**
 * A release's rules, pure: who may approve, reject, cancel, override or supersede a release and when, how long
 * it waits at a gate, and how a deploy's outcome ends it. The release workflow asks these and records the
 * answers; unit tests call them directly.
 */
import type { RecordedChannel } from '../protocol/channels.js';
import { FAILURE, releaseEndFailureType, type FailureType } from '../protocol/failures.js';
import { endFailureMessage } from './temporal-ui.js';
import type { Stage } from '../protocol/stages.js';
import type {
  ApproveResult,
  DeployReport,
  EnvironmentPlan,
  GateVerdict,
  ReleasePlan,
  ReleaseState,
} from '../workflows/types.js';
import {
  decideApproval,
  decideRejection,
  tally,
  type ApprovalPolicy,
  type ApprovalRule,
  type GivenApproval,
} from './approvals.js';
import { branchAllowed } from './branches.js';

/** What a running release waits for; a person can decide on it only while it waits. */
export type Waiting = 'approval' | 'wait-timer' | 'window' | null;

/** How a release ends: its final state and why. */
export interface Ending {
  state: ReleaseState;
  reason: string | null;
}

/** What the decisions read of a release. */
export interface ReleaseView {
  app: string;
  version: string;
  /** Who started the release (self-approval is judged against it). */
  actor: string;
  state: ReleaseState;
  stage: Stage;
  waiting: Waiting;
  /** The environment whose gates (approval, wait timer, windows) the release is passing, or null. */
  gateEnv: EnvironmentPlan | null;
  /** The environment the release has entered, kept while it deploys there; null before the first. */
  currentEnv: string | null;
  /** The last environment of the chain; undefined until the plan is loaded. */
  lastEnv: string | undefined;
  /** Members of every group, from the release's snapshot. */
  groups: Record<string, string[]>;
  blockedBy: string | null;
}

export type Verdict<T extends object = object> = ({ ok: true } & T) | { ok: false; reason: string };

const refused = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export function approvalPolicy(env: EnvironmentPlan, groups: Record<string, string[]>): ApprovalPolicy {
  return {
    rules: env.approvals,
    groups,
    allowSelfApproval: env.allowSelfApproval,
    channels: env.approvalChannels,
  };
}

/** Why a message that needs a waiting release was refused. */
export function notWaitingReason(r: ReleaseView, what: string): string {
  return r.state !== 'running'
    ? `release ${r.app} ${r.version} is not waiting for ${what}: it ended ${r.state}`
    : `release ${r.app} ${r.version} is not waiting for ${what} (stage: ${r.stage})`;
}

/** Whether an approval counts now: only at an approval gate, and only as the environment's rules allow. */
export function decideApprove(
  r: ReleaseView,
  given: readonly GivenApproval[],
  attempt: { by: string; via: RecordedChannel },
): Verdict<{ env: EnvironmentPlan; policy: ApprovalPolicy }> {
  if (r.state !== 'running' || r.waiting !== 'approval' || r.gateEnv === null) {
    return refused(notWaitingReason(r, 'approval'));
  }
  const policy = approvalPolicy(r.gateEnv, r.groups);
  const decision = decideApproval(policy, given, { ...attempt, actor: r.actor });
  return decision.ok ? { ok: true, env: r.gateEnv, policy } : refused(decision.reason);
}

/** What an approver sees after an approval counted. */
export function approvalResult(
  env: string,
  policy: ApprovalPolicy,
  given: readonly GivenApproval[],
): ApproveResult {
  const t = tally(policy, given);
  return {
    environment: env,
    met: t.met,
    tally: t.rules.map(({ group, count, have }) => ({ group, count, have })),
  };
}

/**
 * The rules a rejection is judged by: the environment's approval rules, or, where it has none (a release held
 * by a window, say), one of any group, so any group member may stop it.
 */
export function rejectRules(env: EnvironmentPlan, groups: Record<string, string[]>): ApprovalRule[] {
  return env.approvals.length > 0 ? env.approvals : Object.keys(groups).map((group) => ({ group, count: 1 }));
}

/** Whether `by` may reject now: while the release waits at any gate, as a member of a group that may decide. */
export function decideReject(
  r: ReleaseView,
  input: { by: string; reason: string },
): Verdict<{ env: EnvironmentPlan; ending: Ending }> {
  if (r.state !== 'running' || r.waiting === null || r.gateEnv === null) {
    return refused(notWaitingReason(r, 'a decision'));
  }
  const rules = rejectRules(r.gateEnv, r.groups);
  const decision = decideRejection({ ...approvalPolicy(r.gateEnv, r.groups), rules }, input.by);
  if (!decision.ok) return refused(decision.reason);
  return {
    ok: true,
    env: r.gateEnv,
    ending: { state: 'rejected', reason: `rejected by ${input.by}: ${input.reason}` },
  };
}

const cancelled = (cancel: { by: string; reason: string }): Ending => ({
  state: 'cancelled',
  reason: `cancelled by ${cancel.by}: ${cancel.reason}`,
});

/**
 * Whether a cancellation is accepted. A waiting release stops at once (`stopNow`); one that is deploying stops
 * before its next environment. Once the last environment's deploy has started, only a rollback undoes it.
 * With `eligibility` (every cancellation since proofs), only someone who may reject may cancel: a member of a
 * group that may decide at the environment the release stands at, or of any group when it stands at none.
 */
export function decideCancel(
  r: ReleaseView,
  input: { by: string; reason: string },
  opts: { eligibility?: boolean } = {},
): Verdict<{ stopNow: boolean; ending: Ending }> {
  if (r.state !== 'running') return refused(notWaitingReason(r, 'cancellation'));
  if (opts.eligibility) {
    const problem = cancelEligibility(r, input.by);
    if (problem) return refused(problem);
  }
  const deployingLast = r.currentEnv === r.lastEnv && r.waiting === null && r.stage !== 'building';
  if (deployingLast) return refused(`the ${r.lastEnv} deploy has already started; roll it back instead`);
  return { ok: true, stopNow: r.waiting !== null, ending: cancelled(input) };
}

/** Why `by` may not cancel: the same rule as a rejection, where the release stands; null when they may. */
function cancelEligibility(r: ReleaseView, by: string): string | null {
  const rules = r.gateEnv
    ? rejectRules(r.gateEnv, r.groups)
    : Object.keys(r.groups).map((group) => ({ group, count: 1 }));
  const decision = decideRejection({ rules, groups: r.groups, allowSelfApproval: true, channels: [] }, by);
  if (decision.ok) return null;
  const names = [...new Set(rules.map((x) => x.group))];
  return names.length === 0
    ? `nobody may cancel ${r.app} ${r.version} yet: its config is not loaded`
    : `${by} is not a member of ${names.join(' or ')}, the groups that can cancel`;
}

/** Right before a deploy is handed over: an accepted cancellation stops the release here. */
export const cancelledBeforeDeploy = (cancel: { by: string; reason: string } | null): Ending | null =>
  cancel && cancelled(cancel);

/** After an environment: a cancellation accepted while it deployed stops the release before the next one. */
export const cancelledAfter = (
  cancel: { by: string; reason: string } | null,
  last: boolean,
): Ending | null => (cancel && !last ? cancelled(cancel) : null);

/**
 * Whether `by` may break glass: only past a window or freeze (never an approval, a wait timer or an external
 * gate), and only as a member of the environment's windowOverride group.
 */
export function decideOverride(r: ReleaseView, by: string): Verdict<{ env: EnvironmentPlan }> {
  const name = `${r.app} ${r.version}`;
  if (r.stage === 'awaiting-gate') {
    return refused(
      `cannot override ${name}: it waits for ${r.blockedBy}, an external gate, which an override never skips`,
    );
  }
  if (r.state !== 'running' || r.waiting !== 'window' || r.gateEnv === null) {
    const what =
      r.waiting === 'approval'
        ? 'it is waiting for approval, which an override never skips'
        : r.waiting === 'wait-timer'
          ? 'it is in its wait timer'
          : `it is not waiting for a window or freeze (stage: ${r.stage}, state: ${r.state})`;
    return refused(`cannot override ${name}: ${what}`);
  }
  const env = r.gateEnv;
  const group = env.windowOverrideGroup;
  const members = group ? (r.groups[group] ?? []) : [];
  if (!group || !members.some((m) => m.toLowerCase() === by.toLowerCase())) {
    return refused(
      group
        ? `${by} is not a member of ${group}, the group that may override windows on ${env.name}`
        : `${env.name} has no windowOverride group, so nobody may override its windows`,
    );
  }
  return { ok: true, env };
}

/** A newer release at `env`'s gate ends this one if it waits at that same gate and nothing else ended it. */
export function supersededBy(r: ReleaseView, stopping: boolean, env: string, newer: string): Ending | null {
  if (r.state !== 'running' || r.waiting === null || r.gateEnv?.name !== env || stopping) return null;
  return {
    state: 'superseded',
    reason: `superseded by ${r.app} ${newer}, a newer release at the ${env} gate`,
  };
}

/** This release reached a gate where a newer release of the app already is. */
export const supersededOnArrival = (app: string, newer: string): Ending => ({
  state: 'superseded',
  reason: `superseded by ${app} ${newer}, a newer release`,
});

/** Nobody decided within the environment's approval timeout. */
export const expired = (env: string): Ending => ({
  state: 'expired',
  reason: `no decision within the approval timeout on ${env}`,
});

/** Every environment of the chain must accept the release's branch, not only the first. */
export const promotionRefused = (env: EnvironmentPlan, branch: string): Ending | null =>
  branchAllowed(env.branches, branch)
    ? null
    : { state: 'failed', reason: `branch ${branch} may not be promoted to ${env.name}` };

/** The build failed (after its retries): the release fails with the build's own message. */
export function buildFailed(err: unknown): Ending {
  let message = String(err);
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    message = cause instanceof Error ? cause.message : err.message;
  }
  return { state: 'failed', reason: `build failed: ${message}` };
}

/** Admission: the plan loaded, and the first environment accepts the branch. */
export function admit(
  loaded: { ok: true; plan: ReleasePlan } | { ok: false; message: string },
  branch: string,
): { ok: true; plan: ReleasePlan } | { ok: false; type: FailureType; message: string } {
  if (!loaded.ok) return { ok: false, type: FAILURE.badInput, message: loaded.message };
  const entry = loaded.plan.environments[0]!;
  if (!branchAllowed(entry.branches, branch)) {
    const message = `branch ${branch} may not release to ${entry.name} (allowed: ${entry.branches?.join(', ')})`;
    return { ok: false, type: FAILURE.policy, message };
  }
  return { ok: true, plan: loaded.plan };
}

/** How long a blocked release sleeps before looking again, at most, so a lifted freeze or removed window is noticed. */
export const MAX_GATE_SLEEP_MS = 15 * 60_000;

/** How long to sleep at a closed gate: until it says it opens, at least a second, at most MAX_GATE_SLEEP_MS. */
export function gateSleepMs(until: string | null, nowMs: number): number {
  const untilMs = until ? Date.parse(until) - nowMs : MAX_GATE_SLEEP_MS;
  return Math.min(Math.max(untilMs, 1000), MAX_GATE_SLEEP_MS);
}

/**
 * How long the release has waited on an external gate (`since`, reset by any other hold) and whether it gives
 * up: once the gate's timeout has passed, the release fails.
 */
export function gateWait(
  verdict: GateVerdict,
  since: number | null,
  nowMs: number,
): { since: number | null; giveUp: string | null } {
  if (verdict.kind !== 'gate') return { since: null, giveUp: null };
  const start = since ?? nowMs;
  const timeout = verdict.gateTimeoutMs;
  const giveUp =
    timeout !== undefined && nowMs - start >= timeout
      ? `${verdict.reason}; gave up after waiting ${Math.round(timeout / 60_000)} min`
      : null;
  return { since: start, giveUp };
}

/**
 * The stage a release holds in: an external gate, drift or a removed config (none of which an override skips),
 * or a window or freeze.
 */
export const heldStage = (kind: GateVerdict['kind']): Stage =>
  kind === 'gate' || kind === 'drift' || kind === 'removed' ? 'awaiting-gate' : 'awaiting-window';

/** What a finished deploy means for the release. */
export type DeployOutcome =
  /** The environment's own gate check held the deploy when it was dequeued: check the gate again. */
  | { kind: 'blocked' }
  | { kind: 'succeeded' }
  /** The environment rolled the version back itself (automatic rollback); the release ends. */
  | { kind: 'rolled-back'; ending: Ending }
  | { kind: 'failed'; ending: Ending };

export function deployOutcome(report: DeployReport, env: string, last: boolean): DeployOutcome {
  if (report.outcome === 'blocked') return { kind: 'blocked' };
  if (report.outcome === 'succeeded') return { kind: 'succeeded' };
  const reason = report.reason ?? `${env} failed`;
  if (report.outcome === 'rolled-back') {
    // Rolled back on the last environment, the release's outcome is the rollback; earlier, it simply failed.
    return { kind: 'rolled-back', ending: { state: last ? 'rolled-back' : 'failed', reason } };
  }
  return { kind: 'failed', ending: { state: 'failed', reason } };
}

/**
 * The failure a release that did not succeed ends its run with, so the same version may be released again. The
 * Temporal UI shows it under a red Failed, so a legitimate end says it is not an error (src/policy/temporal-ui.ts).
 */
export function endFailure(app: string, version: string, ending: Ending): { type: string; message: string } {
  return {
    type: releaseEndFailureType(ending.state),
    message: endFailureMessage(app, version, ending.state, ending.reason),
  };
}
