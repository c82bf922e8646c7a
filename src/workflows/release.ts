/**
 * One release of one app version: build, then promote along the environment chain. In each environment the
 * release passes its approval gate, its wait timer and its deploy gate (windows, freezes, external gates), then
 * hands the deploy to the environment workflow and awaits its report; a deploy the environment rolled back
 * (the automatic rollback) ends the release.
 *
 * Deterministic: all I/O is in activities; policy comes from the snapshot taken at start. State and message
 * handling live in ./release/state.ts, the rules in src/policy/release-decisions.ts. The steps are generators
 * (see ./release/steps.ts for why). Running releases replay this code: change a command only behind patched().
 */
import { ApplicationFailure, condition, patched, setHandler } from '@temporalio/workflow';
import {
  buildFailed,
  deployOutcome,
  expired,
  gateSleepMs,
  gateWait,
  supersededOnArrival,
  type Ending,
} from '../policy/release-decisions.js';
import { artifactOf } from '../policy/environment-artifact.js';
import { removedHold } from '../policy/config-removed.js';
import { FAILURE } from '../protocol/failures.js';
import { approvalTimeoutSummary, holdSummary, inline, waitTimerSummary } from '../policy/temporal-ui.js';
import {
  admitUpdate,
  approveUpdate,
  cancelUpdate,
  deployReportSignal,
  deployRequestQuery,
  overrideUpdate,
  recheckSignal,
  rejectUpdate,
  statusQuery,
  supersedeSignal,
} from './messages.js';
import {
  buildArtifact,
  confirmDeployReport,
  evaluateDeployGate,
  loadReleasePlan,
  notify,
  releasedVersion,
  submitDeploy,
  supersedeOlderReleases,
} from './release/activities.js';
import { Release } from './release/state.js';
import { wait, type Step } from './release/steps.js';
import type { DeployReport, EnvironmentPlan, ReleasePlan, ReleaseRequest, ReleaseStatus } from './types.js';
import {
  releaseRequestProblem,
  validateApproveInput,
  validateReasonInput,
  validateReleaseRequest,
} from './validators.js';

export async function releaseWorkflow(request: ReleaseRequest): Promise<ReleaseStatus> {
  // Nothing a client sends is believed: the release checks its own input before any activity runs.
  if (request === null || typeof request !== 'object')
    throw ApplicationFailure.create({
      type: FAILURE.badInput,
      message: 'request: must be a release request',
      nonRetryable: true,
    });
  // Since proofs every privileged message carries one, verified by a local activity before anything is
  // decided; releases started before then replay with the identity their messages asserted. Handlers ask
  // again per message, so a release started before proofs takes only proven messages from now on.
  const proven = patched('proven-identity');
  const problem = releaseRequestProblem(request, { proof: proven });
  // Since audit-never-blocks, the audit is written with a bounded retry beside the pipeline (a store that is down
  // shows as "audit degraded"), and a version released before is refused from the last environment's record.
  const auditNeverBlocks = patched('audit-never-blocks');
  const release = new Release(request, proven, auditNeverBlocks);

  setHandler(statusQuery, () => release.status);
  setHandler(deployRequestQuery, (opId) => release.askedFor(opId));
  setHandler(admitUpdate, (req) => release.admit(req), { validator: validateReleaseRequest });
  setHandler(
    approveUpdate,
    (i) => (patched('proven-identity') ? release.approveProven(i) : release.approve(i)),
    {
      validator: validateApproveInput,
    },
  );
  setHandler(
    rejectUpdate,
    (i) => (patched('proven-identity') ? release.rejectProven(i) : release.reject(i)),
    {
      validator: validateReasonInput,
    },
  );
  setHandler(
    cancelUpdate,
    (i) => (patched('proven-identity') ? release.cancelProven(i) : release.cancel(i)),
    {
      validator: validateReasonInput,
    },
  );
  setHandler(
    overrideUpdate,
    (i) => (patched('proven-identity') ? release.overrideProven(i) : release.override(i)),
    {
      validator: validateReasonInput,
    },
  );
  setHandler(supersedeSignal, (newer) => release.supersede(newer));
  setHandler(recheckSignal, () => release.recheckGate());
  setHandler(deployReportSignal, (report) => release.report(report));

  if (problem) return release.refuseStart(FAILURE.badInput, problem, false);
  if (proven) {
    release.confirmReports = true;
    const refused = await release.verifyStart();
    if (refused) return release.refuseStart(FAILURE.policy, refused, true);
  }

  const loaded = await loadReleasePlan.executeWithOptions(
    { summary: inline(`read ${request.app}'s config (the release's snapshot)`) },
    [{ app: request.app }],
  );
  if (auditNeverBlocks && loaded.ok) {
    const last = loaded.plan.environments[loaded.plan.environments.length - 1];
    const prior = last
      ? await releasedVersion.executeWithOptions(
          { summary: inline(`was ${request.version} released to ${last.name} before?`) },
          [{ app: request.app, env: last.name, version: request.version }],
        )
      : null;
    if (last && prior) return release.refuseReleased(last.name, prior);
  }
  const admitted = release.admitPlan(loaded);
  if ('refused' in admitted) return release.end({ state: 'failed', reason: admitted.refused });
  const { plan } = admitted;

  let artifact: string;
  try {
    const { app, version } = request;
    const commit = release.status.commit;
    // Builds recorded before the opaque reference existed answered only `artifactDir`.
    artifact = artifactOf(
      await buildArtifact.executeWithOptions({ summary: inline(`build ${app} ${version} (${commit})`) }, [
        {
          app,
          version,
          commit,
          source: plan.source,
          ...(plan.image ? { image: plan.image } : {}),
        },
      ]),
    );
  } catch (err) {
    return release.end(buildFailed(err));
  }

  // The steps yield what they wait on; awaiting it here keeps each command at its turn (see ./release/steps.ts).
  const steps = promote(release, plan, artifact);
  for (let next = steps.next(); ; next = steps.next(await next.value)) {
    if (next.done) return release.end(next.value);
  }
}

