/** Signals, updates and queries shared by workflows and their clients (CLI, Slack, GitHub Action). */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AdmitResult,
  ApproveInput,
  ApproveResult,
  DeployOp,
  DeployReport,
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
export const approveSignal = defineSignal<[ApproveInput]>('approve-signal');
export const rejectSignal = defineSignal<[RejectInput]>('reject-signal');
export const deployReportSignal = defineSignal<[DeployReport]>('deploy-report');
export const supersedeSignal = defineSignal<[{ by: string; version: string; env: string }]>('supersede');
export const recheckSignal = defineSignal('recheck-gate');
export const statusQuery = defineQuery<ReleaseStatus>('status');

// Environment
export const enqueueDeployUpdate = defineUpdate<{ opId: string; position: number }, [DeployOp]>(
  'enqueue-deploy',
);
export const rollbackUpdate = defineUpdate<RollbackAccepted, [RollbackInput]>('rollback');
export const freezeUpdate = defineUpdate<Freeze, [FreezeInput]>('freeze');
export const unfreezeUpdate = defineUpdate<{ removed: number }, [UnfreezeInput]>('unfreeze');
export const environmentQuery = defineQuery<EnvironmentSnapshot>('environment');

export const releaseWorkflowId = (app: string, version: string) => `release/${app}/${version}`;
export const environmentWorkflowId = (app: string, env: string) => `env/${app}/${env}`;
export const DEFAULT_TASK_QUEUE = 'shipgate';
/** Environment-specific activities (deploy, checks) run here, so production credentials can stay on production workers. */
export const environmentTaskQueue = (env: string, base = DEFAULT_TASK_QUEUE) => `${base}-env-${env}`;

/** ApplicationFailure types that clients map to exit codes. */
export const FAILURE = {
  policy: 'PolicyRefusal',
  badInput: 'BadInput',
} as const;
