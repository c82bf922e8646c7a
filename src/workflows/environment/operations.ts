/**
 * The environment workflow's steps: answering rollback, freeze and unfreeze requests, and running a deploy or
 * a rollback from the queue. Each step reads and changes the state through EnvironmentState and asks the pure
 * rules in src/policy/ what is allowed. The order of activity calls, timers, signals and cancellations here is
 * the workflow's command sequence, which recorded histories replay: change it only behind patched().
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  sleep,
} from '@temporalio/workflow';
import type { AuditInput } from '../../audit/types.js';
import type { Proof } from '../../identity/types.js';
import type { NotifyEvent } from '../../integrations/notifier.js';
import type { ApprovalChannel } from '../../policy/approvals.js';
import {
  authorise,
  freezeUntilProblem,
  preemptionCause,
  rollbackHeldRefusal,
  rollbackRefusal,
  rollbackRequestKey,
  unfreezeProblem,
  type EnvironmentAction,
} from '../../policy/environment-rules.js';
import { SOAK_START, soakRound } from '../../policy/environment-soak.js';
import { activationSummary, soakRounds, soakTimerSummary, verifySummary } from '../../policy/temporal-ui.js';
import {
  claimedChannel,
  detailsOf,
  environmentExpectation,
  proofRecord,
  proofRef,
  replayRefusal,
  UNVERIFIED,
} from '../../policy/proofs.js';
import {
  activationResolution,
  adoptDecision,
  adoptEntry,
  adoptRequestKey,
  automaticAdoptReason,
  boundFindings,
  describeFindings,
  driftCheckable,
  driftConsequence,
  driftHold,
  driftStep,
  SHIPGATE,
} from '../../policy/drift.js';
import type { LedgerEntry } from '../../policy/ledger.js';
import type { Freeze } from '../../policy/windows.js';
import { refusedType, type RefusableAction } from '../../protocol/audit-types.js';
import { FAILURE } from '../../protocol/failures.js';
import type { ProofRecord } from '../../protocol/proof-record.js';
import type { EnvironmentPolicy, Loaded } from '../../activities/plan.js';
import { VERIFY_THREW } from '../../protocol/verification.js';
import {
  authoriseUnconfigured,
  noKnownSpecRefusal,
  stillConfiguredRefusal,
  type KnownConfig,
  type UnconfiguredAction,
} from '../../policy/config-removed.js';
import type { TargetConfig } from '../../targets/types.js';
import { deployReportSignal, recheckSignal } from '../messages.js';
import type {
  AdoptInput,
  AdoptResult,
  DeployOp,
  DeployReport,
  DeployRequest,
  DeploySpec,
  DriftResolution,
  DriftSettings,
  FreezeInput,
  RollbackAccepted,
  RollbackInput,
  RollbackOp,
  TeardownInput,
  TornDown,
  UnfreezeInput,
  VerifySpec,
} from '../types.js';
import type { EnvironmentActivities } from './activities.js';
import type { AdoptRequest, Current, EnvironmentState, OpRef } from './state.js';

type Check = { ok: boolean; detail: string; dead?: boolean };
/** The activities that touch the target: the environment's queue, or the workflow's for an unconfigured one. */
type TargetActs = Pick<
  EnvironmentActivities,
  'activateVersion' | 'verifyVersion' | 'activateAndVerifyVersion'
>;
/** How a deploy's activation and verification ended. */
type Attempt =
  { kind: 'preempted' } | { kind: 'not-started'; detail: string } | { kind: 'checked'; check: Check };

const now = () => new Date().toISOString();

/** The longest audit appends wait for a rollback (rollback-critical-path): a cold one may take a while. */
const AUDIT_HOLD_MS = 30_000;

/** Who sent a request: proven by its proof, or (replaying requests from before proofs) as it asserted. */
interface Who {
  by: string;
  via: ApprovalChannel | null;
  proof: ProofRecord | null;
}

const asserted = (req: { by?: string; via?: ApprovalChannel }): Who => ({
  by: req.by ?? '',
  via: req.via ?? null,
  proof: null,
});

export class EnvironmentOperations {
  constructor(
    private readonly state: EnvironmentState,
    private readonly acts: EnvironmentActivities,
    private readonly runId: string,
    /** Drift is looked for (runs started before drift detection replay without it). */
    private readonly drift = false,
  ) {}

  private get app() {
    return this.state.app;
  }
  private get env() {
    return this.state.env;
  }

  /** Records the refusal and fails the request with a policy failure the client maps to its exit code. */
  private refuse(action: RefusableAction, who: Who, reason: string): never {
    this.state.audit.add(refusedType(action), {
      actor: who.by,
      via: who.via,
      reason,
      ...(who.proof ? { proof: who.proof } : {}),
    });
    throw ApplicationFailure.create({ type: FAILURE.policy, message: reason, nonRetryable: true });
  }

  /** Loads the live policy and checks that `who` may take `action`. */
  private async authorised(action: EnvironmentAction, who: Who) {
    const loaded = await this.acts.loadEnvironmentPolicy({ app: this.app, env: this.env });
    return this.authorisedBy(loaded, action, who);
  }

