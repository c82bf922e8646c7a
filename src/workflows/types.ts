import type { CarriedGithub } from './environment/github.js';
import type { DriftFinding, ExpectedState, TargetConfig } from '../targets/types.js';
import type { Proof } from '../identity/types.js';
import type { ApprovalChannel, ApprovalRule, GivenApproval } from '../policy/approvals.js';
import type { ProofRecord, ProofRef } from '../protocol/proof-record.js';
import type { Stage } from '../protocol/stages.js';
import type { Strategy } from '../protocol/strategies.js';
import type { LedgerEntry } from '../policy/ledger.js';
import type { WithArtifact } from '../policy/environment-artifact.js';
import type { Freeze, WindowVerdict } from '../policy/windows.js';
import type { AuditAnchor, AuditDegraded } from '../policy/audit-delivery.js';
import type { Released } from '../policy/release-once.js';
import type { EnvironmentHealth } from '../policy/self-healing.js';
import type { CarriedAudit } from './audit-outbox.js';
import type { KnownConfig } from '../policy/config-removed.js';

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

/**
 * A release start (the workflow's input, and the admit Update's). With an SSH proof the statement signs
 * `{ commit, branch }`; with a GitHub Actions token, commit and branch come from the token (a request that names
 * others is refused) and may be left empty. Who started it is what the proof shows, never a field.
 */
export interface ReleaseRequest {
  app: string;
  version: string;
  commit: string;
  branch: string;
  proof: Proof;
  /** @deprecated Sent before proofs; read only when replaying releases started then. */
  actor?: string;
  /** @deprecated Sent before proofs; read only when replaying releases started then. */
  via?: ApprovalChannel;
}

export interface CheckSpec {
  /** Through the target's entry point; `/` when the check has a url of its own. */
  path: string;
  /** Checks given as a full URL go there directly, not through the target. */
  url?: string;
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
  /** The local build's source folder; empty for an image build. */
  source: string;
  /** An image build's reference template, e.g. registry.example.com/checkout:{{version}}. */
  image?: string;
  groups: Record<string, string[]>;
  environments: EnvironmentPlan[];
}

export interface RefusedAttempt {
  /** The proven login, or '(unverified)' when the proof itself did not hold. */
  by: string;
  at: string;
  /** The channel: proven, or claimed by a proof that did not hold (null when it named none). */
  via: ApprovalChannel | null;
  action: 'approve' | 'reject' | 'cancel' | 'override';
  reason: string;
  /** The digest of a proof that held (absent when none did). */
  proof?: string;
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
  override: { by: string; at: string; reason: string; proof?: ProofRecord } | null;
  /** The proof of who started the release (absent from releases started before proofs). */
  startProof?: ProofRecord;
  /**
   * What a proof for this release must name right now (approve, reject, cancel, override): its first run, and
   * the environment it stands at (from entering it until it leaves; null while building or between them).
   * Absent from releases started before proofs.
   */
  proofScope?: { run: string; env: string | null };
  /**
   * The chain head the audit store returned for this release's last written records (absent until one was
   * written): Temporal history keeps it where the store's writer cannot rewrite it.
   */
  auditAnchor?: AuditAnchor | null;
  /** Set while this release's audit records cannot be written (they wait in the workflow); null otherwise. */
  auditDegraded?: AuditDegraded | null;
}

/** Legacy fields: Updates sent before proofs named who and how; read only when replaying them. */
interface Asserted {
  /** @deprecated */
  by?: string;
  /** @deprecated */
  via?: ApprovalChannel;
}

/** Approve: the proof signs `{ comment }`. */
export interface ApproveInput extends Asserted {
  proof: Proof;
  comment?: string;
}

/** Reject, cancel and override: the proof signs `{ reason }`. */
export interface RejectInput extends Asserted {
  proof: Proof;
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
  /** The proofs behind the approvals (absent from deploys requested before proofs). */
  approvals?: ProofRef[];
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
  /** The proof of who asked (absent from rollbacks requested before proofs). */
  proof?: ProofRef;
  /**
   * Set for an environment the config no longer names: the settings it last deployed with, which the rollback
   * runs under (it runs on the workflow's own task queue, as no worker may serve the environment's any more).
   */
  spec?: DeploySpec;
}

export type EnvOp = DeployOp | RollbackOp;

/**
 * A deploy request as releases send it (those started before artifacts were opaque name it `artifactDir`).
 * An environment believes nothing in it but releaseId, opId and version: it asks the release itself what it
 * deploys (deployRequestQuery) and takes the artifact from the build's own record.
 */
export type DeployRequest = WithArtifact<DeployOp>;

/** What a release answers about a deploy it is asking for now: its own record, with the approvals' proofs. */
export type DeployAsked = Omit<DeployOp, 'requestedAt'> & { env: string };

/** Rollback: the proof signs `{ reason, to }` and names `to` (or null) as its version. */
export interface RollbackInput extends Asserted {
  proof: Proof;
  to?: string;
  reason: string;
  /** Lets a client retry without rolling back twice. */
  requestId?: string;
}

/** Which operation to wait for: an op id a rollback (or deploy, or adopt) was accepted under. */
export interface AwaitOperationInput {
  opId: string;
}

export interface RollbackAccepted {
  opId: string;
  from: string | null;
  to: string;
  position: number;
}

/** Freeze: the proof signs `{ reason, until }`. */
export interface FreezeInput extends Asserted {
  proof: Proof;
  until: string;
  reason: string;
}

