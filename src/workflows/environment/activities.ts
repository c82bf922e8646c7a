/** The environment workflow's activity proxies. Names, task queues and options are part of its replayed history. */
import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { FAILURE } from '../../protocol/failures.js';
import { environmentTaskQueue } from '../../protocol/ids.js';
import { AUDIT_DELIVERY } from '../audit-outbox.js';
import { GITHUB_SYNC_ATTEMPTS } from '../../integrations/github/policy.js';

/** Audit and notifications run on the workflow's own task queue. */
const { recordAudit, notify } = proxyActivities<Activities>({ startToCloseTimeout: '1m' });

/**
 * The same append with a bounded retry (patched('audit-never-blocks')): after a few tries the records stay
 * queued in the workflow and its delivery loop tries again on a durable timer, so nothing waits on the store.
 */
const { recordAudit: deliverAudit } = proxyActivities<Activities>(AUDIT_DELIVERY);

/**
 * GitHub Deployments (patched('github-deployments')): a few tries a few seconds apart, each bounded (every request
 * inside has its own 8 s timeout), then the transition is dropped; the deploy never waits for it.
 */
const { syncGithubDeployment } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: GITHUB_SYNC_ATTEMPTS,
  },
});

/**
 * Policy and gate reads and proof verification are quick and local: they decide handler answers without a
 * round trip, and their verdicts land in history.
 */
const { loadEnvironmentPolicy, evaluateDeployGate, verifyProof } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
});

/**
 * Confirming a deploy request queries the release that sent it: a regular activity, so this workflow holds no
 * task open meanwhile (the release may be asking this environment about a report).
 */
const { confirmDeployRequest } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

export function environmentActivities(env: string, workflowTaskQueue: string) {
  // Environment-specific work runs on the environment's own queue, so its credentials can stay on its workers.
  const taskQueue = environmentTaskQueue(env, workflowTaskQueue);
  const { reapWarmVersions } = proxyActivities<Activities>({ taskQueue, startToCloseTimeout: '1m' });
  const { activateVersion, verifyVersion, activateAndVerifyVersion } = proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '30m',
    // Short heartbeats: work a killed worker left behind is retried within seconds.
    heartbeatTimeout: '10s',
    // A preempted deploy waits until the target has put the previous route back, so nothing is half-switched.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '1s',
      maximumInterval: '10s',
      maximumAttempts: 5,
      nonRetryableErrorTypes: [FAILURE.deployFailed],
    },
  });
  // Drift reads the cluster (or whatever the target is): a few quick reads, retried a little. A check that
  // still fails is skipped (the deploy or rollback then reports what the target says); adopting fails the request.
  const { detectDrift, adoptLiveState } = proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '1m',
    retry: {
      initialInterval: '1s',
      maximumInterval: '5s',
      maximumAttempts: 3,
      nonRetryableErrorTypes: [FAILURE.badInput],
    },
  });
  return {
    ...unconfigured(workflowTaskQueue),
    recordAudit,
    deliverAudit,
    notify,
    syncGithubDeployment,
    loadEnvironmentPolicy,
    evaluateDeployGate,
    verifyProof,
    confirmDeployRequest,
    reapWarmVersions,
    activateVersion,
    verifyVersion,
    activateAndVerifyVersion,
    detectDrift,
    adoptLiveState,
  };
}

/**
 * For an environment the config no longer names: a rollback's activation and checks, and the teardown, run on
 * the workflow's own task queue, since no worker may serve the environment's queue any more (workers poll the
 * queues of the environments their config names).
 */
function unconfigured(taskQueue: string) {
  const { activateVersion, verifyVersion, activateAndVerifyVersion } = proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '30m',
    heartbeatTimeout: '10s',
    retry: {
      initialInterval: '1s',
      maximumInterval: '10s',
      maximumAttempts: 5,
      nonRetryableErrorTypes: [FAILURE.deployFailed],
    },
  });
  const { teardownEnvironment } = proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '5m',
    retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
  });
  return {
    unconfigured: { activateVersion, verifyVersion, activateAndVerifyVersion },
    teardownEnvironment,
  };
}

export type EnvironmentActivities = ReturnType<typeof environmentActivities>;
