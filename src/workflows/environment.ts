/**
 * The single writer for one (app, environment): runs deploys and rollbacks one at a time from a queue held in
 * state, keeps the ledger and the freezes, and continues-as-new to keep its history bounded.
 */
import {
  ActivityFailure,
  ActivityCancellationType,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AuditInput } from '../audit/types.js';
import { chooseRollbackTarget, trimLedger, type LedgerEntry } from '../policy/ledger.js';
import type { Freeze } from '../policy/windows.js';
import {
  deployReportSignal,
  enqueueDeployUpdate,
  environmentQuery,
  environmentTaskQueue,
  FAILURE,
  freezeUpdate,
  rollbackUpdate,
  unfreezeUpdate,
} from './messages.js';
import type {
  DeployOp,
  DeployReport,
  DeploySpec,
  EnvironmentSnapshot,
  EnvironmentWorkflowInput,
  EnvOp,
  RollbackOp,
} from './types.js';
import { validateFreezeInput, validateRollbackInput, validateUnfreezeInput } from './validators.js';

const { recordAudit, notify } = proxyActivities<Activities>({ startToCloseTimeout: '1m' });
const { loadEnvironmentPolicy, evaluateDeployGate } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
});

/** Continue-as-new well before Temporal's own limits; the ledger and queue travel along. */
const HISTORY_LIMIT = 2000;