/** Each environment in turn: enter, approval gate, wait timer, deploy (gate, hand over, await), leave. */
function* promote(r: Release, plan: ReleasePlan, artifact: string): Step<Ending> {
  for (const [index, env] of plan.environments.entries()) {
    const last = index === plan.environments.length - 1;
    const ending =
      r.enter(env) ??
      (yield* approvalGate(r, env)) ??
      (yield* waitTimer(r, env)) ??
      (yield* deploy(r, env, last, artifact)) ??
      r.leave(last);
    if (ending) return ending;
  }
  return { state: 'succeeded', reason: null };
}

/** Older releases waiting at this gate are superseded; then the approvals the environment requires. */
function* approvalGate(r: Release, env: EnvironmentPlan): Step {
  if (env.approvals.length === 0) return null;
  if (env.supersede) {
    const { app, version } = r.request;
    const older = yield* wait(
      supersedeOlderReleases.executeWithOptions(
        { summary: inline(`supersede older ${app} releases waiting at ${env.name}`) },
        [{ app, env: env.name, version, releaseId: r.id }],
      ),
    );
    if (older.newer) return supersededOnArrival(app, older.newer);
  }
  r.openApprovalGate(env);
  const updateCard = patched('slack-card-updates');
  const notified = r.cardKey();
  yield* wait(
    notify.executeWithOptions({ summary: inline(`notify: awaiting approval at ${env.name}`) }, [
      { kind: 'awaiting-approval', status: r.status, run: r.run },
    ]),
  );
  if (updateCard) r.startCardUpdates(notified);
  r.approvalTimesOutAt = Date.now() + env.approvalTimeoutMs;
  const decided = yield* wait(
    condition(() => r.stopRequested() !== null || r.approvalsMet(env), env.approvalTimeoutMs, {
      summary: approvalTimeoutSummary(env.name, env.approvalTimeoutMs),
    }),
  );
  const stop = r.stopRequested();
  if (stop) return stop;
  if (!decided) return expired(env.name);
  r.audit('approved', { env: env.name, approvers: r.approvers(env.name) });
  return null;
}

function* waitTimer(r: Release, env: EnvironmentPlan): Step {
  if (env.waitTimerMs <= 0) return null;
  r.waitUntil = Date.now() + env.waitTimerMs;
  r.startWaitTimer();
  yield* wait(
    condition(() => r.stopRequested() !== null, env.waitTimerMs, {
      summary: waitTimerSummary(env.name, env.waitTimerMs),
    }),
  );
  return r.stopRequested();
}