  /** Checks `who` against a policy just loaded; remembers what it says for once the config no longer names it. */
  private authorisedBy(loaded: Loaded<{ policy: EnvironmentPolicy }>, action: EnvironmentAction, who: Who) {
    const verdict = authorise(loaded, action, who.by, this.app, this.env);
    if (!verdict.ok) return this.refuse(action, who, verdict.reason);
    this.state.rememberConfig(verdict.policy);
    return verdict.policy;
  }

  /**
   * An environment the config no longer names (its config loads): `who` must be in a group that could roll it
   * back when it was last configured, and still in it now. Refuses (recorded) otherwise.
   */
  private authorisedUnconfigured(
    action: UnconfiguredAction,
    who: Who,
    groups: Record<string, string[]>,
  ): KnownConfig {
    const { state, app, env } = this;
    const verdict = authoriseUnconfigured(state.knownConfig, groups, action, who.by, app, env);
    if (!verdict.ok) return this.refuse(action, who, verdict.reason);
    return state.knownConfig!;
  }

  /**
   * Verifies `proof` for `action` on this environment now, once: a proof accepted here before (within the
   * last minutes, across continue-as-new) is a replay. Refuses (recorded) otherwise.
   */
  private async identify(
    action: EnvironmentAction | 'teardown',
    proof: Proof,
    version: string | null,
    details: string,
  ): Promise<Who> {
    const expect = environmentExpectation(action, { app: this.app, env: this.env, version }, details, now());
    const verified = await this.acts.verifyProof({ proof, expect });
    if (!verified.ok)
      return this.refuse(
        action,
        { by: UNVERIFIED, via: claimedChannel(proof), proof: null },
        verified.reason,
      );
    const who: Who = { by: verified.login, via: verified.via, proof: proofRecord(proof, verified) };
    if (!this.state.useProof(verified.digest)) return this.refuse(action, who, replayRefusal);
    return who;
  }

  // ---- requests (Update handlers) ----

  /** A rollback request from before proofs (replayed histories): as it asserted. */
  requestRollback(req: RollbackInput): Promise<RollbackAccepted> {
    return this.rollbackAs(req, asserted(req));
  }

  async requestRollbackProven(req: RollbackInput): Promise<RollbackAccepted> {
    // A retry of a request already accepted is answered with what was accepted; nothing changes.
    const prior = this.state.priorRollback(rollbackRequestKey(req.requestId));
    if (prior) return prior;
    const identified = () => this.identify('rollback', req.proof, req.to ?? null, detailsOf.rollback(req));
    if (!patched('rollback-critical-path')) return this.rollbackAs(req, await identified());
    // Since rollback-critical-path the proof is verified and the live policy read at once (two local
    // activities in one round instead of two); the proof's verdict still decides first.
    const policy = this.acts.loadEnvironmentPolicy({ app: this.app, env: this.env });
    policy.catch(() => undefined);
    const who = await identified();
    return this.rollbackAs(req, who, await policy);
  }

  private async rollbackAs(
    req: RollbackInput,
    who: Who,
    preloaded?: Loaded<{ policy: EnvironmentPolicy }>,
  ): Promise<RollbackAccepted> {
    const { state, app, env } = this;
    const key = rollbackRequestKey(req.requestId);
    const prior = state.priorRollback(key);
    if (prior) return prior;
    const loaded = preloaded ?? (await this.acts.loadEnvironmentPolicy({ app, env }));
    // Since config-removed-ends, an environment gone from a config that loads is rolled back under what it last
    // knew: who could roll it back (still in that group now) and how it last deployed. Before, it was refused.
    let spec: DeploySpec | undefined;
    if (!loaded.ok && loaded.removed && patched('config-removed-ends')) {
      const known = this.authorisedUnconfigured('rollback', who, loaded.removed.groups);
      if (!known.spec) this.refuse('rollback', who, noKnownSpecRefusal(app, env));
      spec = known.spec;
    }
    const policy = spec ? null : this.authorisedBy(loaded, 'rollback', who);
    if (policy?.rollbackDuringWindows === 'deny') {
      const verdict = await this.acts.evaluateDeployGate({
        app,
        env,
        overridden: false,
        freezes: state.activeFreezes(),
        at: now(),
      });
      if (!verdict.allowed) this.refuse('rollback', who, rollbackHeldRefusal(verdict.blockedBy, app, env));
    }
    // Read after the awaits: a rollback queued meanwhile changes what this one starts from.
    const { from, choice } = state.chooseRollback(req.to);
    if (!choice.ok) return this.refuse('rollback', who, rollbackRefusal(choice, app, env));
    const op: RollbackOp = {
      kind: 'rollback',
      opId: key ?? state.generatedRollbackId(this.runId),
      to: choice.to,
      artifact: choice.artifact,
      actor: who.by,
      via: who.via ?? 'asserted',
      reason: req.reason,
      requestedAt: now(),
      ...(who.proof ? { proof: proofRef(who.proof) } : {}),
      ...(spec ? { spec } : {}),
    };
    const position = state.queueRollback(op);
    const fields = { actor: who.by, via: who.via, reason: req.reason };
    state.preemptDeploy(preemptionCause(choice.to, who.by), fields);
    state.audit.add('rollback-requested', {
      ...fields,
      version: choice.to,
      fromVersion: from,
      ...(who.proof ? { proof: who.proof } : {}),
    });
    return { opId: op.opId, from, to: choice.to, position };
  }

  freeze(req: FreezeInput): Promise<Freeze> {
    return this.freezeAs(req, asserted(req));
  }

