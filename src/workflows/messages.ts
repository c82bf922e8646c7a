/** Signals, updates and queries shared by workflows and their clients (CLI, Slack, GitHub Action). */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AdmitResult,
  ApproveInput,
  ApproveResult,
  DeployReport,
  DeployRequest,
  EnvironmentSnapshot,
  FreezeInput,
  ReleaseRequest,
  ReleaseStatus,
  RejectInput,
  RollbackAccepted,
  RollbackInput,
  UnfreezeInput,
} from './types.js';
import type { Freeze } from '../policy/windows.js';

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

// Environment
export const enqueueDeployUpdate = defineUpdate<{ opId: string; position: number }, [DeployRequest]>(
  'enqueue-deploy',
);
export const rollbackUpdate = defineUpdate<RollbackAccepted, [RollbackInput]>('rollback');
export const freezeUpdate = defineUpdate<Freeze, [FreezeInput]>('freeze');
export const unfreezeUpdate = defineUpdate<{ removed: number }, [UnfreezeInput]>('unfreeze');
export const environmentQuery = defineQuery<EnvironmentSnapshot>('environment');

// Ids, task queues and failure types live in src/protocol; re-exported for importers of this module.
export {
  DEFAULT_TASK_QUEUE,
  environmentTaskQueue,
  environmentWorkflowId,
  releaseWorkflowId,
} from '../protocol/ids.js';
export { FAILURE } from '../protocol/failures.js';
