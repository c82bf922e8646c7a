/**
 * A release's state and the operations on it (the safe-message-handlers style): each message handler calls
 * one method here, and the pipeline (../release.ts) moves the release from step to step through the others.
 * The rules are pure functions in src/policy/release-decisions.ts; this class applies and records them.
 *
 * Command order matters to running releases (their histories replay against this code), so every method keeps
 * the order of its status changes, audit records, search-attribute upserts and awaits.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { AuditInput } from '../../audit/types.js';
import type { Proof, ProofAction } from '../../identity/types.js';
import { tally, type ApprovalChannel, type GivenApproval } from '../../policy/approvals.js';
import {
  claimedChannel,
  confirmedReport,
  detailsOf,
  proofRecord,
  proofRef,
  reasonOf,
  releaseExpectation,
  replayRefusal,
  UNVERIFIED,
} from '../../policy/proofs.js';
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
import { FAILURE, type FailureType } from '../../protocol/failures.js';
import type { ProofRecord } from '../../protocol/proof-record.js';
import { SEARCH_ATTRIBUTES } from '../../protocol/search-attributes.js';
import { stageFor, type Stage } from '../../protocol/stages.js';
import type {
  AdmitResult,
  ApproveInput,
  ApproveResult,
  DeployAsked,
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
import { deliverAudit, notify, recordAudit, verifyProof } from './activities.js';
import { AuditOutbox } from '../audit-outbox.js';
import { alreadyReleasedRefusal, type AlreadyReleased, type Released } from '../../policy/release-once.js';
import { inline, releaseCurrentDetails, type ReleaseNow } from '../../policy/temporal-ui.js';

type Override = NonNullable<ReleaseStatus['override']>;

const auditSummary = (n: number) => `audit: write ${n} record${n === 1 ? '' : 's'}`;

type Admission = { ok: true } | { ok: false; type: string; message: string; details?: unknown[] };

/** Who sent a message: proven by its proof, or (in releases replayed from before proofs) as it asserted. */
export interface Who {
  by: string;
  via: ApprovalChannel | null;
  proof: ProofRecord | null;
}

/** Audit fields, with the proof a record rests on (audit records keep it so anyone can check it again). */
type AuditFields = Partial<AuditInput> & { proof?: ProofRecord };

/** Who an audit record names: the login, its channel and the proof it rests on. */
function attributedTo(who: Who): AuditFields {
  return { actor: who.by, via: who.via, ...(who.proof ? { proof: who.proof } : {}) };
}

export class Release {
  readonly id: string;
  readonly status: ReleaseStatus;
  /** Who started the release: the proven login (or, replaying a release from before proofs, the asserted one). */
  private actor: string;
  private commit: string;
  private branch: string;
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
  /** Audit records not yet written, and how their delivery stands. */
  private readonly outbox = new AuditOutbox();
  private auditSeq = 0;
  private finished = false;
  /** Before patched('audit-never-blocks'): the loop that awaits every append (unbounded retry). */
  private readonly auditPump: Promise<void> | null;
  private cardUpdates = false;
  /** Set by the recheck signal (config changed, freeze lifted): a held release looks at its gate again. */
  private recheck = false;
  /** Digests of every proof that held here: each counts once, whatever was decided on it. */
  private readonly usedProofs = new Set<string>();
  /** The deploy the release is asking an environment for now, which that environment confirms by query. */
  private asking: DeployAsked | null = null;
  /** Since proofs: deploy reports wait here until the environment confirms it sent them. */
  confirmReports = false;
  private readonly inbox: DeployReport[] = [];
  /** When the open approval gate times out and the wait timer ends (workflow time, ms): for current details. */
  approvalTimesOutAt: number | null = null;
  waitUntil: number | null = null;

