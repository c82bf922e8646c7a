/**
 * A release's state and the operations on it (the safe-message-handlers style): each message handler calls
 * one method here, and the pipeline (../release.ts) moves the release from step to step through the others.
 * The rules are pure functions in src/policy/release-decisions.ts; this class applies and records them.
 *
 * Command order matters to running releases (their histories replay against this code), so every method keeps
 * the order of its status changes, audit records, search-attribute upserts and awaits.
 */
import { ApplicationFailure, condition, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { AuditInput } from '../../audit/types.js';
import { tally, type GivenApproval } from '../../policy/approvals.js';
import {
  admit,
  approvalPolicy,
  approvalResult,
  cancelledAfter,
  cancelledBeforeDeploy,
  decideApprove,
  decideCancel,
  decideOverride,
  decideReject,
  endFailure,
  heldStage,
  promotionRefused,
  supersededBy,
  type Ending,
  type ReleaseView,
  type Waiting,
} from '../../policy/release-decisions.js';
import { refusedType, type AuditType } from '../../protocol/audit-types.js';
import { FAILURE } from '../../protocol/failures.js';
import { SEARCH_ATTRIBUTES } from '../../protocol/search-attributes.js';
import { stageFor, type Stage } from '../../protocol/stages.js';
import type {
  AdmitResult,
  ApproveInput,
  ApproveResult,
  DeployOp,
  DeployReport,
  EnvironmentPlan,
  EnvironmentProgress,
  GateVerdict,
  RefusedAttempt,
  RejectInput,
  ReleasePlan,
  ReleaseRequest,
  ReleaseStatus,
} from '../types.js';
import { notify, recordAudit } from './activities.js';

type Override = NonNullable<ReleaseStatus['override']>;

type Admission = { ok: true } | { ok: false; type: string; message: string };

export class Release {
  readonly id: string;
  readonly status: ReleaseStatus;
  /** The config snapshot, set once it loads; handlers that run before then see undefined. */
  private plan: ReleasePlan | undefined;
  private waiting: Waiting = null;
  /** The environment whose gates the release is passing; null while it deploys and between environments. */
  private gateEnv: EnvironmentPlan | null = null;
  private currentEnv: string | null = null;
  private readonly runId: string;
  private readonly searchable: boolean;
  private admission: Admission | undefined;
  private admitCalls = 0;
  private stop: Ending | null = null;
  private cancelRequest: { by: string; reason: string } | null = null;
  private readonly approvalsByEnv: Record<string, GivenApproval[]> = {};
  private readonly overrides: Record<string, Override> = {};
  private readonly reports = new Map<string, DeployReport>();
  private readonly auditQueue: AuditInput[] = [];
  private auditSeq = 0;
  private finished = false;
  private readonly auditPump: Promise<void>;
  private cardUpdates = false;
  /** Set by the recheck signal (config changed, freeze lifted): a held release looks at its gate again. */
  private recheck = false;

  constructor(readonly request: ReleaseRequest) {
    const info = workflowInfo();
    this.id = info.workflowId;
    this.runId = info.firstExecutionRunId;
    this.searchable = info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.app) !== undefined;
    this.status = {
      app: request.app,
      version: request.version,
      commit: request.commit,
      branch: request.branch,
      actor: request.actor,
      state: 'running',
      stage: 'building',
      reason: null,
      startedAt: this.now(),
      endedAt: null,
      approvals: { environment: null, required: [], given: [], refused: [] },
      environments: {},
      blockedBy: null,
      blockedUntil: null,
      override: null,
    };
    this.auditPump = this.pumpAudit();
  }

  now(): string {
    return new Date().toISOString();
  }

  /** Why the release must stop now (rejected, cancelled while waiting, superseded), or null. */
  stopRequested(): Ending | null {
    return this.stop;
  }

  // ---- audit: handlers only queue records; a background loop writes them, so no handler blocks on I/O ----

  audit(type: AuditType, fields: Partial<AuditInput> = {}): void {
    this.auditQueue.push({
      id: `${this.id}@${this.runId}#${this.auditSeq++}`,
      at: this.now(),
      type,
      app: this.request.app,
      version: this.request.version,
      env: this.currentEnv,
      actor: this.request.actor,
      releaseId: this.id,
      ...fields,
    });
  }

  private async pumpAudit(): Promise<void> {
    for (;;) {
      await condition(() => this.auditQueue.length > 0 || this.finished);
      if (this.auditQueue.length === 0) return;
      await recordAudit(this.auditQueue.splice(0));
    }
  }

  // ---- Slack cards (behind patched('slack-card-updates')): once at an approval gate, each new approval or
  // stage change is notified, one at a time, until the release ends ----

  cardKey(): string {
    return `${this.status.stage}|${this.status.approvals.environment}|${this.status.approvals.given.length}`;
  }

  startCardUpdates(notified: string): void {
    if (this.cardUpdates) return;
    this.cardUpdates = true;
    let sent = notified;
    void (async () => {
      for (;;) {
        await condition(() => this.status.state !== 'running' || this.cardKey() !== sent);
        // The end's own 'release-ended' notification carries the final state.
        if (this.status.state !== 'running') return;
        sent = this.cardKey();
        await notify({ kind: 'release-progress', status: this.status });
      }
    })();
  }

  private setStage(stage: Stage): void {
    this.status.stage = stage;
    if (this.searchable) {
      upsertSearchAttributes([
        { key: SEARCH_ATTRIBUTES.stage, value: stage },
        ...(this.currentEnv ? [{ key: SEARCH_ATTRIBUTES.env, value: this.currentEnv }] : []),
      ]);
    }
  }

  private setEnvironment(env: string, state: EnvironmentProgress['state']): void {
    this.status.environments[env] = { state, at: this.now() };
  }

  private view(): ReleaseView {
    const envs = this.plan?.environments;
    return {
      app: this.request.app,
      version: this.request.version,
      actor: this.request.actor,
      state: this.status.state,
      stage: this.status.stage,
      waiting: this.waiting,
      gateEnv: this.gateEnv,
      currentEnv: this.currentEnv,
      lastEnv: envs?.[envs.length - 1]?.name,
      groups: this.plan?.groups ?? {},
      blockedBy: this.status.blockedBy,
    };
  }

  /** Records a refused attempt in status and audit, then fails the Update with the reason (exit 3). */
  private refuse(
    attempt: { by: string; via: ApproveInput['via'] },
    action: RefusedAttempt['action'],
    reason: string,
  ): never {
    this.status.approvals.refused.push({ by: attempt.by, at: this.now(), via: attempt.via, action, reason });
    this.audit(refusedType(action), { actor: attempt.by, via: attempt.via, reason });
    throw ApplicationFailure.create({ type: FAILURE.policy, message: reason, nonRetryable: true });
  }

  // ---- message handlers ----

  /** Admission: the first answer to whoever started or attached to the release. */
  async admit(req: ReleaseRequest): Promise<AdmitResult> {
    const attached = this.admitCalls++ > 0;
    await condition(() => this.admission !== undefined);
    if (this.admission && !this.admission.ok) {
      throw ApplicationFailure.create({
        type: this.admission.type,
        message: this.admission.message,
        nonRetryable: true,
      });
    }
    if (attached && req.commit !== this.request.commit) {
      const { app, version, commit } = this.request;
      throw ApplicationFailure.create({
        type: FAILURE.policy,
        message: `${app} ${version} is already being released from commit ${commit}, not ${req.commit}`,
        nonRetryable: true,
      });
    }
    return { attached, status: this.status };
  }

  approve(input: ApproveInput): ApproveResult {
    const env = this.gateEnv;
    const verdict = decideApprove(this.view(), (env && this.approvalsByEnv[env.name]) ?? [], input);
    if (!verdict.ok) return this.refuse(input, 'approve', verdict.reason);
    const given = (this.approvalsByEnv[verdict.env.name] ??= []);
    given.push({
      by: input.by,
      at: this.now(),
      via: input.via,
      ...(input.comment ? { comment: input.comment } : {}),
    });
    this.status.approvals.given = given;
    const result = approvalResult(verdict.env.name, verdict.policy, given);
    this.audit('approval', {
      actor: input.by,
      via: input.via,
      reason: input.comment ?? null,
      env: verdict.env.name,
    });
    return result;
  }

  reject(input: RejectInput): ReleaseStatus {
    const verdict = decideReject(this.view(), input);
    if (!verdict.ok) return this.refuse(input, 'reject', verdict.reason);
    this.stop = verdict.ending;
    this.audit('rejection', { actor: input.by, via: input.via, reason: input.reason, env: verdict.env.name });
    return this.status;
  }

  cancel(input: RejectInput): ReleaseStatus {
    const verdict = decideCancel(this.view(), input);
    if (!verdict.ok) return this.refuse(input, 'cancel', verdict.reason);
    this.cancelRequest = { by: input.by, reason: input.reason };
    if (verdict.stopNow) this.stop = verdict.ending;
    this.audit('cancellation', { actor: input.by, via: input.via, reason: input.reason });
    return this.status;
  }

  override(input: RejectInput): ReleaseStatus {
    const verdict = decideOverride(this.view(), input.by);
    if (!verdict.ok) return this.refuse(input, 'override', verdict.reason);
    const record = { by: input.by, at: this.now(), reason: input.reason };
    this.overrides[verdict.env.name] = record;
    this.status.override = record;
    this.audit('override', { actor: input.by, via: input.via, reason: input.reason, env: verdict.env.name });
    return this.status;
  }

  supersede({ version, env }: { version: string; env: string }): void {
    const ending = supersededBy(this.view(), this.stop !== null, env, version);
    if (ending) this.stop = ending;
  }

  recheckGate(): void {
    this.recheck = true;
  }

  /** The environment's progress reports: 'verifying' moves the stage; 'done' settles the deploy. */
  report(report: DeployReport): void {
    const prior = this.reports.get(report.opId);
    if (prior?.phase === 'done') return;
    this.reports.set(report.opId, report);
    const envs = this.plan?.environments;
    const last = envs?.[envs.length - 1]?.name === report.env;
    if (report.phase === 'verifying') {
      this.setEnvironment(report.env, 'verifying');
      this.setStage(stageFor(last ? 'verifying' : 'smoke', report.env));
    }
  }

  // ---- the pipeline's operations, in the order it uses them ----

  /** Takes the config snapshot and decides admission; returns the plan, or why the release fails. */
  admitPlan(
    loaded: { ok: true; plan: ReleasePlan } | { ok: false; message: string },
  ): { plan: ReleasePlan } | { refused: string } {
    if (loaded.ok) {
      this.plan = loaded.plan;
      for (const env of loaded.plan.environments)
        this.status.environments[env.name] = { state: 'pending', at: null };
    }
    const verdict = admit(loaded, this.request.branch);
    if (!verdict.ok) {
      this.admission = { ok: false, type: verdict.type, message: verdict.message };
      return { refused: verdict.message };
    }
    this.admission = { ok: true };
    this.audit('release-started', {
      reason: `commit ${this.request.commit} on ${this.request.branch}`,
      via: this.request.via,
    });
    return { plan: verdict.plan };
  }

  /** Enters `env`: from now the release stands at its gates until it hands the deploy over. */
  enter(env: EnvironmentPlan): Ending | null {
    this.currentEnv = env.name;
    const refused = promotionRefused(env, this.request.branch);
    if (refused) return refused;
    this.setEnvironment(env.name, 'waiting');
    this.gateEnv = env;
    return null;
  }

  openApprovalGate(env: EnvironmentPlan): void {
    this.status.approvals = {
      environment: env.name,
      required: env.approvals,
      given: (this.approvalsByEnv[env.name] ??= []),
      refused: this.status.approvals.refused,
    };
    this.waiting = 'approval';
    this.setStage('awaiting-approval');
  }

  approvalsMet(env: EnvironmentPlan): boolean {
    return tally(approvalPolicy(env, this.plan?.groups ?? {}), this.approvalsByEnv[env.name] ?? []).met;
  }

  approvers(env: string): string[] {
    return (this.approvalsByEnv[env] ?? []).map((a) => a.by);
  }

  startWaitTimer(): void {
    this.waiting = 'wait-timer';
    this.setStage('wait-timer');
  }

  overrideOf(env: string): Override | undefined {
    return this.overrides[env];
  }

  /** What the deploy gate is asked: the live verdict for `env` at workflow time (so time-skipping tests hold). */
  gateQuery(env: string): { app: string; env: string; overridden: boolean; at: string } {
    return { app: this.request.app, env, overridden: this.overrides[env] !== undefined, at: this.now() };
  }

  /** Held by a window, freeze or external gate: shown in status, and audited when the hold begins. */
  hold(env: string, verdict: GateVerdict): void {
    this.waiting = 'window';
    this.status.blockedBy = verdict.blockedBy;
    this.status.blockedUntil = verdict.until;
    const stage = heldStage(verdict.kind);
    if (this.status.stage !== stage) {
      this.setStage(stage);
      this.audit('held', { env, reason: verdict.reason });
    }
    this.recheck = false;
  }

  /** While held: a recheck was asked for, or an override arrived. */
  gateMayHaveOpened(env: string): boolean {
    return this.recheck || this.overrides[env] !== undefined;
  }

  /** The gate opened: the release hands the deploy over, unless it was cancelled meanwhile. */
  passGate(): Ending | null {
    this.waiting = null;
    this.status.blockedBy = null;
    this.status.blockedUntil = null;
    return cancelledBeforeDeploy(this.cancelRequest);
  }

  /** A deploy's operation id: unique per release run, environment and attempt, so retries never deploy twice. */
  opId(env: string, attempt: number): string {
    return `${this.id}@${this.runId}#${env}#${attempt}`;
  }

  startDeploy(env: string): void {
    this.setEnvironment(env, 'deploying');
    this.setStage(stageFor('deploying', env));
  }

  /** The deploy handed to the environment: it carries the release's snapshot of the environment's settings. */
  deployOp(env: EnvironmentPlan, opId: string, artifact: string): DeployOp {
    const { version, commit, actor } = this.request;
    return {
      kind: 'deploy',
      opId,
      releaseId: this.id,
      version,
      commit,
      artifact,
      actor,
      approvers: this.approvers(env.name),
      spec: env.deploy,
      gated: true,
      overridden: this.overrides[env.name] !== undefined,
      requestedAt: this.now(),
    };
  }

  deployDone(opId: string): boolean {
    return this.reports.get(opId)?.phase === 'done';
  }

  reportOf(opId: string): DeployReport {
    return this.reports.get(opId)!;
  }

  deployed(env: string): void {
    this.setEnvironment(env, 'succeeded');
    this.audit('deployed', { env, outcome: 'succeeded' });
  }

  settleEnvironment(env: string, state: 'rolled-back' | 'failed'): void {
    this.setEnvironment(env, state);
  }

  leave(last: boolean): Ending | null {
    this.gateEnv = null;
    return cancelledAfter(this.cancelRequest, last);
  }

  /** Ends the release: final status, audit and notification; a run that did not succeed ends failed. */
  async end(ending: Ending): Promise<ReleaseStatus> {
    const { state, reason } = ending;
    this.status.state = state;
    this.status.reason = reason;
    this.status.endedAt = this.now();
    this.waiting = null;
    this.setStage('done');
    this.audit('release-ended', { reason: reason ?? state, outcome: state });
    await notify({ kind: 'release-ended', status: this.status });
    this.finished = true;
    await this.auditPump;
    if (state === 'succeeded') return this.status;
    // Failing the run lets the same version be released again (a new run of the same workflow id).
    throw ApplicationFailure.create({
      ...endFailure(this.request.app, this.request.version, ending),
      nonRetryable: true,
      details: [this.status],
    });
  }
}
