import type { TargetConfig } from '../targets/types.js';
import type { ApprovalChannel, ApprovalRule, GivenApproval } from '../policy/approvals.js';
import type { Stage } from '../protocol/stages.js';
import type { Strategy } from '../protocol/strategies.js';
import type { LedgerEntry } from '../policy/ledger.js';
import type { WithArtifact } from '../policy/environment-artifact.js';
import type { Freeze, WindowVerdict } from '../policy/windows.js';

export type ReleaseState =
  'running' | 'succeeded' | 'failed' | 'rejected' | 'expired' | 'superseded' | 'rolled-back' | 'cancelled';

export const TERMINAL_STATES: readonly ReleaseState[] = [
  'succeeded',
  'failed',
  'rejected',
  'expired',
  'superseded',
  'rolled-back',
  'cancelled',
];

export interface ReleaseRequest {
  app: string;
  version: string;
  commit: string;
  branch: string;
  actor: string;
  via: ApprovalChannel;
}

export interface CheckSpec {
  path: string;
  status: number;
  json?: Record<string, unknown>;
  timeoutMs: number;
}

export interface VerifySpec {
  checks: CheckSpec[];
  durationMs: number;
  intervalMs: number;
  failureLimit: number;
}

/** How an environment deploys, carried inside each deploy request so the release's snapshot applies. */
export interface DeploySpec {
  /** The environment's target block; absent from deploys requested before targets had kinds (local). */
  target?: TargetConfig;
  port: number;
  command: string[];
  strategy: Strategy;
  canarySteps: number[];
  canaryPauseMs?: number;
  keepPreviousMs: number;
  verify: VerifySpec;
  autoRollback: boolean;
}

export interface EnvironmentPlan {
  name: string;
  branches: string[] | null;
  approvals: ApprovalRule[];
  allowSelfApproval: boolean;
  approvalTimeoutMs: number;
  approvalChannels: ApprovalChannel[];
  waitTimerMs: number;
  windowOverrideGroup: string | null;
  supersede: boolean;
  deploy: DeploySpec;
}

/** The release's snapshot of its app's config, taken once at start and kept in history. */
export interface ReleasePlan {
  app: string;
  source: string;
  groups: Record<string, string[]>;
  environments: EnvironmentPlan[];
}

export interface RefusedAttempt {
  by: string;
  at: string;
  via: ApprovalChannel;
  action: 'approve' | 'reject' | 'cancel' | 'override';
  reason: string;
}

export interface EnvironmentProgress {
  state: 'pending' | 'waiting' | 'deploying' | 'verifying' | 'succeeded' | 'failed' | 'rolled-back';
  at: string | null;
}

export interface ReleaseStatus {
  app: string;
  version: string;
  commit: string;
  branch: string;
  actor: string;
  state: ReleaseState;
  stage: Stage;
  reason: string | null;
  startedAt: string;
  endedAt: string | null;
  approvals: {
    environment: string | null;
    required: ApprovalRule[];
    given: GivenApproval[];
    refused: RefusedAttempt[];
  };
  environments: Record<string, EnvironmentProgress>;
  blockedBy: string | null;
  blockedUntil: string | null;
  override: { by: string; at: string; reason: string } | null;
}

export interface ApproveInput {
  by: string;
  via: ApprovalChannel;
  comment?: string;
}

export interface RejectInput {
  by: string;
  via: ApprovalChannel;
  reason: string;
}

export interface ApproveResult {
  environment: string;
  tally: { group: string; count: number; have: number }[];
  met: boolean;
}

/** Admission: the first answer a release gives to whoever started or attached to it. */
export interface AdmitResult {
  attached: boolean;
  status: ReleaseStatus;
}

// ---- environment workflow ----

export interface DeployOp {
  kind: 'deploy';
  opId: string;
  releaseId: string;
  version: string;
  commit: string;
  /** Opaque reference to the built artifact, as the build returned it. */
  artifact: string;
  actor: string;
  approvers: string[];
  spec: DeploySpec;
  /** Whether windows, freezes and gates must be checked when the deploy is dequeued. */
  gated: boolean;
  overridden: boolean;
  requestedAt: string;
}

export interface RollbackOp {
  kind: 'rollback';
  opId: string;
  to: string;
  artifact: string;
  actor: string;
  via: ApprovalChannel;
  reason: string;
  requestedAt: string;
}

export type EnvOp = DeployOp | RollbackOp;

/** A deploy request as releases send it: those started before artifacts were opaque name it `artifactDir`. */
export type DeployRequest = WithArtifact<DeployOp>;

export interface RollbackInput {
  to?: string;
  by: string;
  via: ApprovalChannel;
  reason: string;
  /** Lets a client retry without rolling back twice. */
  requestId?: string;
}

export interface RollbackAccepted {
  opId: string;
  from: string | null;
  to: string;
  position: number;
}

export interface FreezeInput {
  by: string;
  via: ApprovalChannel;
  until: string;
  reason: string;
}

export interface UnfreezeInput {
  by: string;
  via: ApprovalChannel;
}

export interface EnvironmentSnapshot {
  app: string;
  env: string;
  current: { version: string; since: string; artifact: string } | null;
  running: string | null;
  queue: { opId: string; kind: EnvOp['kind']; version: string }[];
  ledger: LedgerEntry[];
  freezes: Freeze[];
}

export interface EnvironmentWorkflowInput {
  app: string;
  env: string;
  /** History length that triggers continue-as-new (default 2000); lowered by tests to exercise it. */
  historyLimit?: number;
  /** State handed over by continue-as-new; runs started before artifacts were opaque name them `artifactDir`. */
  carried?: {
    current: WithArtifact<NonNullable<EnvironmentSnapshot['current']>> | null;
    ledger: WithArtifact<LedgerEntry>[];
    queue: WithArtifact<EnvOp>[];
    freezes: Freeze[];
    ledgerSize: number;
    /** When warm previous versions may next be stopped (epoch ms). */
    reapAt?: number | null;
  };
}

/** What the environment tells a release about its deploy. */
export interface DeployReport {
  opId: string;
  env: string;
  phase: 'deploying' | 'verifying' | 'rolling-back' | 'done';
  outcome?: 'succeeded' | 'failed' | 'rolled-back' | 'blocked';
  reason?: string;
  verdict?: WindowVerdict;
}

export interface GateVerdict extends WindowVerdict {
  kind: 'window' | 'gate' | null;
  /** For an external gate: how long a release may wait on it before it fails. */
  gateTimeoutMs?: number;
}