/** Unfreeze: the proof signs `{}`. */
export interface UnfreezeInput extends Asserted {
  proof: Proof;
}

/** Adopt: the proof signs `{ reason }` and names no version (what runs is read when the worker adopts it). */
export interface AdoptInput {
  proof: Proof;
  reason: string;
  /** Lets a client retry without adopting twice. */
  requestId?: string;
}

/** Teardown of an environment the config no longer names: the proof signs `{ reason }` and names no version. */
export interface TeardownInput {
  proof: Proof;
  reason: string;
}

/** What a teardown did: what served, what the target stopped, and who. The environment's workflow then ends. */
export interface TornDown {
  by: string;
  at: string;
  reason: string;
  /** What the ledger said served when it was torn down. */
  version: string | null;
  /** What the target did (local: the proxy and app processes it stopped). */
  stopped: string;
}

export interface AdoptResult {
  /** The ledger entry's op id. */
  opId: string;
  /** What the ledger said served before. */
  from: string | null;
  /** What runs, now the ledger's current entry. */
  version: string;
  artifact: string;
  /** The drift this adoption ended (null when none had been recorded yet). */
  resolved: DriftRecord | null;
}

/** What an environment does when what runs differs from its ledger (its `onDrift`). */
export type OnDrift = 'block' | 'adopt' | 'warn';

/** How a drift ended. */
export interface DriftResolution {
  at: string;
  /**
   * adopted: the live state became the ledger's current entry (by a person, or by onDrift: adopt);
   * deployed / rolled-back: shipgate put a version of its own in place; gone: what runs matches the ledger again
   * (undone by hand); changed: a later check found other differences (the next record).
   */
  how: 'adopted' | 'deployed' | 'rolled-back' | 'gone' | 'changed';
  by: string;
  /** The version the ledger says serves from then on. */
  version: string | null;
  /** The ledger entry that ended it (an adoption, deploy or rollback). */
  opId?: string;
}

/** One drift: what runs differs from what the ledger says serves, changed outside shipgate. */
export interface DriftRecord {
  id: string;
  /** When it was found. */
  at: string;
  /** The ledger's current entry it was compared with. */
  expected: ExpectedState;
  findings: DriftFinding[];
  /** The environment's onDrift when it was found. */
  onDrift: OnDrift;
  resolved: DriftResolution | null;
}

/** The environment's drift settings, from its live config, and the target block its checks go to. */
export interface DriftSettings {
  /** Absent where the policy names none (deploy specs from before targets had kinds: local). */
  target?: TargetConfig;
  onDrift: OnDrift;
  intervalMs: number;
}

export interface EnvironmentSnapshot {
  app: string;
  env: string;
  current: { version: string; since: string; artifact: string } | null;
  running: string | null;
  queue: { opId: string; kind: EnvOp['kind']; version: string }[];
  ledger: LedgerEntry[];
  freezes: Freeze[];
  /** The drift in force, or null (absent from environments that predate drift detection). */
  drift?: DriftRecord | null;
  /** Recent drift, oldest first, resolved ones too: what `history` shows. */
  drifts?: DriftRecord[];
  /** The chain head the audit store returned for this environment's last written records (see ReleaseStatus). */
  auditAnchor?: AuditAnchor | null;
  /** Set while this environment's audit records cannot be written (they wait in the workflow); null otherwise. */
  auditDegraded?: AuditDegraded | null;
  /**
   * Whether the version that serves answers, as the worker serving the environment last reported it (DOWN while
   * its proxy or process is dead and being restarted), and its last outage; null when no report is about it.
   */
  health?: EnvironmentHealth | null;
  /** Set once the environment was torn down (shipgate teardown): its workflow has ended. */
  tornDown?: TornDown | null;
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
    /** Digests of the proofs accepted in the last minutes, with when (epoch ms): a replay stays refused. */
    proofs?: [string, number][];
    /** The reports sent for recent deploys, which releases confirm what they received against. */
    reports?: Record<string, DeployReport[]>;
    /** Drift: recent records, the settings last read, when the next check is due and who waits on it. */
    drift?: CarriedDrift;
    /** Versions releases deployed here successfully: the re-release check, beyond the ledger's trimming. */
    released?: Released[];
    /** Audit records not yet written, the anchor, and whether delivery is degraded. */
    audit?: CarriedAudit;
    /** What the workers last reported of the serving version's health. */
    health?: EnvironmentHealth;
    /** What the environment last knew of its config: who may act on it, and how it deploys, once removed. */
    knownConfig?: KnownConfig;
    /** GitHub Deployments: transitions not yet sent, and what is known of recent operations' deployments. */
    github?: CarriedGithub;
  };
}

export interface CarriedDrift {
  log: DriftRecord[];
  /** Numbers drift records (their ids). */
  seq: number;
  settings: DriftSettings | null;
  /** When the next periodic check is due (epoch ms, workflow time). */
  checkAt: number | null;
  /** Releases whose deploy drift held, told to look at their gate again once it ends. */
  held: string[];
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
  /**
   * drift: what runs differs from the environment's ledger and its onDrift is block. removed: the config loads
   * but no longer names the app or environment (an unreadable config is a `gate` hold on `config`).
   */
  kind: 'window' | 'gate' | 'drift' | 'removed' | null;
  /** For an external gate: how long a release may wait on it before it fails. */
  gateTimeoutMs?: number;
  /** For a removed app or environment: how long a release waits for it to come back (configRemovedGrace). */
  removedGraceMs?: number;
}