  async freezeProven(req: FreezeInput): Promise<Freeze> {
    return this.freezeAs(req, await this.identify('freeze', req.proof, null, detailsOf.freeze(req)));
  }

  private async freezeAs(req: FreezeInput, who: Who): Promise<Freeze> {
    const problem = freezeUntilProblem(req.until, Date.now());
    if (problem) this.refuse('freeze', who, problem);
    await this.authorised('freeze', who);
    const freeze = this.state.addFreeze({ by: who.by, until: req.until, reason: req.reason });
    this.state.audit.add('freeze', {
      actor: who.by,
      via: who.via,
      reason: req.reason,
      outcome: `until ${req.until}`,
      ...(who.proof ? { proof: who.proof } : {}),
    });
    return freeze;
  }

  unfreeze(req: UnfreezeInput): Promise<{ removed: number }> {
    return this.unfreezeAs(asserted(req));
  }

  async unfreezeProven(req: UnfreezeInput): Promise<{ removed: number }> {
    return this.unfreezeAs(await this.identify('unfreeze', req.proof, null, detailsOf.unfreeze()));
  }

  private async unfreezeAs(who: Who): Promise<{ removed: number }> {
    await this.authorised('unfreeze', who);
    const removed = this.state.activeFreezes().length;
    const problem = unfreezeProblem(removed, this.app, this.env);
    if (problem) this.refuse('unfreeze', who, problem);
    this.state.liftFreezes();
    this.state.audit.add('unfreeze', {
      actor: who.by,
      via: who.via,
      reason: `lifted ${removed} freeze(s)`,
      ...(who.proof ? { proof: who.proof } : {}),
    });
    return { removed };
  }

  /**
   * Adopting the live state: verified and authorised (as a rollback is) here, then run by the main loop, which
   * alone touches the target, between operations. A retry with the same request id gets the first answer.
   */
  async requestAdopt(req: AdoptInput): Promise<AdoptResult> {
    const { state } = this;
    const key = adoptRequestKey(req.requestId);
    const prior = state.priorAdopt(key);
    if (prior) return 'settings' in prior ? this.adoptAnswer(prior) : prior;
    const who = await this.identify('adopt', req.proof, null, detailsOf.adopt(req));
    const policy = await this.authorised('adopt', who);
    // Read after the awaits: the same request may have arrived meanwhile.
    const again = state.priorAdopt(key);
    if (again) return 'settings' in again ? this.adoptAnswer(again) : again;
    const pending = state.requestAdopt({
      opId: key ?? state.generatedAdoptId(this.runId),
      actor: who.by,
      via: who.via,
      proof: who.proof,
      reason: req.reason,
      settings: driftSettingsOf(policy),
    });
    return this.adoptAnswer(pending);
  }

  /**
   * Teardown of an environment the config no longer names (its config loads; an unreadable one refuses): verified
   * and authorised as its rollback would be once unconfigured, then run by the main loop, which then ends the
   * workflow. A configured environment is refused: remove it from the config first.
   */
  async requestTeardown(req: TeardownInput): Promise<TornDown> {
    const { state, app, env } = this;
    const who = await this.identify('teardown', req.proof, null, detailsOf.teardown(req));
    const loaded = await this.acts.loadEnvironmentPolicy({ app, env });
    if (loaded.ok) return this.refuse('teardown', who, stillConfiguredRefusal(app, env));
    if (!loaded.removed) return this.refuse('teardown', who, loaded.message);
    this.authorisedUnconfigured('teardown', who, loaded.removed.groups);
    // Read after the awaits: another teardown may have been accepted meanwhile.
    if (state.teardown || state.tornDown)
      return this.refuse('teardown', who, `${app}/${env} is already being torn down`);
    const pending = state.requestTeardown({
      actor: who.by,
      via: who.via,
      proof: who.proof,
      reason: req.reason,
    });
    await condition(() => pending.outcome !== undefined);
    const outcome = pending.outcome!;
    if (outcome.ok) return outcome.result;
    throw ApplicationFailure.create({ ...outcome.failure, nonRetryable: true });
  }

  /** Runs the teardown waiting: the target stops what runs (local), the audit records it; the loop then ends. */
  async runTeardown(): Promise<void> {
    const { state, app, env } = this;
    const req = state.teardown!;
    const target = state.knownConfig?.spec?.target ?? state.driftSettings?.target;
    let stopped: string;
    try {
      stopped = await this.acts.teardownEnvironment({ app, env, ...(target ? { target } : {}) });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const message = `could not tear down ${app}/${env}: ${failureMessage(err)}`;
      req.outcome = { ok: false, failure: { type: FAILURE.deployFailed, message } };
      state.teardown = null;
      return;
    }
    const torn: TornDown = {
      by: req.actor,
      at: now(),
      reason: req.reason,
      version: state.current?.version ?? null,
      stopped,
    };
    state.audit.add('teardown', {
      actor: req.actor,
      via: req.via,
      version: torn.version,
      reason: req.reason,
      outcome: stopped,
      ...(req.proof ? { proof: req.proof } : {}),
    });
    state.markTornDown(torn);
    req.outcome = { ok: true, result: torn };
  }

  /** The last step of a torn-down environment: every audit record written (however long the store takes). */
  async finishAudit(): Promise<void> {
    const { audit } = this.state;
    if (audit.background) await audit.finish();
    else await this.flushAudit();
  }

