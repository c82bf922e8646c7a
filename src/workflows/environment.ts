/**
 * The single writer for one (app, environment): runs deploys and rollbacks one at a time from a queue held in
 * state, keeps the ledger and the freezes, watches for drift (what runs changed outside shipgate), and
 * continues-as-new to keep its history bounded.
 *
 * State lives in EnvironmentState (environment/state.ts), the steps that call activities in
 * EnvironmentOperations (environment/operations.ts), and the decisions in src/policy/. This file wires the
 * handlers and runs the loop: wait for work (or the reaper's or drift check's timer), send owed reports, write
 * the audit, run adopt requests, run the next operation, and continue as new when the history is long and
 * nothing is pending.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { duration, environmentCurrentDetails, type EnvironmentNow } from '../policy/temporal-ui.js';
import type { EnvironmentSnapshot } from './types.js';
import { environmentActivities } from './environment/activities.js';
import { EnvironmentOperations } from './environment/operations.js';
import { EnvironmentState } from './environment/state.js';
import {
  adoptUpdate,
  awaitOperationUpdate,
  deployReportsQuery,
  enqueueDeployUpdate,
  environmentQuery,
  freezeUpdate,
  healthSignal,
  releasedQuery,
  rollbackUpdate,
  teardownUpdate,
  unfreezeUpdate,
} from './messages.js';
import type { EnvironmentWorkflowInput } from './types.js';
import {
  validateAdoptInput,
  validateAwaitOperationInput,
  validateDeployRequest,
  validateFreezeInput,
  validateRollbackInput,
  validateTeardownInput,
  validateUnfreezeInput,
} from './validators.js';

/** Continue-as-new well before Temporal's own limits; the ledger and queue travel along. */
const HISTORY_LIMIT = 2000;
/** How long to wait before trying to continue as new again when what waits to be written cannot be carried. */
const CARRY_RETRY_MS = 60_000;

