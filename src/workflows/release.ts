/**
 * One release of one app version: build, then promote along the environment chain, passing each gate.
 * Deterministic: all I/O is in activities; policy comes from the snapshot taken at start.
 */
import {
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  decideApproval,
  decideRejection,
  tally,
  type ApprovalPolicy,
  type GivenApproval,
} from '../policy/approvals.js';
import { branchAllowed } from '../policy/branches.js';
import type { AuditInput } from '../audit/types.js';
import {
  admitUpdate,
  approveSignal,
  approveUpdate,
  cancelUpdate,
  deployReportSignal,
  FAILURE,
  overrideUpdate,
  recheckSignal,
  rejectSignal,
  rejectUpdate,
  statusQuery,
  supersedeSignal,
} from './messages.js';
import { SEARCH_ATTRIBUTES } from './search-attributes.js';
import type {
  AdmitResult,
  ApproveInput,
  ApproveResult,
  DeployReport,
  EnvironmentPlan,
  ReleasePlan,
  ReleaseRequest,
  ReleaseState,
  ReleaseStatus,
  RejectInput,
} from './types.js';
import { validateApproveInput, validateReasonInput, validateReleaseRequest } from './validators.js';

const { loadReleasePlan, submitDeploy, recordAudit, supersedeOlderReleases, notify } =
  proxyActivities<Activities>({
    startToCloseTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '30s' },
  });
const { buildArtifact } = proxyActivities<Activities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 },
});
// Window evaluation needs time-zone data, so it runs as a local activity and its verdict lands in history.
const { evaluateDeployGate } = proxyLocalActivities<Activities>({ startToCloseTimeout: '30s' });

/** How long a blocked release sleeps before looking again, at most, so a lifted freeze or removed window is noticed. */
const MAX_GATE_SLEEP_MS = 15 * 60_000;

type Waiting = 'approval' | 'wait-timer' | 'window' | null;