  /** The answer to an adopt request once the main loop ran it: its result, or its refusal or failure. */
  private async adoptAnswer(pending: AdoptRequest): Promise<AdoptResult> {
    await condition(() => pending.outcome !== undefined);
    const outcome = pending.outcome!;
    if (outcome.ok) return outcome.result;
    const who = { by: pending.actor, via: pending.via, proof: pending.proof };
    if ('refusal' in outcome) return this.refuse('adopt', who, outcome.refusal);
    throw ApplicationFailure.create({ ...outcome.failure, nonRetryable: true });
  }

  /**
   * A deploy request, believed in nothing but its release, op id and version: the release itself is asked what
   * it deploys (a running release workflow, that very run, asking for that op now), the artifact is the build's
   * own, and actor, approvers and settings are the release's. Refused (recorded) otherwise.
   */
  async requestDeploy(request: DeployRequest): Promise<{ opId: string; position: number }> {
    const { state } = this;
    const seen = state.seenDeploy(request.opId);
    if (seen) return seen;
    const confirmation = await this.acts.confirmDeployRequest({
      app: this.app,
      env: this.env,
      releaseId: request.releaseId,
      opId: request.opId,
      version: request.version,
    });
    if (!confirmation.ok) {
      state.audit.add('deploy-refused', {
        actor: UNVERIFIED,
        version: request.version,
        releaseId: request.releaseId.slice(0, 200),
        reason: confirmation.reason,
      });
      throw ApplicationFailure.create({
        type: FAILURE.policy,
        message: confirmation.reason,
        nonRetryable: true,
      });
    }
    // Read after the await: the same request may have been queued meanwhile.
    const again = state.seenDeploy(request.opId);
    if (again) return again;
    const { asked, artifact } = confirmation;
    const { env: _env, ...fields } = asked;
    return state.queueDeploy({ ...fields, artifact, gated: true, requestedAt: now() });
  }

  // ---- the main loop's steps ----

  /**
   * Writes the queued audit records, awaiting the store (runs from before patched('audit-never-blocks')).
   * Since then the outbox's own loop writes them beside the main loop, and this does nothing.
   */
  async flushAudit(): Promise<void> {
    const { audit } = this.state;
    if (audit.background) return;
    while (audit.size > 0) audit.appended(await this.acts.recordAudit(audit.take()));
  }

  /** Keeps GitHub deployments in step beside the main loop (patched('github-deployments')). */
  startGithubDeployments(): void {
    this.state.github.start((input) => this.acts.syncGithubDeployment(input));
  }

  /** Starts writing audit records in the background: a failing store then holds up no deploy or rollback. */
  startAuditDelivery(): void {
    this.state.audit.start(this.auditIo(), { app: this.app, env: this.env });
  }

  /**
   * Before continue-as-new: stops the delivery at a safe point. False (and delivery goes on) when the run must
   * not end yet: work arrived meanwhile, or what waits is too large to carry.
   */
  async settleAuditForContinueAsNew(): Promise<boolean> {
    const { audit } = this.state;
    if (!audit.background) return true;
    await audit.pause();
    if (!this.state.hasWork() && audit.mayCarry()) return true;
    audit.resume(this.auditIo(), { app: this.app, env: this.env });
    return false;
  }

  private auditIo() {
    return {
      // Since rollback-critical-path, appends wait while a rollback is next or running (at most AUDIT_HOLD_MS):
      // the worker then serves the switch alone, and the records, kept in state meanwhile, follow in the moments
      // after it. Otherwise the activity's own promise, unwrapped: an extra async step would reorder the
      // commands of histories recorded before.
      record: (records: AuditInput[]) =>
        this.state.rollbackAhead() && patched('rollback-critical-path')
          ? condition(() => !this.state.rollbackAhead(), AUDIT_HOLD_MS).then(() =>
              this.acts.deliverAudit(records),
            )
          : this.acts.deliverAudit(records),
      notify: (event: NotifyEvent) => this.acts.notify(event),
    };
  }

  /** Tells releases again how deploys they asked for again ended. */
  async resendReports(): Promise<void> {
    for (const op of this.state.takeResends()) await this.report(op, this.state.finalReport(op));
  }

  /** Stops warm previous versions whose keepPrevious has passed (the reaper's durable timer fired). */
  async reapWarmVersions(): Promise<void> {
    this.state.reapAt = null;
    // The target block of the last deploy or rollback (known since drift detection): a cluster reaps there.
    const target = this.drift ? this.state.driftSettings?.target : undefined;
    await this.acts.reapWarmVersions({
      app: this.app,
      env: this.env,
      at: now(),
      ...(target ? { target } : {}),
    });
  }

  // ---- drift: what runs compared with the ledger's current entry ----

  /** The drift settings of the live policy, remembered for the periodic check. */
  private learnDrift(policy: EnvironmentPolicy, target?: TargetConfig): DriftSettings {
    const settings = driftSettingsOf(policy, target);
    this.state.driftSettings = settings;
    return settings;
  }

