/** Signals, updates and queries shared by workflows and their clients (CLI, Slack, GitHub Action). */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AdmitResult,
  AdoptInput,
  AdoptResult,
  ApproveInput,
  ApproveResult,
  AwaitOperationInput,
  DeployAsked,
  DeployReport,
  DeployRequest,
  EnvironmentSnapshot,
  FreezeInput,
  ReleaseRequest,
  ReleaseStatus,
  RejectInput,
  RollbackAccepted,
  RollbackInput,
  TeardownInput,
  TornDown,
  UnfreezeInput,
} from './types.js';
import type { Freeze } from '../policy/windows.js';
import type { Released } from '../policy/release-once.js';
import type { HealthReport } from '../policy/self-healing.js';
import type { LedgerEntry } from '../policy/ledger.js';

// Release
export const admitUpdate = defineUpdate<AdmitResult, [ReleaseRequest]>('admit');
export const approveUpdate = defineUpdate<ApproveResult, [ApproveInput]>('approve');
export const rejectUpdate = defineUpdate<ReleaseStatus, [RejectInput]>('reject');
export const cancelUpdate = defineUpdate<ReleaseStatus, [RejectInput]>('cancel');
export const overrideUpdate = defineUpdate<ReleaseStatus, [RejectInput]>('override');
export const deployReportSignal = defineSignal<[DeployReport]>('deploy-report');
export const supersedeSignal = defineSignal<[{ by: string; version: string; env: string }]>('supersede');
export const recheckSignal = defineSignal('recheck-gate');
export const statusQuery = defineQuery<ReleaseStatus>('status');
/** The deploy the release is asking for under this op id now, or null: how an environment confirms a request. */
export const deployRequestQuery = defineQuery<DeployAsked | null, [string]>('deploy-request');

// Environment
export const enqueueDeployUpdate = defineUpdate<{ opId: string; position: number }, [DeployRequest]>(
  'enqueue-deploy',
);
export const rollbackUpdate = defineUpdate<RollbackAccepted, [RollbackInput]>('rollback');
export const freezeUpdate = defineUpdate<Freeze, [FreezeInput]>('freeze');
export const unfreezeUpdate = defineUpdate<{ removed: number }, [UnfreezeInput]>('unfreeze');
/** Stops what runs on an environment the config no longer names, and ends its workflow. */
export const teardownUpdate = defineUpdate<TornDown, [TeardownInput]>('teardown');
/** Takes what runs (changed outside shipgate) as the ledger's current entry, ending the drift in force. */
export const adoptUpdate = defineUpdate<AdoptResult, [AdoptInput]>('adopt');
/**
 * Returns once the operation (a rollback, deploy or adopt) has settled: its ledger entry, or null when the
 * environment does not know the op id. What `rollback --wait` waits with instead of polling the environment.
 */
export const awaitOperationUpdate = defineUpdate<LedgerEntry | null, [AwaitOperationInput]>(
  'await-operation',
);
/**
 * A worker's report that the serving version is down (being restarted) or serves again. Only a report: it
 * changes the health shown, never what runs or the ledger, and one about another version is ignored.
 */
export const healthSignal = defineSignal<[HealthReport]>('health-report');
export const environmentQuery = defineQuery<EnvironmentSnapshot>('environment');
/** The reports the environment sent about a deploy (null when it knows none): how a release confirms one. */
export const deployReportsQuery = defineQuery<DeployReport[] | null, [string]>('deploy-reports');
/** Whether a release deployed this version here successfully (null: never): the re-release check. */
export const releasedQuery = defineQuery<Released | null, [string]>('released');

// Ids, task queues and failure types live in src/protocol; re-exported for importers of this module.
export {
  DEFAULT_TASK_QUEUE,
  environmentTaskQueue,
  environmentWorkflowId,
  releaseWorkflowId,
} from '../protocol/ids.js';
export { FAILURE } from '../protocol/failures.js';