export async function environmentWorkflow(input: EnvironmentWorkflowInput): Promise<void> {
  const { app, env } = input;
  const info = workflowInfo();
  const state = new EnvironmentState(input, info.runId);
  // Drift detection: before deploys and rollbacks, and on a durable timer, what runs is compared with the
  // ledger. Runs started before it replay without (and take it up when they continue as new).
  const drift = patched('drift-detection');
  const ops = new EnvironmentOperations(state, environmentActivities(env, info.taskQueue), info.runId, drift);
  // Audit records are written beside the main loop, with a bounded retry: a store that fails holds up no deploy
  // or rollback, and the records wait in state (across continue-as-new) until it takes them. Runs started
  // before awaited every append in the main loop (and replay that way).
  const auditNeverBlocks = patched('audit-never-blocks');
  if (auditNeverBlocks) ops.startAuditDelivery();
  // GitHub Deployments are kept in step beside the main loop, for releases started from the Action; nothing waits
  // for GitHub. Runs started before replay without (and take it up when they continue as new).
  if (patched('github-deployments')) ops.startGithubDeployments();

  setHandler(environmentQuery, () => state.snapshot());
  setHandler(deployReportsQuery, (opId) => state.reportsOf(opId));
  setHandler(releasedQuery, (version) => state.releasedVersion(version));
  // New with self-healing; it only records a report (no command), so it needs no patch.
  setHandler(healthSignal, (report) => state.reportHealth(report));
  // Since proofs, nothing a request says is believed: deploys are confirmed with their release, and rollbacks,
  // freezes and unfreezes carry proofs verified before anything is decided. Requests recorded before then
  // replay as they were handled (patched per message: a run from before takes only proven ones from now on).
  setHandler(
    enqueueDeployUpdate,
    (op) => (patched('proven-identity') ? ops.requestDeploy(op) : state.acceptDeploy(op)),
    { validator: validateDeployRequest },
  );
  setHandler(
    rollbackUpdate,
    (req) => (patched('proven-identity') ? ops.requestRollbackProven(req) : ops.requestRollback(req)),
    { validator: validateRollbackInput },
  );
  setHandler(freezeUpdate, (req) => (patched('proven-identity') ? ops.freezeProven(req) : ops.freeze(req)), {
    validator: validateFreezeInput,
  });
  setHandler(
    unfreezeUpdate,
    (req) => (patched('proven-identity') ? ops.unfreezeProven(req) : ops.unfreeze(req)),
    { validator: validateUnfreezeInput },
  );
  // New with drift detection, so no recorded history holds one: it needs no guard.
  setHandler(adoptUpdate, (req) => ops.requestAdopt(req), { validator: validateAdoptInput });
  // New with configuration removed (no recorded history holds one): ends the workflow once it has run.
  setHandler(teardownUpdate, (req) => ops.requestTeardown(req), { validator: validateTeardownInput });
  // New, so no recorded history holds one. It only reads state and waits: it records nothing and starts nothing,
  // and the main loop (which runs the awaited op) waits for it to finish before continuing as new.
  let awaiting = 0;
  setHandler(
    awaitOperationUpdate,
    async ({ opId }) => {
      awaiting++;
      try {
        await condition(() => state.settledOperation(opId) !== undefined);
      } finally {
        awaiting--;
      }
      return state.settledOperation(opId) ?? null;
    },
    { validator: validateAwaitOperationInput },
  );

  const shouldContinueAsNew = () => {
    const i = workflowInfo();
    return i.continueAsNewSuggested || i.historyLength > (input.historyLimit ?? HISTORY_LIMIT);
  };
  const woken = () => state.hasWaiting() || shouldContinueAsNew();
  showDetails(() => state.snapshot());

  const reaper = patched('reap-warm-versions');
  /** The next durable timer: the reaper's, and (with drift detection) the periodic drift check's. */
  const nextTimer = (): number | null => {
    const due = [reaper ? state.reapAt : null, drift ? state.driftCheckAt : null].filter(
      (t): t is number => t !== null,
    );
    return due.length > 0 ? Math.min(...due) : null;
  };
  /** Waits for work; false when a durable timer fired first. */
  const waitForWork = async (): Promise<boolean> => {
    // A durable timer stops the warm previous version once keepPrevious has passed, even across restarts.
    const at = nextTimer();
    if (at !== null) {
      const ms = Math.max(at - Date.now(), 1);
      const what = [
        ...(reaper && state.reapAt === at ? ['stop the warm previous version'] : []),
        ...(drift && state.driftCheckAt === at ? ['drift check'] : []),
      ].join(' and ');
      return condition(woken, ms, { summary: `idle; next: ${what || 'timer'} in ${duration(ms)}` });
    }
    await condition(woken);
    return true;
  };
  const due = (at: number | null) => at !== null && at <= Date.now();

  for (;;) {
    if (!(await waitForWork())) {
      // Before drift detection the reaper's was the only timer.
      if (!drift || due(state.reapAt)) await ops.reapWarmVersions();
      if (drift && due(state.driftCheckAt)) {
        await ops.checkDriftPeriodically();
        await ops.flushAudit();
      }
      continue;
    }
    await ops.resendReports();
    await ops.flushAudit();
    if (state.hasPendingAdopt()) {
      await ops.runAdopts();
      continue;
    }
    if (state.hasQueued()) {
      await ops.runNext();
      continue;
    }
    if (state.teardownPending()) {
      await ops.runTeardown();
      if (!state.tornDown) continue;
      // Torn down: the requester has its answer; every record is written before the run ends.
      await condition(allHandlersFinished);
      await ops.finishAudit();
      return;
    }
    if (!shouldContinueAsNew()) continue;
    // Handlers still deciding (awaiting a policy read) finish in this run, and what they queue runs here. A
    // handler awaiting an operation finishes only once that operation has run, so queued work goes first (no
    // history from before await-operation has one: for those this waits exactly as it did).
    await condition(() => allHandlersFinished() || (awaiting > 0 && state.hasWork()));
    if (state.hasWork()) continue;
    await ops.flushAudit();
    if (!(await ops.settleAuditForContinueAsNew())) {
      // Not now: wait for the work that came, or for the store to take enough that the rest can be carried.
      await condition(() => state.hasWork() || state.audit.mayCarry(), CARRY_RETRY_MS, {
        summary: 'audit records too many to carry: continue-as-new tries again in 1m',
      });
      continue;
    }
    return continueAsNew<typeof environmentWorkflow>({
      app,
      env,
      historyLimit: input.historyLimit,
      carried: state.carried(),
    });
  }
}

/**
 * Keeps the Temporal UI's "Current Details" (the workflow metadata query) in step with what the environment
 * serves, runs, queues and holds. It issues no command, so running environments replay unchanged.
 */
function showDetails(snapshot: () => EnvironmentSnapshot): void {
  const render = () => environmentCurrentDetails(detailsView(snapshot()));
  void (async () => {
    for (;;) {
      const shown = render();
      setCurrentDetails(shown);
      await condition(() => render() !== shown);
    }
  })();
}

function detailsView(s: EnvironmentSnapshot): EnvironmentNow {
  const running = s.running ? s.ledger.find((e) => e.opId === s.running) : undefined;
  const drift = s.drift && !s.drift.resolved ? s.drift : null;
  return {
    app: s.app,
    env: s.env,
    current: s.current,
    running: running
      ? {
          action: running.action,
          version: running.version,
          actor: running.actor,
          automatic: running.automatic,
        }
      : null,
    queue: s.queue,
    freezes: s.freezes,
    drift: drift ? { at: drift.at, findings: drift.findings.length } : null,
    health: s.health ?? null,
    tornDown: s.tornDown ?? null,
    auditDegraded: Boolean(s.auditDegraded),
  };
}