  /**
   * Compares what runs with the ledger's current entry and acts on what it finds: a new drift is recorded,
   * audited and notified once; one that no longer shows is cleared; under onDrift: adopt, what runs becomes
   * current. A check that fails (the target unreachable) changes nothing: the next one tries again.
   */
  private async checkDrift(settings: DriftSettings): Promise<void> {
    const { state, app, env } = this;
    const expected = state.expected();
    if (expected && driftCheckable(settings.target)) {
      let findings;
      try {
        findings = boundFindings(
          await this.acts.detectDrift({ app, env, target: settings.target, expected }),
        );
      } catch (err) {
        if (isCancellation(err)) throw err;
        findings = null;
      }
      const step = findings ? driftStep(state.drift, expected, findings) : { kind: 'none' as const };
      if (step.kind === 'gone') {
        const by = { by: SHIPGATE, version: expected.version, at: now() };
        await this.endDrift({ ...by, how: 'gone' }, 'what runs matches the ledger again');
      } else if (step.kind === 'new' && findings) {
        const record = state.recordDrift(expected, findings, settings.onDrift);
        state.audit.add('drift', {
          actor: SHIPGATE,
          version: expected.version,
          reason: `${describeFindings(findings)}; ${driftConsequence(settings.onDrift, app, env)}`,
          outcome: settings.onDrift,
          findings: record.findings,
        });
        await this.acts.notify({ kind: 'drift', app, env, drift: record });
      }
      if (settings.onDrift === 'adopt' && state.drift) await this.adoptAutomatically(settings);
    }
    state.scheduleDriftCheck();
  }

  /** Ends the drift in force (a deploy or rollback put a version in place, or it was undone by hand). */
  private async endDrift(resolution: DriftResolution, why: string): Promise<void> {
    const ended = this.state.resolveDrift(resolution);
    if (!ended) return;
    this.state.audit.add('drift-cleared', {
      actor: resolution.by,
      version: resolution.version,
      reason: `${ended.id} (${describeFindings(ended.findings)}) ended: ${why}`,
      outcome: resolution.how,
    });
    await this.recheckHeldReleases();
  }

  /** Releases whose deploy drift held look at their gate again now, instead of at their next timer. */
  private async recheckHeldReleases(): Promise<void> {
    for (const releaseId of this.state.takeHeld()) {
      try {
        await getExternalWorkflowHandle(releaseId).signal(recheckSignal);
      } catch {
        // A release that ended meanwhile has nothing to look at.
      }
    }
  }

  /** A deploy's drift check, after its gate: false when drift holds it (the release is told, and waits). */
  private async driftPasses(op: DeployOp): Promise<boolean> {
    const { app, env } = this;
    const loaded = await this.acts.loadEnvironmentPolicy({ app, env });
    // An unreadable config already held gated deploys at their gate; the deploy's own settings stand.
    if (!loaded.ok) return true;
    this.state.rememberConfig(loaded.policy);
    const settings = this.learnDrift(loaded.policy, op.spec.target);
    await this.checkDrift(settings);
    const held = driftHold(this.state.drift, settings.onDrift, app, env);
    if (!held) return true;
    this.state.holdRelease(op.releaseId);
    await this.report(op, { phase: 'done', outcome: 'blocked', reason: held.reason, verdict: held });
    return false;
  }

  /** The periodic check (its durable timer fired): the live settings, then what runs. */
  async checkDriftPeriodically(): Promise<void> {
    this.state.driftCheckAt = null;
    const loaded = await this.acts.loadEnvironmentPolicy({ app: this.app, env: this.env });
    if (loaded.ok) {
      this.state.rememberConfig(loaded.policy);
      await this.checkDrift(this.learnDrift(loaded.policy));
    } else this.state.scheduleDriftCheck();
  }

  /** What runs becomes the ledger's current entry (onDrift: adopt); a failed read leaves it for the next check. */
  private async adoptAutomatically(settings: DriftSettings): Promise<void> {
    const { state, app, env } = this;
    const open = state.drift;
    if (!open) return;
    let live;
    try {
      live = await this.acts.adoptLiveState({ app, env, target: settings.target });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return;
    }
    const from = state.current?.version ?? null;
    const entry = adoptEntry(
      {
        opId: state.generatedAdoptId(this.runId),
        live,
        from,
        actor: SHIPGATE,
        reason: automaticAdoptReason(open.findings),
        automatic: true,
      },
      now(),
    );
    state.adopt(entry);
    state.resolveDrift({ at: now(), how: 'adopted', by: SHIPGATE, version: live.version, opId: entry.opId });
    state.audit.add('drift-adopted', {
      actor: SHIPGATE,
      version: live.version,
      fromVersion: from,
      reason: entry.reason,
      outcome: 'succeeded',
    });
    await this.recheckHeldReleases();
  }

  /** Runs the adopt requests waiting, one at a time, between operations. */
  async runAdopts(): Promise<void> {
    for (let req = this.state.nextAdopt(); req; req = this.state.nextAdopt()) await this.adoptAs(req);
    await this.flushAudit();
  }