export async function environmentWorkflow(input: EnvironmentWorkflowInput): Promise<void> {
  const { app, env } = input;
  const info = workflowInfo();
  const now = () => new Date().toISOString();
  const reapActs = proxyActivities<Activities>({
    taskQueue: environmentTaskQueue(env, info.taskQueue),
    startToCloseTimeout: '1m',
  });
  const targetActs = proxyActivities<Activities>({
    taskQueue: environmentTaskQueue(env, info.taskQueue),
    startToCloseTimeout: '30m',
    // Short heartbeats: work a killed worker left behind is retried within seconds.
    heartbeatTimeout: '10s',
    // A preempted deploy waits until the target has put the previous route back, so nothing is half-switched.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '1s',
      maximumInterval: '10s',
      maximumAttempts: 5,
      nonRetryableErrorTypes: ['DeployFailed'],
    },
  });

  let current = input.carried?.current ?? null;
  let ledger: LedgerEntry[] = input.carried?.ledger ?? [];
  const queue: EnvOp[] = input.carried?.queue ?? [];
  let freezes: Freeze[] = input.carried?.freezes ?? [];
  let ledgerSize = input.carried?.ledgerSize ?? 200;
  let running: EnvOp | null = null;
  let deployScope: CancellationScope | null = null;
  let preemptedBy: string | null = null;
  let reapAt: number | null = input.carried?.reapAt ?? null;
  const known = new Set<string>([...ledger.map((e) => e.opId), ...queue.map((o) => o.opId)]);
  const resend: DeployOp[] = [];

  const auditQueue: AuditInput[] = [];
  let auditSeq = 0;
  const audit = (type: string, fields: Partial<AuditInput> & { actor: string }) => {
    auditQueue.push({
      id: `env/${app}/${env}@${info.runId}#${auditSeq++}`,
      at: now(),
      type,
      app,
      env,
      ...fields,
    });
  };
  const flushAudit = async () => {
    while (auditQueue.length > 0) await recordAudit(auditQueue.splice(0));
  };

  const activeFreezes = () => freezes.filter((f) => Date.parse(f.until) > Date.now());
  const snapshot = (): EnvironmentSnapshot => ({
    app,
    env,
    current,
    running: running?.opId ?? null,
    queue: queue.map((o) => ({
      opId: o.opId,
      kind: o.kind,
      version: o.kind === 'deploy' ? o.version : o.to,
    })),
    ledger,
    freezes: activeFreezes(),
  });

  const refuse = (actor: string, via: string, action: string, reason: string): never => {
    audit(`${action}-refused`, { actor, via, reason });
    throw ApplicationFailure.create({ type: FAILURE.policy, message: reason, nonRetryable: true });
  };

  setHandler(environmentQuery, snapshot);

  setHandler(
    enqueueDeployUpdate,
    (op) => {
      // Update ids dedupe only within a run, so the op id kept in state is what makes a retried request safe.
      if (known.has(op.opId)) {
        if (ledger.some((e) => e.opId === op.opId && e.outcome !== 'running')) resend.push(op);
        return { opId: op.opId, position: queue.findIndex((o) => o.opId === op.opId) };
      }
      known.add(op.opId);
      queue.push(op);
      return { opId: op.opId, position: queue.length - 1 };
    },
    { validator: (op) => validateRollbackFreeOp(op) },
  );

  setHandler(
    rollbackUpdate,
    async (req) => {
      const requestKey = req.requestId ? `rollback:${req.requestId}` : null;
      const prior = requestKey
        ? (queue.find((o) => o.opId === requestKey) ?? ledger.find((e) => e.opId === requestKey))
        : undefined;
      if (prior) {
        const to = 'to' in prior ? prior.to : prior.version;
        return {
          opId: prior.opId,
          from: current?.version ?? null,
          to,
          position: queue.findIndex((o) => o.opId === prior.opId),
        };
      }
      const policy = await loadEnvironmentPolicy({ app, env });
      if (!policy.ok) return refuse(req.by, req.via, 'rollback', policy.message);
      if (!policy.policy.rollbackers.some((m) => m.toLowerCase() === req.by.toLowerCase())) {
        return refuse(
          req.by,
          req.via,
          'rollback',
          `${req.by} may not roll back ${app}/${env}: ${policy.policy.rollbackersDescription}`,
        );
      }
      // A rollback queued behind another one targets what that one leaves serving.
      if (policy.policy.rollbackDuringWindows === 'deny') {
        const verdict = await evaluateDeployGate({
          app,
          env,
          overridden: false,
          freezes: activeFreezes(),
          at: now(),
        });
        if (!verdict.allowed) {
          return refuse(
            req.by,
            req.via,
            'rollback',
            `rollbacks of ${app}/${env} are held while ${verdict.blockedBy} blocks deploys (rollbackDuringWindows: deny)`,
          );
        }
      }
      const pendingRollback = [...queue].reverse().find((o): o is RollbackOp => o.kind === 'rollback');
      // A deploy in flight counts as current: rolling back means getting off it.
      const inFlight = running?.kind === 'deploy' ? running.version : null;
      const effectiveCurrent = pendingRollback?.to ?? inFlight ?? current?.version ?? null;
      const choice = chooseRollbackTarget(ledger, effectiveCurrent, req.to);
      if (!choice.ok) {
        const list = choice.candidates.length
          ? ` Versions it could roll back to: ${choice.candidates.join(', ')}.`
          : ' There is no version it could roll back to.';
        return refuse(
          req.by,
          req.via,
          'rollback',
          `cannot roll back ${app}/${env}: ${choice.reason}.${list}`,
        );
      }
      const op: RollbackOp = {
        kind: 'rollback',
        opId: requestKey ?? `rollback:${info.runId}:${auditSeq}:${queue.length}:${ledger.length}`,
        to: choice.to,
        artifactDir: choice.artifactDir,
        actor: req.by,
        via: req.via,
        reason: req.reason,
        requestedAt: now(),
      };
      known.add(op.opId);
      // Rollbacks go ahead of queued deploys, behind earlier rollbacks, so they never interleave.
      const firstDeploy = queue.findIndex((o) => o.kind === 'deploy');
      const position = firstDeploy === -1 ? queue.length : firstDeploy;
      queue.splice(position, 0, op);
      if (deployScope && running?.kind === 'deploy') {
        preemptedBy = `a rollback to ${choice.to} requested by ${req.by}`;
        audit('deploy-preempt-requested', {
          actor: req.by,
          via: req.via,
          reason: req.reason,
          version: running.version,
        });
        deployScope.cancel();
      }
      audit('rollback-requested', {
        actor: req.by,
        via: req.via,
        reason: req.reason,
        version: choice.to,
        fromVersion: effectiveCurrent,
      });
      return { opId: op.opId, from: effectiveCurrent, to: choice.to, position };
    },
    { validator: validateRollbackInput },
  );

  setHandler(
    freezeUpdate,
    async (req) => {
      if (Date.parse(req.until) <= Date.now())
        return refuse(req.by, req.via, 'freeze', `--until ${req.until} is in the past`);
      const policy = await loadEnvironmentPolicy({ app, env });
      if (!policy.ok) return refuse(req.by, req.via, 'freeze', policy.message);
      if (!policy.policy.freezers.some((m) => m.toLowerCase() === req.by.toLowerCase())) {
        return refuse(
          req.by,
          req.via,
          'freeze',
          `${req.by} may not freeze ${app}/${env}: ${policy.policy.freezersDescription}`,
        );
      }
      const freeze: Freeze = {
        id: `freeze-${freezes.length + 1}-${Date.now()}`,
        from: now(),
        until: req.until,
        by: req.by,
        reason: req.reason,
      };
      freezes = [...activeFreezes(), freeze];
      audit('freeze', { actor: req.by, via: req.via, reason: req.reason, outcome: `until ${req.until}` });
      return freeze;
    },
    { validator: validateFreezeInput },
  );

  setHandler(
    unfreezeUpdate,
    async (req) => {
      const policy = await loadEnvironmentPolicy({ app, env });
      if (!policy.ok) return refuse(req.by, req.via, 'unfreeze', policy.message);
      if (!policy.policy.freezers.some((m) => m.toLowerCase() === req.by.toLowerCase())) {
        return refuse(
          req.by,
          req.via,
          'unfreeze',
          `${req.by} may not unfreeze ${app}/${env}: ${policy.policy.freezersDescription}`,
        );
      }
      const removed = activeFreezes().length;
      if (removed === 0) return refuse(req.by, req.via, 'unfreeze', `${app}/${env} is not frozen`);
      freezes = [];
      audit('unfreeze', { actor: req.by, via: req.via, reason: `lifted ${removed} freeze(s)` });
      return { removed };
    },
    { validator: validateUnfreezeInput },
  );

  const report = async (op: DeployOp, r: Omit<DeployReport, 'opId' | 'env'>) => {
    try {
      await getExternalWorkflowHandle(op.releaseId).signal(deployReportSignal, { opId: op.opId, env, ...r });
    } catch {
      // The release may have been terminated; the ledger still holds the outcome.
    }
  };

  const finishedReport = (op: DeployOp): Omit<DeployReport, 'opId' | 'env'> => {
    const entry = ledger.find((e) => e.opId === op.opId);
    const outcome =
      entry?.outcome === 'succeeded'
        ? 'succeeded'
        : entry?.outcome === 'rolled-back'
          ? 'rolled-back'
          : 'failed';
    return { phase: 'done', outcome, reason: entry?.failure ?? undefined };
  };

  const newEntry = (
    fields: Partial<LedgerEntry> & Pick<LedgerEntry, 'opId' | 'action' | 'version' | 'artifactDir' | 'actor'>,
  ): LedgerEntry => {
    const entry: LedgerEntry = {
      commit: null,
      approvers: [],
      reason: null,
      fromVersion: current?.version ?? null,
      outcome: 'running',
      verifiedAt: null,
      releaseId: null,
      automatic: false,
      requestedAt: now(),
      startedAt: now(),
      endedAt: null,
      failure: null,
      ...fields,
    };
    ledger.push(entry);
    return entry;
  };

  const activateAndVerify = async (
    entry: LedgerEntry,
    spec: DeploySpec,
  ): Promise<{ ok: boolean; detail: string }> => {
    try {
      await targetActs.activateVersion({
        app,
        env,
        port: spec.port,
        version: entry.version,
        artifactDir: entry.artifactDir,
        command: spec.command,
        strategy: spec.strategy,
        canarySteps: spec.canarySteps,
        canaryPauseMs: spec.canaryPauseMs,
        stepChecks: spec.verify.checks,
        keepPreviousMs: spec.keepPreviousMs,
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return { ok: false, detail: `could not start ${entry.version}: ${failureMessage(err)}` };
    }
    current = { version: entry.version, since: now(), artifactDir: entry.artifactDir };
    reapAt = Date.now() + spec.keepPreviousMs;
    return { ok: true, detail: '' };
  };

  const verifyOnce = async (version: string, spec: DeploySpec, verifySpec = spec.verify) => {
    try {
      return await targetActs.verifyVersion({ app, env, port: spec.port, version, verify: verifySpec });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return { ok: false, detail: failureMessage(err) };
    }
  };

  /**
   * A soak (verify.duration > 0) runs as rounds of checks with durable timers between them, so its progress
   * survives a worker restart and its timing is Temporal's. Without a duration the checks run once.
   */
  const verify = async (version: string, spec: DeploySpec) => {
    const soak = spec.verify;
    if (soak.durationMs <= 0 || !patched('workflow-driven-soak')) return verifyOnce(version, spec);
    const single = { ...soak, durationMs: 0, failureLimit: 0 };
    const deadline = Date.now() + soak.durationMs;
    let failures = 0;
    let rounds = 0;
    let lastProblem = '';
    for (;;) {
      const round = await verifyOnce(version, spec, single);
      rounds++;
      if (!round.ok) {
        failures++;
        lastProblem = round.detail;
        if (failures > soak.failureLimit) {
          return {
            ok: false,
            detail: `${round.detail} (soak round ${rounds}, ${failures} failed of ${soak.failureLimit} allowed)`,
          };
        }
      }
      if (Date.now() >= deadline) {
        return {
          ok: true,
          detail: `soak: ${rounds} rounds, ${failures} failed${lastProblem ? ` (last: ${lastProblem})` : ''}`,
        };
      }
      await sleep(Math.min(soak.intervalMs, Math.max(deadline - Date.now(), 1)));
    }
  };

  const markRolledBackFrom = (version: string | null) => {
    if (!version) return;
    for (let i = ledger.length - 1; i >= 0; i--) {
      const e = ledger[i]!;
      if (e.version === version && e.outcome === 'succeeded') {
        e.outcome = 'rolled-back';
        return;
      }
    }
  };

  const runDeploy = async (op: DeployOp) => {
    if (op.gated) {
      const verdict = await evaluateDeployGate({
        app,
        env,
        overridden: op.overridden,
        freezes: activeFreezes(),
        at: now(),
      });
      if (!verdict.allowed) {
        await report(op, { phase: 'done', outcome: 'blocked', reason: verdict.reason, verdict });
        return;
      }
    }
    const entry = newEntry({
      opId: op.opId,
      action: 'deploy',
      version: op.version,
      artifactDir: op.artifactDir,
      actor: op.actor,
      approvers: op.approvers,
      commit: op.commit,
      releaseId: op.releaseId,
      requestedAt: op.requestedAt,
    });
    const previous = current;
    audit('deploy-started', {
      actor: op.actor,
      version: op.version,
      fromVersion: previous?.version ?? null,
      releaseId: op.releaseId,
      approvers: op.approvers,
    });
    await report(op, { phase: 'deploying' });
    // A rollback requested meanwhile cancels this scope: the activity stops and the target restores the route.
    deployScope = new CancellationScope();
    let started: { ok: boolean; detail: string } | undefined;
    let check: { ok: boolean; detail: string } | undefined;
    try {
      started = await deployScope.run(() => activateAndVerify(entry, op.spec));
      if (started.ok) {
        await report(op, { phase: 'verifying' });
        check = await deployScope.run(() => verify(op.version, op.spec));
      }
    } catch (err) {
      if (!isCancellation(err)) throw err;
    } finally {
      deployScope = null;
    }
    if (started === undefined || (started.ok && check === undefined)) {
      entry.outcome = 'failed';
      entry.failure = `preempted: ${preemptedBy ?? 'a rollback'} cancelled the deploy of ${op.version}`;
      entry.endedAt = now();
      preemptedBy = null;
      audit('deploy-preempted', {
        actor: op.actor,
        version: op.version,
        reason: entry.failure,
        releaseId: op.releaseId,
        outcome: 'failed',
      });
      await report(op, finishedReport(op));
      return;
    }
    if (!started.ok) {
      entry.outcome = 'failed';
      entry.failure = started.detail;
      entry.endedAt = now();
      audit('deploy-failed', {
        actor: op.actor,
        version: op.version,
        reason: started.detail,
        releaseId: op.releaseId,
        outcome: 'failed',
      });
      await report(op, finishedReport(op));
      return;
    }
    check = check!;
    entry.endedAt = now();
    if (check.ok) {
      entry.outcome = 'succeeded';
      entry.verifiedAt = now();
      audit('deploy-succeeded', {
        actor: op.actor,
        version: op.version,
        fromVersion: previous?.version ?? null,
        releaseId: op.releaseId,
        approvers: op.approvers,
        outcome: 'succeeded',
      });
      await report(op, finishedReport(op));
      return;
    }
    entry.outcome = 'failed';
    entry.failure = `verification of ${op.version} on ${env} failed: ${check.detail}`;
    audit('verification-failed', {
      actor: op.actor,
      version: op.version,
      reason: entry.failure,
      releaseId: op.releaseId,
      outcome: 'failed',
    });
    if (op.spec.autoRollback && previous) {
      await report(op, { phase: 'rolling-back' });
      const reason = `automatic: ${entry.failure}`;
      const rb = newEntry({
        opId: `${op.opId}#auto-rollback`,
        action: 'rollback',
        version: previous.version,
        artifactDir: previous.artifactDir,
        actor: 'shipgate',
        reason,
        automatic: true,
        fromVersion: op.version,
        releaseId: op.releaseId,
      });
      const restored = await restore(rb, op.spec);
      if (restored) entry.outcome = 'rolled-back';
      entry.failure = restored
        ? `${entry.failure}; rolled back to ${previous.version}`
        : `${entry.failure}; automatic rollback to ${previous.version} failed: ${rb.failure}`;
    } else if (op.spec.autoRollback) {
      entry.failure = `${entry.failure}; no earlier version to roll back to`;
    }
    await report(op, finishedReport(op));
  };

  /** Puts a known-good version back and verifies it. Used by automatic and requested rollbacks. */
  const restore = async (entry: LedgerEntry, spec: DeploySpec): Promise<boolean> => {
    audit('rollback-started', {
      actor: entry.actor,
      version: entry.version,
      fromVersion: entry.fromVersion,
      reason: entry.reason,
    });
    const started = await activateAndVerify(entry, spec);
    const check = started.ok ? await verify(entry.version, spec) : started;
    entry.endedAt = now();
    if (check.ok) {
      entry.outcome = 'succeeded';
      entry.verifiedAt = now();
      markRolledBackFrom(entry.fromVersion);
      audit('rollback-succeeded', {
        actor: entry.actor,
        version: entry.version,
        fromVersion: entry.fromVersion,
        reason: entry.reason,
        outcome: 'succeeded',
      });
    } else {
      entry.outcome = 'failed';
      entry.failure = check.detail;
      audit('rollback-failed', {
        actor: entry.actor,
        version: entry.version,
        fromVersion: entry.fromVersion,
        reason: check.detail,
        outcome: 'failed',
      });
    }
    await notify({ kind: 'rollback', app, env, entry });
    return check.ok;
  };

  const runRollback = async (op: RollbackOp) => {
    const policy = await loadEnvironmentPolicy({ app, env });
    if (!policy.ok) {
      newEntry({
        opId: op.opId,
        action: 'rollback',
        version: op.to,
        artifactDir: op.artifactDir,
        actor: op.actor,
        reason: op.reason,
        outcome: 'failed',
        failure: policy.message,
        endedAt: now(),
      });
      return;
    }
    ledgerSize = policy.policy.ledgerSize;
    const entry = newEntry({
      opId: op.opId,
      action: 'rollback',
      version: op.to,
      artifactDir: op.artifactDir,
      actor: op.actor,
      reason: op.reason,
      requestedAt: op.requestedAt,
    });
    await restore(entry, policy.policy.deploy);
  };

  const reaper = patched('reap-warm-versions');
  for (;;) {
    const woken = () =>
      queue.length > 0 || resend.length > 0 || auditQueue.length > 0 || shouldContinueAsNew();
    if (reaper && reapAt !== null) {
      // A durable timer stops the warm previous version once keepPrevious has passed, even across restarts.
      if (!(await condition(woken, Math.max(reapAt - Date.now(), 1)))) {
        reapAt = null;
        await reapActs.reapWarmVersions({ app, env, at: now() });
        continue;
      }
    } else await condition(woken);
    for (const op of resend.splice(0)) await report(op, finishedReport(op));
    await flushAudit();
    if (queue.length === 0) {
      if (!shouldContinueAsNew()) continue;
      await condition(allHandlersFinished);
      if (queue.length > 0 || resend.length > 0) continue;
      await flushAudit();
      return continueAsNew<typeof environmentWorkflow>({
        app,
        env,
        historyLimit: input.historyLimit,
        carried: { current, ledger, queue, freezes: activeFreezes(), ledgerSize, reapAt },
      });
    }
    const op = queue.shift()!;
    running = op;
    if (op.kind === 'deploy') await runDeploy(op);
    else await runRollback(op);
    running = null;
    ledger = trimLedger(ledger, ledgerSize);
    await flushAudit();
  }

  function shouldContinueAsNew(): boolean {
    const i = workflowInfo();
    return i.continueAsNewSuggested || i.historyLength > (input.historyLimit ?? HISTORY_LIMIT);
  }
}

function validateRollbackFreeOp(op: DeployOp): void {
  if (op.kind !== 'deploy' || typeof op.opId !== 'string' || typeof op.version !== 'string') {
    throw new Error('op: expected a deploy request');
  }
}

function failureMessage(err: unknown): string {
  let e: unknown = err;
  // An ActivityFailure wraps the activity's own error, whose message is the one written for people.
  while (e instanceof ActivityFailure && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(err);
}