export async function releaseWorkflow(request: ReleaseRequest): Promise<ReleaseStatus> {
  const info = workflowInfo();
  const releaseId = info.workflowId;
  const searchable = info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.app) !== undefined;
  const now = () => new Date().toISOString();

  const status: ReleaseStatus = {
    app: request.app,
    version: request.version,
    commit: request.commit,
    branch: request.branch,
    actor: request.actor,
    state: 'running',
    stage: 'building',
    reason: null,
    startedAt: now(),
    endedAt: null,
    approvals: { environment: null, required: [], given: [], refused: [] },
    environments: {},
    blockedBy: null,
    blockedUntil: null,
    override: null,
  };
  // Set once the snapshot loads; handlers registered before then read it through this binding.
  // eslint-disable-next-line prefer-const
  let plan: ReleasePlan | undefined;
  let admission: { ok: true } | { ok: false; type: string; message: string } | undefined;
  let admitCalls = 0;
  let waiting: Waiting = null;
  let gateEnv: EnvironmentPlan | null = null;
  let currentEnv: string | null = null;
  // Held in an object so TypeScript does not narrow them: message handlers change them between awaits.
  const flags = {
    stop: null as { state: ReleaseState; reason: string } | null,
    cancelRequest: null as { by: string; reason: string } | null,
  };
  let recheck = false;
  const approvalsByEnv: Record<string, GivenApproval[]> = {};
  const overrides: Record<string, { by: string; at: string; reason: string }> = {};
  const reports = new Map<string, DeployReport>();
  // A function, not a property read, so narrowing from an earlier check does not hide a later change.
  const cancelRequested = () => flags.cancelRequest;

  // ---- audit, flushed by a background loop so handlers never block on I/O ----
  const auditQueue: AuditInput[] = [];
  let auditSeq = 0;
  let finished = false;
  const audit = (type: string, fields: Partial<AuditInput> = {}) => {
    auditQueue.push({
      id: `${releaseId}@${info.firstExecutionRunId}#${auditSeq++}`,
      at: now(),
      type,
      app: request.app,
      version: request.version,
      env: currentEnv,
      actor: request.actor,
      releaseId,
      ...fields,
    });
  };
  const auditPump = (async () => {
    for (;;) {
      await condition(() => auditQueue.length > 0 || finished);
      if (auditQueue.length === 0) return;
      await recordAudit(auditQueue.splice(0));
    }
  })();

  // ---- card updates (Slack), behind patched('slack-card-updates'): once a release reached its approval gate,
  // each new approval or stage change is notified, one at a time, until the release ends ----
  const cardKey = () => `${status.stage}|${status.approvals.environment}|${status.approvals.given.length}`;
  let cardUpdates = false;
  const startCardUpdates = (notified: string) => {
    if (cardUpdates) return;
    cardUpdates = true;
    let sent = notified;
    void (async () => {
      for (;;) {
        await condition(() => status.state !== 'running' || cardKey() !== sent);
        // The end's own 'release-ended' notification carries the final state.
        if (status.state !== 'running') return;
        sent = cardKey();
        await notify({ kind: 'release-progress', status });
      }
    })();
  };

  const setStage = (stage: string) => {
    status.stage = stage;
    if (searchable) {
      upsertSearchAttributes([
        { key: SEARCH_ATTRIBUTES.stage, value: stage },
        ...(currentEnv ? [{ key: SEARCH_ATTRIBUTES.env, value: currentEnv }] : []),
      ]);
    }
  };

  const approvalPolicy = (env: EnvironmentPlan): ApprovalPolicy => ({
    rules: env.approvals,
    groups: plan?.groups ?? {},
    allowSelfApproval: env.allowSelfApproval,
    channels: env.approvalChannels,
  });

  /** Records a refused attempt in state and audit, then fails the Update with the reason (exit 3). */
  const refuse = (
    attempt: { by: string; via: ApproveInput['via'] },
    action: 'approve' | 'reject' | 'cancel' | 'override',
    reason: string,
  ): never => {
    status.approvals.refused.push({ by: attempt.by, at: now(), via: attempt.via, action, reason });
    audit(`${action}-refused`, { actor: attempt.by, via: attempt.via, reason });
    throw ApplicationFailure.create({ type: FAILURE.policy, message: reason, nonRetryable: true });
  };

  const notWaitingReason = (what: string) =>
    status.state !== 'running'
      ? `release ${request.app} ${request.version} is not waiting for ${what}: it ended ${status.state}`
      : `release ${request.app} ${request.version} is not waiting for ${what} (stage: ${status.stage})`;

  // ---- message handlers ----
  setHandler(statusQuery, () => status);

  setHandler(
    admitUpdate,
    async (req): Promise<AdmitResult> => {
      const attached = admitCalls++ > 0;
      await condition(() => admission !== undefined);
      if (admission && !admission.ok) {
        throw ApplicationFailure.create({
          type: admission.type,
          message: admission.message,
          nonRetryable: true,
        });
      }
      if (attached && req.commit !== request.commit) {
        throw ApplicationFailure.create({
          type: FAILURE.policy,
          message: `${request.app} ${request.version} is already being released from commit ${request.commit}, not ${req.commit}`,
          nonRetryable: true,
        });
      }
      return { attached, status };
    },
    { validator: validateReleaseRequest },
  );

  const approve = (input: ApproveInput): ApproveResult => {
    if (status.state !== 'running' || waiting !== 'approval' || gateEnv === null) {
      return refuse(input, 'approve', notWaitingReason('approval'));
    }
    const env = gateEnv;
    const policy = approvalPolicy(env);
    const given = (approvalsByEnv[env.name] ??= []);
    const decision = decideApproval(policy, given, { by: input.by, via: input.via, actor: request.actor });
    if (!decision.ok) return refuse(input, 'approve', decision.reason);
    const record: GivenApproval = {
      by: input.by,
      at: now(),
      via: input.via,
      ...(input.comment ? { comment: input.comment } : {}),
    };
    given.push(record);
    status.approvals.given = given;
    const t = tally(policy, given);
    audit('approval', { actor: input.by, via: input.via, reason: input.comment ?? null, env: env.name });
    return {
      environment: env.name,
      met: t.met,
      tally: t.rules.map(({ group, count, have }) => ({ group, count, have })),
    };
  };

  const reject = (input: RejectInput): ReleaseStatus => {
    if (status.state !== 'running' || waiting === null || gateEnv === null) {
      return refuse(input, 'reject', notWaitingReason('a decision'));
    }
    const rules =
      gateEnv.approvals.length > 0
        ? gateEnv.approvals
        : Object.keys(plan?.groups ?? {}).map((group) => ({ group, count: 1 }));
    const decision = decideRejection({ ...approvalPolicy(gateEnv), rules }, input.by);
    if (!decision.ok) return refuse(input, 'reject', decision.reason);
    flags.stop = { state: 'rejected', reason: `rejected by ${input.by}: ${input.reason}` };
    audit('rejection', { actor: input.by, via: input.via, reason: input.reason, env: gateEnv.name });
    return status;
  };

  setHandler(approveUpdate, approve, { validator: validateApproveInput });
  setHandler(rejectUpdate, reject, { validator: validateReasonInput });
  // Signal forms for channels that cannot wait for an answer; refusals are still recorded.
  setHandler(approveSignal, (input) => {
    try {
      validateApproveInput(input);
      approve(input);
    } catch {
      /* recorded by refuse() */
    }
  });
  setHandler(rejectSignal, (input) => {
    try {
      validateReasonInput(input);
      reject(input);
    } catch {
      /* recorded by refuse() */
    }
  });

  setHandler(
    cancelUpdate,
    (input) => {
      if (status.state !== 'running') return refuse(input, 'cancel', notWaitingReason('cancellation'));
      const lastEnv = plan?.environments[plan.environments.length - 1]?.name;
      const deployingLast = currentEnv === lastEnv && waiting === null && status.stage !== 'building';
      if (deployingLast) {
        return refuse(input, 'cancel', `the ${lastEnv} deploy has already started; roll it back instead`);
      }
      flags.cancelRequest = { by: input.by, reason: input.reason };
      if (waiting !== null)
        flags.stop = { state: 'cancelled', reason: `cancelled by ${input.by}: ${input.reason}` };
      audit('cancellation', { actor: input.by, via: input.via, reason: input.reason });
      return status;
    },
    { validator: validateReasonInput },
  );

  setHandler(
    overrideUpdate,
    (input) => {
      if (status.stage === 'awaiting-gate') {
        return refuse(
          input,
          'override',
          `cannot override ${request.app} ${request.version}: it waits for ${status.blockedBy}, an external gate, which an override never skips`,
        );
      }
      if (status.state !== 'running' || waiting !== 'window' || gateEnv === null) {
        const what =
          waiting === 'approval'
            ? 'it is waiting for approval, which an override never skips'
            : waiting === 'wait-timer'
              ? 'it is in its wait timer'
              : `it is not waiting for a window or freeze (stage: ${status.stage}, state: ${status.state})`;
        return refuse(input, 'override', `cannot override ${request.app} ${request.version}: ${what}`);
      }
      const group = gateEnv.windowOverrideGroup;
      const members = group ? (plan?.groups[group] ?? []) : [];
      if (!group || !members.some((m) => m.toLowerCase() === input.by.toLowerCase())) {
        return refuse(
          input,
          'override',
          group
            ? `${input.by} is not a member of ${group}, the group that may override windows on ${gateEnv.name}`
            : `${gateEnv.name} has no windowOverride group, so nobody may override its windows`,
        );
      }
      const record = { by: input.by, at: now(), reason: input.reason };
      overrides[gateEnv.name] = record;
      status.override = record;
      audit('override', { actor: input.by, via: input.via, reason: input.reason, env: gateEnv.name });
      return status;
    },
    { validator: validateReasonInput },
  );

  setHandler(supersedeSignal, ({ version, env }) => {
    if (status.state === 'running' && waiting !== null && gateEnv?.name === env && flags.stop === null) {
      flags.stop = {
        state: 'superseded',
        reason: `superseded by ${request.app} ${version}, a newer release at the ${env} gate`,
      };
    }
  });

  setHandler(recheckSignal, () => {
    recheck = true;
  });

  setHandler(deployReportSignal, (report) => {
    const prior = reports.get(report.opId);
    if (prior?.phase === 'done') return;
    reports.set(report.opId, report);
    const envName = report.env;
    const last = plan?.environments[plan.environments.length - 1]?.name === envName;
    if (report.phase === 'verifying') {
      status.environments[envName] = { state: 'verifying', at: now() };
      setStage(last ? `verifying-${envName}` : `smoke-${envName}`);
    }
  });

  // ---- the pipeline ----
  const end = async (state: ReleaseState, reason: string | null): Promise<ReleaseStatus> => {
    status.state = state;
    status.reason = reason;
    status.endedAt = now();
    waiting = null;
    setStage('done');
    audit('release-ended', { reason: reason ?? state, outcome: state });
    await notify({ kind: 'release-ended', status });
    finished = true;
    await auditPump;
    if (state === 'succeeded') return status;
    // A non-success ends the run as failed, so the same version may be released again (Contract).
    throw ApplicationFailure.create({
      type: `Release${state.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase())}`,
      message: `${request.app} ${request.version} ${state}${reason ? `: ${reason}` : ''}`,
      nonRetryable: true,
      details: [status],
    });
  };

  const loaded = await loadReleasePlan({ app: request.app });
  if (!loaded.ok) {
    admission = { ok: false, type: FAILURE.badInput, message: loaded.message };
    return end('failed', loaded.message);
  }
  plan = loaded.plan;
  for (const env of plan.environments) status.environments[env.name] = { state: 'pending', at: null };
  const entry = plan.environments[0]!;
  if (!branchAllowed(entry.branches, request.branch)) {
    const message = `branch ${request.branch} may not release to ${entry.name} (allowed: ${entry.branches?.join(', ')})`;
    admission = { ok: false, type: FAILURE.policy, message };
    return end('failed', message);
  }
  admission = { ok: true };
  audit('release-started', { reason: `commit ${request.commit} on ${request.branch}`, via: request.via });

  let artifactDir: string;
  try {
    artifactDir = (
      await buildArtifact({
        app: request.app,
        version: request.version,
        commit: request.commit,
        source: plan.source,
      })
    ).artifactDir;
  } catch (err) {
    return end('failed', `build failed: ${messageOf(err)}`);
  }

  for (const [index, env] of plan.environments.entries()) {
    currentEnv = env.name;
    const last = index === plan.environments.length - 1;
    if (!branchAllowed(env.branches, request.branch)) {
      return end('failed', `branch ${request.branch} may not be promoted to ${env.name}`);
    }
    status.environments[env.name] = { state: 'waiting', at: now() };
    gateEnv = env;

    if (env.approvals.length > 0) {
      if (env.supersede) {
        const older = await supersedeOlderReleases({
          app: request.app,
          env: env.name,
          version: request.version,
          releaseId,
        });
        if (older.newer)
          return end('superseded', `superseded by ${request.app} ${older.newer}, a newer release`);
      }
      status.approvals = {
        environment: env.name,
        required: env.approvals,
        given: (approvalsByEnv[env.name] ??= []),
        refused: status.approvals.refused,
      };
      waiting = 'approval';
      setStage('awaiting-approval');
      const updateCard = patched('slack-card-updates');
      const notified = cardKey();
      await notify({ kind: 'awaiting-approval', status });
      if (updateCard) startCardUpdates(notified);
      const decided = await condition(
        () => flags.stop !== null || tally(approvalPolicy(env), approvalsByEnv[env.name] ?? []).met,
        env.approvalTimeoutMs,
      );
      if (flags.stop) return end(flags.stop.state, flags.stop.reason);
      if (!decided) return end('expired', `no decision within the approval timeout on ${env.name}`);
      audit('approved', { env: env.name, approvers: (approvalsByEnv[env.name] ?? []).map((a) => a.by) });
    }

    if (env.waitTimerMs > 0) {
      waiting = 'wait-timer';
      setStage('wait-timer');
      await condition(() => flags.stop !== null, env.waitTimerMs);
      if (flags.stop) return end(flags.stop.state, flags.stop.reason);
    }

    for (let attempt = 1; ; attempt++) {
      // Windows, freezes and gates are read live, right before the deploy is handed to the environment.
      let gateSince: number | null = null;
      for (;;) {
        const verdict = await evaluateDeployGate({
          app: request.app,
          env: env.name,
          overridden: overrides[env.name] !== undefined,
          // Workflow time, so the verdict is about the moment the workflow acts (and time-skipping tests hold).
          at: now(),
        });
        if (verdict.allowed) {
          // Break-glass is announced where people look, not only recorded.
          if (overrides[env.name] && patched('notify-override')) {
            await notify({ kind: 'override', status, env: env.name, override: overrides[env.name]! });
          }
          break;
        }
        if (verdict.kind === 'gate') {
          gateSince ??= Date.now();
          if (verdict.gateTimeoutMs !== undefined && Date.now() - gateSince >= verdict.gateTimeoutMs) {
            return end(
              'failed',
              `${verdict.reason}; gave up after waiting ${Math.round(verdict.gateTimeoutMs / 60_000)} min`,
            );
          }
        } else gateSince = null;
        waiting = 'window';
        status.blockedBy = verdict.blockedBy;
        status.blockedUntil = verdict.until;
        if (status.stage !== (verdict.kind === 'gate' ? 'awaiting-gate' : 'awaiting-window')) {
          setStage(verdict.kind === 'gate' ? 'awaiting-gate' : 'awaiting-window');
          audit('held', { env: env.name, reason: verdict.reason });
        }
        const untilMs = verdict.until ? Date.parse(verdict.until) - Date.now() : MAX_GATE_SLEEP_MS;
        recheck = false;
        await condition(
          () => flags.stop !== null || recheck || overrides[env.name] !== undefined,
          Math.min(Math.max(untilMs, 1000), MAX_GATE_SLEEP_MS),
        );
        if (flags.stop) return end(flags.stop.state, flags.stop.reason);
      }
      waiting = null;
      status.blockedBy = null;
      status.blockedUntil = null;
      if (flags.cancelRequest)
        return end('cancelled', `cancelled by ${flags.cancelRequest.by}: ${flags.cancelRequest.reason}`);

      const opId = `${releaseId}@${info.firstExecutionRunId}#${env.name}#${attempt}`;
      status.environments[env.name] = { state: 'deploying', at: now() };
      setStage(`deploying-${env.name}`);
      await submitDeploy({
        app: request.app,
        env: env.name,
        op: {
          kind: 'deploy',
          opId,
          releaseId,
          version: request.version,
          commit: request.commit,
          artifactDir,
          actor: request.actor,
          approvers: (approvalsByEnv[env.name] ?? []).map((a) => a.by),
          spec: env.deploy,
          gated: true,
          overridden: overrides[env.name] !== undefined,
          requestedAt: now(),
        },
      });
      await condition(() => reports.get(opId)?.phase === 'done');
      const report = reports.get(opId)!;
      if (report.outcome === 'blocked') continue;
      if (report.outcome === 'succeeded') {
        status.environments[env.name] = { state: 'succeeded', at: now() };
        audit('deployed', { env: env.name, outcome: 'succeeded' });
        break;
      }
      const reason = report.reason ?? `${env.name} failed`;
      if (report.outcome === 'rolled-back') {
        status.environments[env.name] = { state: 'rolled-back', at: now() };
        return end(last ? 'rolled-back' : 'failed', reason);
      }
      status.environments[env.name] = { state: 'failed', at: now() };
      return end('failed', reason);
    }
    gateEnv = null;
    const cancel = cancelRequested();
    if (cancel && !last) return end('cancelled', `cancelled by ${cancel.by}: ${cancel.reason}`);
  }
  return end('succeeded', null);
}

function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}