  private async adoptAs(req: AdoptRequest): Promise<void> {
    const { state, app, env } = this;
    let live;
    try {
      live = await this.acts.adoptLiveState({ app, env, target: req.settings.target });
    } catch (err) {
      if (isCancellation(err)) throw err;
      req.outcome = { ok: false, failure: adoptFailure(err, app, env) };
      return;
    }
    const decision = adoptDecision(state.expected(), state.drift, live, app, env);
    if (!decision.ok) {
      req.outcome = { ok: false, refusal: decision.reason };
      return;
    }
    const from = state.current?.version ?? null;
    const at = now();
    const entry = adoptEntry(
      {
        opId: req.opId,
        live,
        from,
        actor: req.actor,
        reason: req.reason,
        automatic: false,
        ...(req.proof ? { proofs: [proofRef(req.proof)] } : {}),
      },
      at,
    );
    state.adopt(entry);
    const resolved = decision.resolves
      ? state.resolveDrift({ at, how: 'adopted', by: req.actor, version: live.version, opId: req.opId })
      : null;
    state.audit.add('adopt', {
      actor: req.actor,
      via: req.via,
      version: live.version,
      fromVersion: from,
      reason: req.reason,
      outcome: 'succeeded',
      ...(resolved ? { findings: resolved.findings } : {}),
      ...(req.proof ? { proof: req.proof } : {}),
    });
    state.driftSettings = req.settings;
    state.scheduleDriftCheck();
    await this.recheckHeldReleases();
    req.outcome = {
      ok: true,
      result: { opId: req.opId, from, version: live.version, artifact: live.artifact, resolved },
    };
  }

  /** A version shipgate put in place ends the drift in force: what runs is what the ledger says again. */
  private async activated(entry: LedgerEntry): Promise<void> {
    const resolution = activationResolution(entry.action, entry.actor, entry.version, now());
    await this.endDrift(
      { ...resolution, opId: entry.opId },
      `${entry.action} of ${entry.version} by ${entry.actor}`,
    );
    this.state.scheduleDriftCheck();
  }

  /** Runs the next queued operation to its end. */
  async runNext(): Promise<void> {
    const op = this.state.start();
    if (op.kind === 'deploy') await this.deploy(op);
    else await this.rollback(op);
    this.state.finish();
    await this.flushAudit();
  }

  /** Gate check, activation and verification (preemptible), then settlement, and compensation on failure. */
  private async deploy(op: DeployOp): Promise<void> {
    const { state } = this;
    if (op.gated && !(await this.gatePasses(op))) return;
    if (this.drift && !(await this.driftPasses(op))) return;
    state.rememberSpec(op.spec);
    const entry = state.open({
      opId: op.opId,
      action: 'deploy',
      version: op.version,
      artifact: op.artifact,
      actor: op.actor,
      approvers: op.approvers,
      commit: op.commit,
      releaseId: op.releaseId,
      requestedAt: op.requestedAt,
      ...(op.approvals ? { proofs: op.approvals } : {}),
    });
    state.github.started(entry);
    const previous = state.current;
    const who = { actor: op.actor, version: op.version, releaseId: op.releaseId };
    // The outcome records say which commit and whose approvals, so a deployment record stands on its own.
    const provenance = { commit: op.commit, ...(op.approvals ? { proofs: op.approvals } : {}) };
    state.audit.add('deploy-started', {
      ...who,
      fromVersion: previous?.version ?? null,
      approvers: op.approvers,
    });
    await this.report(op, { phase: 'deploying' });
    const attempt = await this.attempt(op, entry);
    if (this.drift && attempt.kind === 'checked') await this.activated(entry);
    if (attempt.kind === 'preempted') {
      state.settle(entry, { kind: 'preempted', by: state.takePreemption(), version: op.version });
      state.audit.add('deploy-preempted', { ...who, reason: entry.failure, outcome: 'failed' });
    } else if (attempt.kind === 'not-started') {
      state.settle(entry, { kind: 'failed', failure: attempt.detail });
      state.audit.add('deploy-failed', { ...who, ...provenance, reason: attempt.detail, outcome: 'failed' });
    } else if (attempt.check.ok) {
      state.settle(entry, { kind: 'verified' });
      state.audit.add('deploy-succeeded', {
        ...who,
        ...provenance,
        fromVersion: previous?.version ?? null,
        approvers: op.approvers,
        outcome: 'succeeded',
      });
    } else {
      state.settle(entry, {
        kind: 'verification-failed',
        version: op.version,
        env: this.env,
        detail: attempt.check.detail,
      });
      state.audit.add('verification-failed', { ...who, reason: entry.failure, outcome: 'failed' });
      // GitHub hears the deploy failed before it hears of the automatic rollback's own deployment.
      state.github.ended(entry);
      if (op.spec.autoRollback) await this.compensate(op, entry, previous);
    }
    state.github.ended(entry);
    await this.report(op, state.finalReport(op));
  }

  /** Windows, freezes and external gates, checked again now the deploy is dequeued; a blocked deploy goes back. */
  private async gatePasses(op: DeployOp): Promise<boolean> {
    const verdict = await this.acts.evaluateDeployGate({
      app: this.app,
      env: this.env,
      overridden: op.overridden,
      freezes: this.state.activeFreezes(),
      at: now(),
    });
    if (!verdict.allowed)
      await this.report(op, { phase: 'done', outcome: 'blocked', reason: verdict.reason, verdict });
    return verdict.allowed;
  }

  /** Activation and verification in a scope a rollback can cancel; the target then restores the route. */
  private attempt(op: DeployOp, entry: LedgerEntry): Promise<Attempt> {
    const scope = new CancellationScope();
    return this.state.preemptible(scope, async (): Promise<Attempt> => {
      try {
        const started = await scope.run(() => this.activate(entry, op.spec));
        if (!started.ok) return { kind: 'not-started', detail: started.detail };
        await this.report(op, { phase: 'verifying' });
        return { kind: 'checked', check: await scope.run(() => this.verify(op.version, op.spec)) };
      } catch (err) {
        if (!isCancellation(err)) throw err;
        return { kind: 'preempted' };
      }
    });
  }