/** Gate, hand over, await the report; again from the gate when the environment's own check held it. */
function* deploy(r: Release, env: EnvironmentPlan, last: boolean, artifact: string): Step {
  for (let attempt = 1; ; attempt++) {
    const held = yield* deployGate(r, env);
    if (held) return held;
    const report = yield* deployAndAwait(r, env, attempt, artifact);
    const outcome = deployOutcome(report, env.name, last);
    switch (outcome.kind) {
      case 'blocked':
        continue;
      case 'succeeded':
        r.deployed(env.name);
        return null;
      case 'rolled-back':
        return automaticRollback(r, env, outcome.ending);
      case 'failed':
        r.settleEnvironment(env.name, 'failed');
        return outcome.ending;
    }
  }
}

/**
 * Windows, freezes and gates, read live right before the deploy is handed over; held until they open, or, for an
 * app or environment removed from the config, until the grace runs out (the release then ends cancelled).
 */
function* deployGate(r: Release, env: EnvironmentPlan): Step {
  let gateSince: number | null = null;
  let removedSince: number | null = null;
  for (;;) {
    const verdict = yield* wait(
      evaluateDeployGate.executeWithOptions({ summary: inline(`deploy gate of ${env.name}`) }, [
        r.gateQuery(env.name),
      ]),
    );
    if (verdict.allowed) {
      // Break-glass is announced where people look, not only recorded.
      const override = r.overrideOf(env.name);
      if (override && patched('notify-override')) {
        yield* wait(
          notify.executeWithOptions(
            { summary: inline(`notify: override at ${env.name} by ${override.by}`) },
            [{ kind: 'override', status: r.status, env: env.name, override, run: r.run }],
          ),
        );
      }
      break;
    }
    const waited = gateWait(verdict, gateSince, Date.now());
    if (waited.giveUp) return { state: 'failed', reason: waited.giveUp };
    gateSince = waited.since;
    // Since config-removed-ends, an app or environment gone from a config that loads is waited out for a bounded
    // grace, then ends the release; releases from before held on it for ever (and replay that way).
    let removedSleepMs: number | null = null;
    if (verdict.kind === 'removed' && patched('config-removed-ends')) {
      const removed = removedHold(verdict, removedSince, Date.now(), { app: r.request.app, env: env.name });
      if (removed.giveUp) return removed.giveUp;
      removedSince = removed.since;
      removedSleepMs = removed.sleepMs;
    } else removedSince = null;
    r.hold(env.name, verdict);
    const sleepMs = removedSleepMs ?? gateSleepMs(verdict.until, Date.now());
    const summary = holdSummary({
      env: env.name,
      kind: verdict.kind,
      blockedBy: verdict.blockedBy,
      until: verdict.until,
      sleepMs,
    });
    yield* wait(
      condition(() => r.stopRequested() !== null || r.gateMayHaveOpened(env.name), sleepMs, { summary }),
    );
    const stop = r.stopRequested();
    if (stop) return stop;
  }
  return r.passGate();
}

/**
 * Hands the deploy to the environment workflow, which reports back by signal. Since proofs, a report is only
 * believed once the environment confirms it sent it (anyone with a client of the namespace can signal).
 */
function* deployAndAwait(
  r: Release,
  env: EnvironmentPlan,
  attempt: number,
  artifact: string,
): Step<DeployReport> {
  const opId = r.opId(env.name, attempt);
  const confirm = patched('proven-identity');
  if (confirm) r.confirmReports = true;
  r.startDeploy(env.name);
  const { version } = r.request;
  const handOver = `hand ${version} to ${env.name}'s queue (${env.deploy.strategy})${attempt > 1 ? `, attempt ${attempt}` : ''}`;
  yield* wait(
    submitDeploy.executeWithOptions({ summary: inline(handOver) }, [
      { app: r.request.app, env: env.name, op: r.deployOp(env, opId, artifact) },
    ]),
  );
  if (!confirm) {
    yield* wait(condition(() => r.deployDone(opId)));
    return r.reportOf(opId);
  }
  for (;;) {
    yield* wait(condition(() => r.hasReport()));
    const received = r.nextReport(opId);
    if (!received) continue;
    const sent = yield* wait(
      confirmDeployReport.executeWithOptions(
        { summary: inline(`confirm ${env.name}'s report: ${received.phase}`) },
        [{ app: r.request.app, env: env.name, opId }],
      ),
    );
    const done = r.confirmReport(received, sent);
    if (done) return done;
  }
}

/**
 * Compensation: the environment verified the version, found it bad and rolled back to the previous one itself.
 * The release records the rolled-back environment and ends (rolled-back on the last environment, else failed).
 */
function automaticRollback(r: Release, env: EnvironmentPlan, ending: Ending): Ending {
  r.settleEnvironment(env.name, 'rolled-back');
  return ending;
}
