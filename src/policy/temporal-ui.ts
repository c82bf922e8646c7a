/**
 * What the Temporal UI shows of a release or an environment, so it reads like the pipeline rather than like
 * `releaseWorkflow` with timers named `1 (1d)`: the static summary and details a workflow is started with, the
 * summaries on its timers and activities, its current details (the `__temporal_workflow_metadata` query, which
 * the UI shows as "Current Details"), and the words a release that did not succeed ends its run with.
 *
 * All of it is user metadata: Temporal's replay compares commands by type and id, never by summary, so these
 * texts may change without patched() (test/replay proves it against the recorded histories). None of it is read
 * back by shipgate: decisions use the status and the ledger, never these strings.
 */
import { formatDuration } from '../config/duration.js';
import type { ApprovalRule, GivenApproval } from './approvals.js';
import type { ReleaseState } from '../workflows/types.js';

/** Single-line Temporal markdown: no line breaks, and nothing a value could use to open markup. */
export function inline(text: string): string {
  return text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[`*_[\]<>|#]/g, '')
    .trim();
}

const shortCommit = (commit: string) => (/^[0-9a-f]{12,}$/i.test(commit) ? commit.slice(0, 7) : commit);

/** `2026-12-03 10:00 UTC`: minutes are what an operator reads; the status carries the exact instant. */
export function utcMinute(at: number | string): string {
  const iso = new Date(at).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

const HOUR = 3_600_000;

/** `24h`, `15m`, `1h30m`, `7d`: as a config would say it; sub-second remainders are dropped. */
export function duration(ms: number): string {
  const whole = ms >= 1000 ? Math.round(ms / 1000) * 1000 : Math.max(ms, 0);
  // Under a week, hours read as hours (an approval timeout of 24h, not 1d).
  if (whole < HOUR || whole >= 7 * 24 * HOUR) return formatDuration(whole);
  const rest = whole % HOUR;
  return `${Math.floor(whole / HOUR)}h${rest ? formatDuration(rest) : ''}`;
}

// ---- start: static summary and details ----

export interface ReleaseStart {
  app: string;
  version: string;
  commit: string;
  branch: string;
  /** The login the starter's proof names: a claim until the worker verifies the proof. */
  claimedActor: string | null;
  /** How the starter proves who they are (ssh, github-oidc, web-oidc, asserted). */
  proofKind: string;
}

/** `hello 1.2.0 from abc1234 on main, claimed by dave`: what the releases list shows for each run. */
export function releaseStaticSummary(s: ReleaseStart): string {
  const from = s.commit ? ` from ${shortCommit(s.commit)}${s.branch ? ` on ${s.branch}` : ''}` : '';
  const by = s.claimedActor ? `, claimed by ${s.claimedActor}` : '';
  return inline(`${s.app} ${s.version}${from}${by}`);
}

/** The release's static details (markdown): what it was started with, and where the verified facts are. */
export function releaseStaticDetails(s: ReleaseStart): string {
  return [
    `**Release** ${inline(s.app)} ${inline(s.version)}`,
    '',
    `- App: ${inline(s.app)}`,
    `- Version: ${inline(s.version)}`,
    `- Commit: ${inline(s.commit) || '(none given)'}`,
    `- Branch: ${inline(s.branch) || '(none given)'}`,
    `- Claimed actor: ${s.claimedActor ? inline(s.claimedActor) : '(none)'} (${inline(s.proofKind)} proof; ` +
      'a claim until the worker verifies it)',
    '',
    'The verified starter, the environments and the stage are in **Current Details**, which the release ' +
      'keeps up to date (shipgate status shows the same).',
  ].join('\n');
}

/** The environment workflow: the single writer for one app's environment. */
export function environmentStaticSummary(app: string, env: string): string {
  return inline(`${app}/${env}: deploys, rollbacks and freezes`);
}

export function environmentStaticDetails(app: string, env: string, startedBy: string): string {
  return [
    `**Environment** ${inline(app)}/${inline(env)}`,
    '',
    'The single writer for this environment: it runs deploys and rollbacks one at a time, keeps the ledger and ' +
      'the freezes, and watches for drift. It runs for as long as the environment exists (continuing as new ' +
      'to keep its history short), so Running is its normal state.',
    '',
    `- Started by: ${inline(startedBy)}`,
    '',
    'What serves now and what is queued are in **Current Details** (shipgate history shows the ledger).',
  ].join('\n');
}

// ---- timers ----

export const approvalTimeoutSummary = (env: string, ms: number) =>
  inline(`approval timeout for ${env} (${duration(ms)})`);

export const waitTimerSummary = (env: string, ms: number) =>
  inline(`wait timer for ${env} (${duration(ms)})`);

export interface HoldView {
  env: string;
  kind: 'window' | 'gate' | 'drift' | 'removed' | null;
  blockedBy: string | null;
  /** When the hold ends as far as anyone knows (ISO), or null. */
  until: string | null;
  /** How long this timer sleeps before the release looks again. */
  sleepMs: number;
}

/** `held by weeknight-maintenance until 2026-12-03 11:00 UTC (look again in 15m)`. */
export function holdSummary(h: HoldView): string {
  const what =
    h.kind === 'removed'
      ? `held: ${h.env} is no longer in the config`
      : h.kind === 'drift'
        ? `held by drift on ${h.env}`
        : `held by ${h.blockedBy ?? 'a gate'} at ${h.env}`;
  const until = h.until ? ` until ${utcMinute(h.until)}` : '';
  return inline(`${what}${until} (look again in ${duration(h.sleepMs)})`);
}

/** How many rounds a soak runs when every round passes: one at once, then one per interval until the end. */
export function soakRounds(durationMs: number, intervalMs: number): number {
  if (durationMs <= 0) return 1;
  return 1 + Math.ceil(durationMs / Math.max(intervalMs, 1));
}

/** The timer before the next soak round: `soak round 3 of 5 for 1.2.0 on production in 1m`. */
export const soakTimerSummary = (version: string, env: string, next: number, of: number, ms: number) =>
  inline(`soak round ${next} of ${of} for ${version} on ${env} in ${duration(ms)}`);

// ---- activities ----

export interface ActivationView {
  action: 'deploy' | 'rollback';
  version: string;
  env: string;
  strategy: string;
  automatic?: boolean;
}

/** `deploy 1.2.0 to production (blue-green)`, `automatic rollback of production to 1.1.0 (blue-green)`. */
export function activationSummary(a: ActivationView): string {
  if (a.action === 'deploy') return inline(`deploy ${a.version} to ${a.env} (${a.strategy})`);
  return inline(`${a.automatic ? 'automatic ' : ''}rollback of ${a.env} to ${a.version} (${a.strategy})`);
}

/** `verify 1.2.0 on production (soak round 3 of 5)` or `verify 1.2.0 on production (2 checks)`. */
export function verifySummary(
  version: string,
  env: string,
  checks: number,
  round?: [number, number],
): string {
  const what = round ? `soak round ${round[0]} of ${round[1]}` : `${checks} check${checks === 1 ? '' : 's'}`;
  return inline(`verify ${version} on ${env} (${what})`);
}

// ---- current details ----

export interface ReleaseNow {
  app: string;
  version: string;
  commit: string;
  branch: string;
  /** The verified starter ('' until the proof is checked, or for a start that was refused). */
  actor: string;
  /** The channel the starter's proof came through, when verified. */
  via: string | null;
  state: ReleaseState;
  stage: string;
  reason: string | null;
  /** The environment chain, in order, with each one's progress (absent: not reached yet). */
  environments: { name: string; state: string | null }[];
  /** At an approval gate: its rules, who approved, who may still, and when it times out (ms). */
  approval?: {
    env: string;
    rules: ApprovalRule[];
    given: GivenApproval[];
    groups: Record<string, string[]>;
    allowSelfApproval: boolean;
    timesOutAt: number;
  } | null;
  /** The wait timer's end (ms) while it runs. */
  waitUntil?: number | null;
  blockedBy: string | null;
  blockedUntil: string | null;
  auditDegraded: boolean;
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * `1/2 team-leads (alice); eligible: bob, carol`: per rule, how many approved and who; then who else may
 * approve a rule still short (members who have not approved; not the starter unless self-approval is allowed).
 */
export function approvalLine(a: NonNullable<ReleaseNow['approval']>, actor: string): string {
  const eligible = new Set<string>();
  const parts = a.rules.map((rule) => {
    const members = a.groups[rule.group] ?? [];
    const by = [...new Set(a.given.filter((g) => members.some((m) => same(m, g.by))).map((g) => g.by))];
    if (by.length < rule.count) {
      for (const m of members) {
        if (by.some((b) => same(b, m))) continue;
        if (!a.allowSelfApproval && actor && same(m, actor)) continue;
        eligible.add(m);
      }
    }
    return `${Math.min(by.length, rule.count)}/${rule.count} ${rule.group}${by.length ? ` (${by.join(', ')})` : ''}`;
  });
  const who = eligible.size > 0 ? [...eligible].join(', ') : 'nobody (ask an admin to change the groups)';
  return `${parts.join(', ')}; eligible: ${who}`;
}

/** The first line: where the release stands and what it waits for. */
export function releaseHeadline(r: ReleaseNow, nowMs: number): string {
  if (r.state !== 'running') return `**${endTitle(r.state)}**${r.reason ? `: ${inline(r.reason)}` : ''}`;
  const [kind, ...rest] = r.stage.split('-');
  const env = rest.join('-');
  if (r.stage === 'building') return `building ${inline(r.app)} ${inline(r.version)}`;
  if (r.stage === 'awaiting-approval' && r.approval) {
    const a = r.approval;
    return inline(
      `awaiting approval at ${a.env}: ${approvalLine(a, r.actor)}; times out ${utcMinute(a.timesOutAt)}`,
    );
  }
  if (r.stage === 'wait-timer' && r.waitUntil)
    return inline(`approved; wait timer until ${utcMinute(Math.max(r.waitUntil, nowMs))}`);
  if (r.stage === 'awaiting-window' || r.stage === 'awaiting-gate') {
    const until = r.blockedUntil ? ` until ${utcMinute(r.blockedUntil)}` : '';
    return inline(`held by ${r.blockedBy ?? 'a gate'}${until}`);
  }
  if (kind === 'deploying') return inline(`deploying ${r.version} to ${env}`);
  if (kind === 'verifying' || kind === 'smoke') return inline(`verifying ${r.version} on ${env}`);
  return inline(r.stage);
}

const ENV_MARK: Record<string, string> = {
  pending: 'pending',
  waiting: 'at its gates',
  deploying: 'deploying',
  verifying: 'verifying',
  succeeded: 'deployed',
  failed: 'failed',
  'rolled-back': 'rolled back',
};

/** The release's current details (markdown): the headline, then who, what and where. */
export function releaseCurrentDetails(r: ReleaseNow, nowMs: number): string {
  const who = r.actor
    ? `${inline(r.actor)} (verified${r.via ? `, ${inline(r.via)}` : ''})`
    : '(not verified yet)';
  const envs = r.environments.length
    ? r.environments.map((e) => `${inline(e.name)}: ${ENV_MARK[e.state ?? 'pending'] ?? e.state}`).join(' → ')
    : '(until the worker loads the config)';
  return [
    releaseHeadline(r, nowMs),
    '',
    `- Release: ${inline(r.app)} ${inline(r.version)}, commit ${inline(r.commit) || '(none)'} on ${inline(r.branch) || '(none)'}`,
    `- Started by: ${who}`,
    `- Environments: ${envs}`,
    ...(r.auditDegraded ? ['- Audit degraded: records wait in the workflow until the store takes them'] : []),
    ...(r.state !== 'running' ? ['', endMeaning(r.state)] : []),
  ].join('\n');
}

// ---- how a release's run closes ----

const END_TITLES: Record<ReleaseState, string> = {
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  'rolled-back': 'Rolled back',
  rejected: 'Rejected',
  expired: 'Expired',
  superseded: 'Superseded',
  cancelled: 'Cancelled',
};

export const endTitle = (state: ReleaseState) => END_TITLES[state];

/** The ends that are decisions or policy working as configured, not a broken pipeline. */
export const NOT_AN_ERROR: readonly ReleaseState[] = ['rejected', 'expired', 'superseded', 'cancelled'];

/**
 * What an ended release's state means, for the run's failure message and its current details. Temporal shows
 * every release that did not succeed as Failed: the run must not complete, or the same version could not be
 * released again (the id reuse policy allows a new run only after one that failed).
 */
export function endMeaning(state: ReleaseState): string {
  switch (state) {
    case 'succeeded':
      return 'Succeeded: the version serves in every environment of the chain.';
    case 'rejected':
      return 'Not an error: someone allowed to decide rejected the release at a gate.';
    case 'expired':
      return 'Not an error: nobody decided within the approval timeout.';
    case 'superseded':
      return 'Not an error: a newer release of the app took its place at the gate.';
    case 'cancelled':
      return 'Not an error: the release was cancelled on request (or its app or environment left the config).';
    case 'rolled-back':
      return 'The version failed verification in the last environment, which serves the previous version again.';
    case 'failed':
      return 'The release failed: a build, deploy, gate or branch rule stopped it (see the reason).';
    default:
      return 'Running.';
  }
}

/**
 * The message a release that did not succeed fails its run with: the state first, in words that say whether
 * it is an error, then the reason. `hello 1.2.0 superseded (not an error): superseded by hello 1.3.0, ...`.
 */
export function endFailureMessage(app: string, version: string, state: ReleaseState, reason: string | null) {
  const tag = NOT_AN_ERROR.includes(state) ? ' (not an error)' : '';
  return `${app} ${version} ${state}${tag}${reason ? `: ${reason}` : ''}`;
}

// ---- the environment's current details ----

export interface EnvironmentNow {
  app: string;
  env: string;
  current: { version: string; since: string } | null;
  /** The ledger entry of the operation running now, if any. */
  running: { action: string; version: string; actor: string; automatic?: boolean } | null;
  queue: { kind: string; version: string }[];
  freezes: { by: string; until: string; reason: string }[];
  /** The drift in force: how many findings, and when found. */
  drift: { at: string; findings: number } | null;
  health: { state: 'down' | 'serving'; since: string } | null;
  tornDown: { by: string; at: string } | null;
  auditDegraded: boolean;
}

/** `serving 1.2.0 since 2026-12-03 10:00 UTC`, then what runs, waits and holds. */
export function environmentCurrentDetails(e: EnvironmentNow): string {
  const headline = e.tornDown
    ? `**Torn down** by ${inline(e.tornDown.by)} at ${utcMinute(e.tornDown.at)}`
    : e.current
      ? `**${e.health?.state === 'down' ? 'DOWN' : 'serving'} ${inline(e.current.version)}** since ${utcMinute(
          e.health?.state === 'down' ? e.health.since : e.current.since,
        )}`
      : '**nothing deployed yet**';
  const r = e.running;
  const lines = [
    headline,
    '',
    `- Environment: ${inline(e.app)}/${inline(e.env)}`,
    ...(r
      ? [
          `- Running: ${r.action === 'deploy' ? 'deploy of' : r.automatic ? 'automatic rollback to' : `${inline(r.action)} to`} ${inline(r.version)} by ${inline(r.actor)}`,
        ]
      : []),
    ...(e.queue.length
      ? [
          `- Queued: ${e.queue.map((q) => `${q.kind === 'deploy' ? 'deploy of' : `${q.kind} to`} ${inline(q.version)}`).join(', ')}`,
        ]
      : []),
    ...e.freezes.map(
      (f) => `- Frozen by ${inline(f.by)} until ${utcMinute(f.until)}: ${inline(f.reason).slice(0, 200)}`,
    ),
    ...(e.drift
      ? [
          `- Drift since ${utcMinute(e.drift.at)}: ${e.drift.findings} finding(s) (shipgate history shows them)`,
        ]
      : []),
    ...(e.auditDegraded ? ['- Audit degraded: records wait in the workflow until the store takes them'] : []),
  ];
  return lines.join('\n');
}