  /** Compensation: verification failed, so the version that served before is put back and verified. */
  private async compensate(op: DeployOp, entry: LedgerEntry, previous: Current | null): Promise<void> {
    if (!previous) {
      this.state.settle(entry, { kind: 'nothing-to-restore' });
      return;
    }
    await this.report(op, { phase: 'rolling-back' });
    const restore = this.state.open({
      opId: `${op.opId}#auto-rollback`,
      action: 'rollback',
      version: previous.version,
      artifact: previous.artifact,
      actor: 'shipgate',
      reason: `automatic: ${entry.failure}`,
      automatic: true,
      fromVersion: op.version,
      releaseId: op.releaseId,
    });
    const restored = await this.restore(restore, op.spec);
    this.state.settle(entry, {
      kind: 'compensated',
      to: previous.version,
      restored,
      failure: restore.failure,
    });
  }

  /** A requested rollback: restores its version under the environment's live deploy settings. */
  private async rollback(op: RollbackOp): Promise<void> {
    const fields = {
      opId: op.opId,
      action: 'rollback',
      version: op.to,
      artifact: op.artifact,
      actor: op.actor,
      reason: op.reason,
      ...(op.proof ? { proofs: [op.proof] } : {}),
    } as const;
    // Accepted once the config no longer named the environment: under the settings it last deployed with, on the
    // workflow's own queue (no worker may serve the environment's).
    if (op.spec) {
      const entry = this.state.open({ ...fields, requestedAt: op.requestedAt });
      await this.restore(entry, op.spec, this.acts.unconfigured);
      return;
    }
    const policy = await this.acts.loadEnvironmentPolicy({ app: this.app, env: this.env });
    if (!policy.ok) {
      this.state.open({ ...fields, outcome: 'failed', failure: policy.message, endedAt: now() });
      return;
    }
    this.state.setLedgerSize(policy.policy.ledgerSize);
    this.state.rememberConfig(policy.policy);
    // Drift found now is recorded before the rollback replaces what runs; it never holds a rollback.
    if (this.drift) await this.checkDrift(this.learnDrift(policy.policy));
    await this.restore(this.state.open({ ...fields, requestedAt: op.requestedAt }), policy.policy.deploy);
  }

  /** Puts a known-good version back and verifies it. Used by automatic and requested rollbacks. */
  private async restore(
    entry: LedgerEntry,
    spec: DeploySpec,
    acts: TargetActs = this.acts,
  ): Promise<boolean> {
    const { state } = this;
    const who = { actor: entry.actor, version: entry.version, fromVersion: entry.fromVersion };
    state.audit.add('rollback-started', { ...who, reason: entry.reason });
    state.github.started(entry);
    let check: Check;
    // Since rollback-critical-path, a rollback without a soak switches and verifies in one activity: the
    // version serves and is verified one workflow task and one activity round trip sooner.
    if (spec.verify.durationMs <= 0 && patched('rollback-critical-path'))
      check = await this.switchAndVerify(entry, spec, acts);
    else {
      const started = await this.activate(entry, spec, acts);
      if (this.drift && started.ok) await this.activated(entry);
      check = started.ok ? await this.verify(entry.version, spec, acts) : started;
    }
    if (check.ok) {
      state.settle(entry, { kind: 'verified' });
      state.markRolledBackFrom(entry.fromVersion);
      state.audit.add('rollback-succeeded', { ...who, reason: entry.reason, outcome: 'succeeded' });
    } else {
      state.settle(entry, { kind: 'failed', failure: check.detail });
      state.audit.add('rollback-failed', { ...who, reason: check.detail, outcome: 'failed' });
    }
    state.github.ended(entry);
    await this.acts.notify({ kind: 'rollback', app: this.app, env: this.env, entry });
    return check.ok;
  }