  constructor(
    readonly request: ReleaseRequest,
    proven = false,
    /** patched('audit-never-blocks'): bounded appends, retried on durable timers, shown as "audit degraded". */
    auditNeverBlocks = false,
  ) {
    const info = workflowInfo();
    this.id = info.workflowId;
    this.runId = info.firstExecutionRunId;
    this.searchable = info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.app) !== undefined;
    // Under proofs nobody is believed to have started it until its proof holds.
    this.actor = proven ? '' : (request.actor ?? '');
    this.commit = request.commit;
    this.branch = request.branch;
    this.status = {
      app: request.app,
      version: request.version,
      commit: request.commit,
      branch: request.branch,
      actor: this.actor,
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
      ...(proven ? { proofScope: { run: this.runId, env: null } } : {}),
    };
    this.outbox.onChange = () => this.showAudit();
    this.showDetails();
    if (auditNeverBlocks) {
      this.auditPump = null;
      this.outbox.start(
        {
          record: (records) =>
            deliverAudit.executeWithOptions({ summary: auditSummary(records.length) }, [records]),
          notify: (event) => notify.executeWithOptions({ summary: inline(`notify: ${event.kind}`) }, [event]),
        },
        { app: request.app, env: null, version: request.version, releaseId: this.id },
      );
    } else {
      this.auditPump = this.pumpAudit();
    }
  }

  now(): string {
    return new Date().toISOString();
  }

  /** The release's first run: what its proofs and Slack buttons name. */
  get run(): string {
    return this.runId;
  }

  /** Why the release must stop now (rejected, cancelled while waiting, superseded), or null. */
  stopRequested(): Ending | null {
    return this.stop;
  }

  // ---- audit: handlers only queue records; a background loop writes them, so no handler blocks on I/O ----

  audit(type: AuditType, fields: AuditFields = {}): void {
    this.outbox.push({
      id: `${this.id}@${this.runId}#${this.auditSeq++}`,
      at: this.now(),
      type,
      app: this.request.app,
      version: this.request.version,
      env: this.currentEnv,
      actor: this.actor,
      releaseId: this.id,
      ...fields,
    });
  }

  private async pumpAudit(): Promise<void> {
    for (;;) {
      await condition(() => this.outbox.size > 0 || this.finished);
      if (this.outbox.size === 0) return;
      const records = this.outbox.take();
      this.outbox.appended(
        await recordAudit.executeWithOptions({ summary: auditSummary(records.length) }, [records]),
      );
    }
  }

  /** The anchor and "audit degraded" in the status, once there is something to say. */
  private showAudit(): void {
    const { anchor, degraded } = this.outbox;
    if (anchor) this.status.auditAnchor = anchor;
    if (degraded || this.status.auditDegraded) this.status.auditDegraded = degraded;
  }

  /**
   * Keeps the Temporal UI's "Current Details" (the workflow metadata query) in step with the status: where the
   * release stands and what it waits for. It issues no command, so running releases replay unchanged.
   */
  private showDetails(): void {
    let shown = '';
    void (async () => {
      for (;;) {
        shown = releaseCurrentDetails(this.detailsView(), Date.now());
        setCurrentDetails(shown);
        await condition(() => releaseCurrentDetails(this.detailsView(), Date.now()) !== shown);
      }
    })();
  }

  /** What the current details are made of. */
  private detailsView(): ReleaseNow {
    const s = this.status;
    const gate = this.gateEnv;
    const envs = this.plan?.environments ?? [];
    return {
      app: s.app,
      version: s.version,
      commit: s.commit,
      branch: s.branch,
      actor: s.actor,
      via: s.startProof?.via ?? null,
      state: s.state,
      stage: s.stage,
      reason: s.reason,
      environments: envs.map((e) => ({ name: e.name, state: s.environments[e.name]?.state ?? null })),
      approval:
        gate && this.waiting === 'approval' && this.approvalTimesOutAt !== null
          ? {
              env: gate.name,
              rules: gate.approvals,
              given: this.approvalsByEnv[gate.name] ?? [],
              groups: this.plan?.groups ?? {},
              allowSelfApproval: gate.allowSelfApproval,
              timesOutAt: this.approvalTimesOutAt,
            }
          : null,
      waitUntil: this.waiting === 'wait-timer' ? this.waitUntil : null,
      blockedBy: s.blockedBy,
      blockedUntil: s.blockedUntil,
      auditDegraded: Boolean(s.auditDegraded),
    };
  }

  /**
   * Writes what is left before the workflow closes. The status says how the release ended already: a store
   * that is down keeps only the workflow open (audit degraded), not the people waiting on the release.
   */
  private async drainAudit(): Promise<void> {
    this.finished = true;
    await (this.auditPump ?? this.outbox.finish());
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
        await notify.executeWithOptions({ summary: inline(`notify: ${this.status.stage}`) }, [
          { kind: 'release-progress', status: this.status, run: this.runId },
        ]);
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

  private setGate(env: EnvironmentPlan | null): void {
    this.gateEnv = env;
    if (this.status.proofScope) this.status.proofScope = { run: this.runId, env: env?.name ?? null };
  }

  private view(): ReleaseView {
    const envs = this.plan?.environments;
    return {
      app: this.request.app,
      version: this.request.version,
      actor: this.actor,
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
  private refuse(who: Who, action: RefusedAttempt['action'], reason: string): never {
    this.status.approvals.refused.push({
      by: who.by,
      at: this.now(),
      via: who.via,
      action,
      reason,
      ...(who.proof ? { proof: who.proof.digest } : {}),
    });
    this.audit(refusedType(action), {
      ...attributedTo(who),
      reason,
    });
    throw ApplicationFailure.create({ type: FAILURE.policy, message: reason, nonRetryable: true });
  }

  /** Who sent a message from before proofs: as it said. */
  private asserted(input: { by?: string; via?: ApprovalChannel }): Who {
    return { by: input.by ?? '', via: input.via ?? null, proof: null };
  }

  /**
   * Verifies `proof` for `action` on this release as it stands now (its run, the environment it stands at, its
   * version and the details), once: a proof that held before is a replay. Refuses (recorded) otherwise.
   */
  private async identify(
    action: Extract<ProofAction, RefusedAttempt['action']>,
    proof: Proof,
    details: string,
  ): Promise<Who> {
    const expect = releaseExpectation(
      action,
      {
        app: this.request.app,
        version: this.request.version,
        run: this.runId,
        env: this.gateEnv?.name ?? null,
      },
      details,
      this.now(),
    );
    const verified = await verifyProof({ proof, expect });
    if (!verified.ok)
      return this.refuse(
        { by: UNVERIFIED, via: claimedChannel(proof), proof: null },
        action,
        verified.reason,
      );
    const who: Who = { by: verified.login, via: verified.via, proof: proofRecord(proof, verified) };
    if (this.usedProofs.has(verified.digest)) return this.refuse(who, action, replayRefusal);
    this.usedProofs.add(verified.digest);
    return who;
  }

  // ---- the start ----

  /**
   * The start's proof: who started the release, and (for a GitHub Actions token) from which commit and branch.
   * Returns why it does not hold, or null.
   */
  async verifyStart(): Promise<string | null> {
    const { app, version, proof } = this.request;
    const verified = await verifyProof({
      proof,
      expect: {
        action: 'release',
        app,
        version,
        env: null,
        run: null,
        details: detailsOf.release(this.request),
        now: this.now(),
      },
    });
    if (!verified.ok) return verified.reason;
    if (verified.via === 'github-oidc') {
      // Branch and commit are the token's; a request naming others is a forgery or a mistake.
      const sha = verified.claims?.sha ?? '';
      const branch = verified.claims?.branch ?? '';
      if (this.request.commit && this.request.commit !== sha)
        return `the request names commit ${this.request.commit}, but the GitHub Actions token is for ${sha}`;
      if (this.request.branch && this.request.branch !== branch)
        return `the request names branch ${this.request.branch}, but the GitHub Actions token is for ${branch}`;
      this.commit = this.status.commit = sha;
      this.branch = this.status.branch = branch;
    }
    this.actor = this.status.actor = verified.login;
    this.status.startProof = proofRecord(proof, verified);
    this.usedProofs.add(verified.digest);
    if (this.searchable) upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.actor, value: verified.login }]);
    return null;
  }

  /**
   * Ends a start that is refused before anything ran: malformed input (no activity at all) or a proof that
   * does not hold (recorded). The admit Update, if any, is answered with the refusal.
   */
  async refuseStart(type: FailureType, message: string, recorded: boolean): Promise<never> {
    this.admission = { ok: false, type, message };
    this.status.state = 'failed';
    this.status.reason = message;
    this.status.endedAt = this.now();
    this.status.stage = 'done';
    if (recorded)
      this.audit('release-refused', {
        actor: UNVERIFIED,
        via: claimedChannel(this.request.proof),
        reason: message,
        env: null,
      });
    await this.drainAudit();
    await condition(allHandlersFinished);
    throw ApplicationFailure.create({ type, message, nonRetryable: true, details: [this.status] });
  }

  /**
   * Refuses a start whose version a release already deployed successfully to the last environment, as that
   * environment's durable record says (the succeeded release's own workflow may be gone with retention). The
   * admit Update carries `AlreadyReleased` details, so clients answer as for a succeeded run.
   */
  async refuseReleased(env: string, prior: Released): Promise<never> {
    const { app, version } = this.request;
    const message = alreadyReleasedRefusal(app, version, env, prior);
    const details: AlreadyReleased = { alreadyReleased: { env, ...prior } };
    this.admission = { ok: false, type: FAILURE.policy, message, details: [details] };
    this.status.state = 'failed';
    this.status.reason = message;
    this.status.endedAt = this.now();
    this.status.stage = 'done';
    const proof = this.status.startProof;
    this.audit('release-refused', {
      reason: message,
      via: proof ? proof.via : null,
      ...(proof ? { proof } : {}),
    });
    await this.drainAudit();
    await condition(allHandlersFinished);
    throw ApplicationFailure.create({
      type: FAILURE.policy,
      message,
      nonRetryable: true,
      details: [this.status, details],
    });
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
        ...(this.admission.details ? { details: this.admission.details } : {}),
      });
    }
    if (attached && req.commit && req.commit !== this.commit) {
      const { app, version } = this.request;
      throw ApplicationFailure.create({
        type: FAILURE.policy,
        message: `${app} ${version} is already being released from commit ${this.commit}, not ${req.commit}`,
        nonRetryable: true,
      });
    }
    return { attached, status: this.status };
  }

  approve(input: ApproveInput): ApproveResult {
    return this.approveAs(input, this.asserted(input));
  }

  async approveProven(input: ApproveInput): Promise<ApproveResult> {
    return this.approveAs(input, await this.identify('approve', input.proof, detailsOf.approve(input)));
  }

  private approveAs(input: ApproveInput, who: Who): ApproveResult {
    const env = this.gateEnv;
    const attempt = { by: who.by, via: who.via ?? 'asserted' };
    const verdict = decideApprove(this.view(), (env && this.approvalsByEnv[env.name]) ?? [], attempt);
    if (!verdict.ok) return this.refuse(who, 'approve', verdict.reason);
    const given = (this.approvalsByEnv[verdict.env.name] ??= []);
    given.push({
      by: who.by,
      at: this.now(),
      via: attempt.via,
      ...(input.comment ? { comment: input.comment } : {}),
      ...(who.proof ? { proof: who.proof } : {}),
    });
    this.status.approvals.given = given;
    const result = approvalResult(verdict.env.name, verdict.policy, given);
    this.audit('approval', {
      ...attributedTo(who),
      reason: input.comment ?? null,
      env: verdict.env.name,
    });
    return result;
  }

  reject(input: RejectInput): ReleaseStatus {
    return this.rejectAs(input, this.asserted(input));
  }

  async rejectProven(input: RejectInput): Promise<ReleaseStatus> {
    const who = await this.identify('reject', input.proof, detailsOf.decide(input));
    return this.rejectAs({ ...input, reason: reasonOf(input) }, who);
  }

  private rejectAs(input: RejectInput, who: Who): ReleaseStatus {
    const verdict = decideReject(this.view(), { by: who.by, reason: input.reason });
    if (!verdict.ok) return this.refuse(who, 'reject', verdict.reason);
    this.stop = verdict.ending;
    this.audit('rejection', {
      ...attributedTo(who),
      reason: input.reason,
      env: verdict.env.name,
    });
    return this.status;
  }

  cancel(input: RejectInput): ReleaseStatus {
    return this.cancelAs(input, this.asserted(input));
  }

  /** Since proofs, a cancellation needs the same eligibility as a rejection. */
  async cancelProven(input: RejectInput): Promise<ReleaseStatus> {
    const who = await this.identify('cancel', input.proof, detailsOf.decide(input));
    return this.cancelAs({ ...input, reason: reasonOf(input) }, who, true);
  }

  private cancelAs(input: RejectInput, who: Who, eligibility = false): ReleaseStatus {
    const verdict = decideCancel(this.view(), { by: who.by, reason: input.reason }, { eligibility });
    if (!verdict.ok) return this.refuse(who, 'cancel', verdict.reason);
    this.cancelRequest = { by: who.by, reason: input.reason };
    if (verdict.stopNow) this.stop = verdict.ending;
    this.audit('cancellation', {
      ...attributedTo(who),
      reason: input.reason,
    });
    return this.status;
  }

  override(input: RejectInput): ReleaseStatus {
    return this.overrideAs(input, this.asserted(input));
  }

  async overrideProven(input: RejectInput): Promise<ReleaseStatus> {
    const who = await this.identify('override', input.proof, detailsOf.decide(input));
    return this.overrideAs({ ...input, reason: reasonOf(input) }, who);
  }

  private overrideAs(input: RejectInput, who: Who): ReleaseStatus {
    const verdict = decideOverride(this.view(), who.by);
    if (!verdict.ok) return this.refuse(who, 'override', verdict.reason);
    const record: Override = {
      by: who.by,
      at: this.now(),
      reason: input.reason,
      ...(who.proof ? { proof: who.proof } : {}),
    };
    this.overrides[verdict.env.name] = record;
    this.status.override = record;
    this.audit('override', {
      ...attributedTo(who),
      reason: input.reason,
      env: verdict.env.name,
    });
    return this.status;
  }

  supersede({ version, env }: { version: string; env: string }): void {
    const ending = supersededBy(this.view(), this.stop !== null, env, version);
    if (ending) this.stop = ending;
  }

  recheckGate(): void {
    this.recheck = true;
  }

  /**
   * The environment's progress reports: 'verifying' moves the stage; 'done' settles the deploy. Since proofs
   * a report is only a prompt: it waits in the inbox until the pipeline confirms it with the environment.
   */
  report(report: DeployReport): void {
    if (this.confirmReports) {
      this.inbox.push(report);
      return;
    }
    this.applyReport(report);
  }

  private applyReport(report: DeployReport): void {
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

  /** The deploy being asked for under `opId`, for the environment confirming the request. */
  askedFor(opId: string): DeployAsked | null {
    return this.asking?.opId === opId ? this.asking : null;
  }

  hasReport(): boolean {
    return this.inbox.length > 0;
  }

  /**
   * The next report received for `opId`, screened: null once nothing is waiting. Reports about earlier
   * deploys of this release are dropped (environments send final reports again); reports about any other
   * operation are refused and recorded.
   */
  nextReport(opId: string): DeployReport | null {
    for (;;) {
      const report = this.inbox.shift();
      if (!report) return null;
      if (report.opId === opId) return report;
      if (this.reports.has(report.opId)) continue;
      this.refuseReport(report, `no deploy of this release has the operation id ${report.opId}`);
    }
  }

  /**
   * A received report checked against the reports the environment says it sent for the op: the environment's
   * own is applied, and returned once the deploy is done. A report it never sent is refused and recorded.
   */
  confirmReport(received: DeployReport, sent: DeployReport[] | null): DeployReport | null {
    const confirmed = confirmedReport(received, sent);
    if (!confirmed) {
      this.refuseReport(received, `environment ${received.env} sent no such report`);
      return null;
    }
    this.applyReport(confirmed);
    return confirmed.phase === 'done' ? confirmed : null;
  }

  private refuseReport(report: DeployReport, reason: string): void {
    const said = `${report.phase}${report.outcome ? ` ${report.outcome}` : ''}`;
    this.audit('deploy-report-refused', {
      actor: UNVERIFIED,
      env: typeof report.env === 'string' ? report.env.slice(0, 64) : null,
      reason: `a deploy report (${said.slice(0, 64)}) was refused: ${reason}`.slice(0, 500),
    });
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
    const verdict = admit(loaded, this.branch);
    if (!verdict.ok) {
      this.admission = { ok: false, type: verdict.type, message: verdict.message };
      return { refused: verdict.message };
    }
    this.admission = { ok: true };
    const proof = this.status.startProof;
    this.audit('release-started', {
      reason: `commit ${this.commit} on ${this.branch}`,
      via: proof ? proof.via : this.request.via,
      ...(proof ? { proof } : {}),
    });
    return { plan: verdict.plan };
  }

  /** Enters `env`: from now the release stands at its gates until it hands the deploy over. */
  enter(env: EnvironmentPlan): Ending | null {
    this.currentEnv = env.name;
    const refused = promotionRefused(env, this.branch);
    if (refused) return refused;
    this.setEnvironment(env.name, 'waiting');
    this.setGate(env);
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

  /**
   * The deploy handed to the environment: it carries the release's snapshot of the environment's settings, and
   * stays the release's answer to the environment's question (deployRequestQuery) until the next one.
   */
  deployOp(env: EnvironmentPlan, opId: string, artifact: string): DeployOp {
    const given = this.approvalsByEnv[env.name] ?? [];
    const proofs = given.flatMap((a) => (a.proof ? [proofRef(a.proof)] : []));
    const op: DeployOp = {
      kind: 'deploy',
      opId,
      releaseId: this.id,
      version: this.request.version,
      commit: this.commit,
      artifact,
      actor: this.actor,
      approvers: this.approvers(env.name),
      ...(proofs.length > 0 ? { approvals: proofs } : {}),
      spec: env.deploy,
      gated: true,
      overridden: this.overrides[env.name] !== undefined,
      requestedAt: this.now(),
    };
    const { requestedAt: _at, ...asked } = op;
    this.asking = { ...asked, env: env.name };
    return op;
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
    this.asking = null;
    this.setGate(null);
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
    this.asking = null;
    await notify.executeWithOptions({ summary: inline(`notify: release ended ${state}`) }, [
      { kind: 'release-ended', status: this.status, run: this.runId },
    ]);
    await this.drainAudit();
    if (state === 'succeeded') return this.status;
    // Failing the run lets the same version be released again (a new run of the same workflow id).
    throw ApplicationFailure.create({
      ...endFailure(this.request.app, this.request.version, ending),
      nonRetryable: true,
      details: [this.status],
    });
  }
}