  /**
   * activate() and a one-off verify() as one activity. A switch that fails is "could not start", as activate()
   * says; a verification that threw after the switch took leaves the version serving and unverified, as before.
   */
  private async switchAndVerify(entry: LedgerEntry, spec: DeploySpec, acts: TargetActs): Promise<Check> {
    let result: { digest?: string; check: Check };
    try {
      result = await acts.activateAndVerifyVersion({
        ...this.activationInput(entry, spec),
        verify: spec.verify,
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (!verificationThrew(err))
        return { ok: false, detail: `could not start ${entry.version}: ${failureMessage(err)}` };
      result = { check: { ok: false, detail: failureMessage(err) } };
    }
    if (result.digest) entry.digest = result.digest;
    this.state.serve(entry, spec.keepPreviousMs);
    if (this.drift) await this.activated(entry);
    return result.check;
  }

  /** What activateVersion is asked (and activateAndVerifyVersion, with the verification). */
  private activationInput(entry: LedgerEntry, spec: DeploySpec) {
    return {
      app: this.app,
      env: this.env,
      ...(spec.target ? { target: spec.target } : {}),
      port: spec.port,
      version: entry.version,
      artifact: entry.artifact,
      command: spec.command,
      strategy: spec.strategy,
      canarySteps: spec.canarySteps,
      canaryPauseMs: spec.canaryPauseMs,
      stepChecks: spec.verify.checks,
      keepPreviousMs: spec.keepPreviousMs,
      // Targets that label what they run (Kubernetes annotations) say which release and why.
      ...(entry.releaseId ? { releaseId: entry.releaseId } : {}),
      changeCause: changeCauseOf(entry),
    };
  }

  /** Makes the entry's version take the traffic; a failure to start is an answer, a cancellation is not. */
  private async activate(entry: LedgerEntry, spec: DeploySpec, acts: TargetActs = this.acts): Promise<Check> {
    let result: { digest?: string };
    try {
      const summary = activationSummary({
        action: entry.action === 'deploy' ? 'deploy' : 'rollback',
        version: entry.version,
        env: this.env,
        strategy: spec.strategy,
        automatic: entry.automatic,
      });
      result = await acts.activateVersion.executeWithOptions({ summary }, [
        this.activationInput(entry, spec),
      ]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      return { ok: false, detail: `could not start ${entry.version}: ${failureMessage(err)}` };
    }
    // The content digest the platform reports it runs, where it reports one (an image's sha256).
    if (result?.digest) entry.digest = result.digest;
    this.state.serve(entry, spec.keepPreviousMs);
    return { ok: true, detail: '' };
  }

  /**
   * A soak (verify.duration > 0) runs as rounds of checks with durable timers between them, so its progress
   * survives a worker restart and its timing is Temporal's. Without a duration the checks run once.
   */
  private async verify(version: string, spec: DeploySpec, acts: TargetActs = this.acts): Promise<Check> {
    const soak = spec.verify;
    if (soak.durationMs <= 0 || !patched('workflow-driven-soak'))
      return this.verifyOnce(version, spec, soak, acts);
    const single = { ...soak, durationMs: 0, failureLimit: 0 };
    const deadline = Date.now() + soak.durationMs;
    const rounds = soakRounds(soak.durationMs, soak.intervalMs);
    let progress = SOAK_START;
    for (;;) {
      const thisRound: [number, number] = [progress.rounds + 1, Math.max(rounds, progress.rounds + 1)];
      const checked = await this.verifyOnce(version, spec, single, acts, thisRound);
      // Soaks recorded before a dead version failed at once counted it as one failed round.
      const dead = checked.dead === true && patched('soak-fails-on-dead-version');
      const round = soakRound(
        progress,
        { ok: checked.ok, detail: checked.detail, dead },
        soak,
        Date.now(),
        deadline,
      );
      if (round.decision.done) return round.decision;
      progress = round.progress;
      const next = progress.rounds + 1;
      const ms = round.decision.sleepMs;
      await sleep(ms, { summary: soakTimerSummary(version, this.env, next, Math.max(rounds, next), ms) });
    }
  }

  private async verifyOnce(
    version: string,
    spec: DeploySpec,
    verify: VerifySpec,
    acts: TargetActs = this.acts,
    round?: [number, number],
  ): Promise<Check> {
    try {
      const summary = verifySummary(version, this.env, verify.checks.length, round);
      return await acts.verifyVersion.executeWithOptions({ summary }, [
        {
          app: this.app,
          env: this.env,
          ...(spec.target ? { target: spec.target } : {}),
          port: spec.port,
          version,
          verify,
        },
      ]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      return { ok: false, detail: failureMessage(err) };
    }
  }

  /** Tells the release how its deploy goes; a release that is gone (terminated) is not an error here. */
  private async report(op: OpRef, r: Omit<DeployReport, 'opId' | 'env'>): Promise<void> {
    const report: DeployReport = { opId: op.opId, env: this.env, ...r };
    // Kept before it is sent: the release asks whether this environment really sent what it received.
    this.state.recordReport(report);
    try {
      await getExternalWorkflowHandle(op.releaseId).signal(deployReportSignal, report);
    } catch {
      // The release may have been terminated; the ledger still holds the outcome.
    }
  }
}

/** The drift settings of a live policy; a deploy checks the target block it deploys to. */
function driftSettingsOf(policy: EnvironmentPolicy, target?: TargetConfig): DriftSettings {
  const t = target ?? policy.deploy.target;
  return { ...(t ? { target: t } : {}), onDrift: policy.onDrift, intervalMs: policy.driftIntervalMs };
}

/**
 * Why adopting failed, for the client: a target that cannot adopt is bad input (exit 2); anything else (the
 * target unreachable) is an operation that ran and failed (exit 1).
 */
function adoptFailure(err: unknown, app: string, env: string): { type: string; message: string } {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure && e.type === FAILURE.badInput)
    return { type: FAILURE.badInput, message: e.message };
  return {
    type: FAILURE.deployFailed,
    message: `could not read what runs on ${app}/${env}: ${failureMessage(err)}`,
  };
}

/** One line for `kubernetes.io/change-cause`: what, by whom, and why. */
function changeCauseOf(entry: LedgerEntry): string {
  const by = `${entry.action === 'rollback' ? 'rollback to' : entry.action} ${entry.version} by ${entry.actor}`;
  return `shipgate: ${by}${entry.reason ? `: ${entry.reason}` : ''}`.slice(0, 500);
}

/** activateAndVerifyVersion's verification threw (after its retries): the switch itself took. */
function verificationThrew(err: unknown): boolean {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e instanceof ApplicationFailure && e.type === VERIFY_THREW;
}

/** The message written for people: an ActivityFailure wraps the activity's own error. */
function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(err);
}
