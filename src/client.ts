/**
 * The operations every channel shares (CLI, Slack, GitHub Action, tests and scripts): start or attach to a
 * release, decide on it, follow it, read it; roll back, freeze, unfreeze and adopt an environment. Channels differ only
 * in how they authenticate and print. Beside it: ./client/errors.ts (failures, each with its exit code),
 * validate.ts (input checks), follow.ts (the one follow loop) and windows.ts (may an environment deploy now).
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
  type Client,
  type Connection,
  type WorkflowHandle,
} from '@temporalio/client';
import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type UpdateDefinition,
} from '@temporalio/common';
import {
  admitUpdate,
  adoptUpdate,
  approveUpdate,
  awaitOperationUpdate,
  cancelUpdate,
  environmentQuery,
  freezeUpdate,
  overrideUpdate,
  recheckSignal,
  rejectUpdate,
  rollbackUpdate,
  statusQuery,
  teardownUpdate,
  unfreezeUpdate,
} from './workflows/messages.js';
import { DEFAULT_TASK_QUEUE, environmentWorkflowId, releaseWorkflowId } from './protocol/ids.js';
import { SEARCH_ATTRIBUTES } from './protocol/search-attributes.js';
import type {
  AdmitResult,
  AdoptResult,
  ApproveResult,
  DriftRecord,
  EnvironmentSnapshot,
  ReleaseStatus,
  RollbackAccepted,
  TornDown,
} from './workflows/types.js';
import type { releaseWorkflow } from './workflows/release.js';
import type { LedgerEntry, LedgerOutcome } from './policy/ledger.js';
import { describeFindings } from './policy/drift.js';
import type { EnvironmentHealth } from './policy/self-healing.js';
import { isAlreadyReleased } from './policy/release-once.js';
import type { DriftFinding } from './targets/types.js';
import type { Freeze } from './policy/windows.js';
import { detailsDigest } from './identity/statement.js';
import { connectClient, type TemporalOptions } from './temporal/connect.js';
import {
  EnvironmentNotFoundError,
  grpcCode,
  GRPC_ALREADY_EXISTS,
  isUnknownUpdate,
  NO_WORKER_MS,
  NoWorkerError,
  OperationFailedError,
  ReleaseAlreadySucceededError,
  ReleaseEndedError,
  ReleaseNotFoundError,
  RefusedError,
} from './client/errors.js';
import { followStatus, isTerminal, type FollowOptions, type FollowResult } from './client/follow.js';
import { claimedLogin, type Prover } from './client/prove.js';
import type { Proof } from './identity/types.js';
import { isRetryableStartCode, RELEASE_START_MS, startRetryDelay } from './policy/start-retry.js';
import {
  environmentStaticDetails,
  environmentStaticSummary,
  releaseStaticDetails,
  releaseStaticSummary,
} from './policy/temporal-ui.js';

export { environmentDone, exitCodeForWait, isTerminal } from './client/follow.js';
export type { FollowOptions, FollowResult } from './client/follow.js';
export { assertedProver, claimedLogin, sshProver } from './client/prove.js';
export type { ProofRequest, Prover } from './client/prove.js';

type Decision = 'reject' | 'cancel' | 'override';
const DECISION_UPDATES = { reject: rejectUpdate, cancel: cancelUpdate, override: overrideUpdate } as const;

/** What the Temporal UI shows of an environment workflow a client starts (adopt, freeze). */
function environmentStartMetadata(app: string, env: string, proof: Proof) {
  const claimed = claimedLogin(proof);
  return {
    staticSummary: environmentStaticSummary(app, env),
    staticDetails: environmentStaticDetails(
      app,
      env,
      claimed ? `${claimed} (claimed, ${proof.kind} proof)` : `a ${proof.kind} proof`,
    ),
  };
}

/** Stages at which a release stands at an environment's gates: approvals, wait timer, window, external gate. */
const GATE_STAGES: readonly string[] = [
  'awaiting-approval',
  'wait-timer',
  'awaiting-window',
  'awaiting-gate',
];

/**
 * The environment whose gates the release stands at, or null (building, deploying, between environments,
 * ended): what a release-scoped proof names as its environment.
 */
export function gateEnvironment(s: ReleaseStatus): string | null {
  if (s.state !== 'running' || !GATE_STAGES.includes(s.stage)) return null;
  return Object.entries(s.environments).find(([, p]) => p.state === 'waiting')?.[0] ?? null;
}

/** What every privileged call takes: how to prove who asks. */
interface Proven {
  prove: Prover;
}

export interface ReleaseArgs extends Proven {
  app: string;
  version: string;
  commit: string;
  branch: string;
  /** An environment's name: follow the release until it is done there (or the release ends). */
  wait?: string;
  /** With `wait`, called with every status read while following. */
  onStatus?: (s: ReleaseStatus) => void;
}

export interface ReleaseStarted extends AdmitResult {
  workflowId: string;
  /** The release's run: what approvals, rejections, cancels and overrides are signed for. */
  runId: string;
}

interface ReleaseArgsOf extends Proven {
  app: string;
  version: string;
}

export interface ApproveArgs extends ReleaseArgsOf {
  comment?: string;
}

export interface DecisionArgs extends ReleaseArgsOf {
  /** Required from the CLI; a Slack button carries none. */
  reason?: string;
}

export interface RollbackArgs extends Proven {
  app: string;
  env: string;
  to?: string;
  reason: string;
  /** Lets a client retry without rolling back twice. */
  requestId?: string;
}

export interface FreezeArgs extends Proven {
  app: string;
  env: string;
  until: string;
  reason: string;
}

export interface UnfreezeArgs extends Proven {
  app: string;
  env: string;
}

export interface TeardownArgs extends Proven {
  app: string;
  env: string;
  reason: string;
}

export interface AdoptArgs extends Proven {
  app: string;
  env: string;
  reason: string;
  /** Lets a client retry without adopting twice. */
  requestId?: string;
}

/** A release as a privileged request sees it: the run it signs for and the environment at whose gates it is. */
interface ReleaseTarget {
  handle: WorkflowHandle;
  run: string;
  env: string | null;
  status: ReleaseStatus;
}

/** Tuning a test may change; callers leave it alone. */
export interface ShipgateClientOptions {
  /** How long one attempt of a release start may take before it is sent again (default NO_WORKER_MS). */
  startAttemptMs?: number;
}

export class ShipgateClient {
  constructor(
    readonly client: Client,
    readonly taskQueue = DEFAULT_TASK_QUEUE,
    private readonly connection?: Connection,
    private readonly options: ShipgateClientOptions = {},
  ) {}

  /** Connects, or throws UnreachableError (exit 4) naming the address within 15 s. */
  static async connect(opts: TemporalOptions, taskQueue = DEFAULT_TASK_QUEUE): Promise<ShipgateClient> {
    const { client, connection } = await connectClient(opts);
    return new ShipgateClient(client, taskQueue, connection);
  }

  /** Closes the connection this client opened (none when it was given a Client). */
  async close(): Promise<void> {
    await this.connection?.close();
  }

  // ---- releases ----

  /**
   * Starts the release, or attaches to the one running for the same app and version, with a proof for action
   * `release` (no run yet, no environment; details: commit and branch). A version that already succeeded is
   * refused (ReleaseAlreadySucceededError); one that ended otherwise starts a new run once the ended run has
   * closed (a moment after its status says it ended; later while audit degraded). With `wait`, follows the
   * release until that environment is done or it ends.
   */
  async release(args: ReleaseArgs): Promise<ReleaseStarted> {
    const { app, version, commit, branch } = args;
    await this.requireWorker();
    const proof = await args.prove({
      action: 'release',
      app,
      env: null,
      version,
      run: null,
      details: detailsDigest({ commit, branch }),
    });
    const req = { app, version, commit, branch, proof };
    const workflowId = releaseWorkflowId(app, version);
    // Search attributes are for finding releases in the UI, never for decisions: the claimed login is a hint.
    const actor = claimedLogin(proof);
    const startView = { app, version, commit, branch, claimedActor: actor, proofKind: proof.kind };
    const start = () =>
      new WithStartWorkflowOperation<typeof releaseWorkflow>('releaseWorkflow', {
        workflowId,
        taskQueue: this.taskQueue,
        args: [req],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        memo: { app, version, commit, branch },
        // What the Temporal UI lists for the run; the claimed login is labelled as a claim (see temporal-ui.md).
        staticSummary: releaseStaticSummary(startView),
        staticDetails: releaseStaticDetails(startView),
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTES.app, value: app },
          { key: SEARCH_ATTRIBUTES.version, value: version },
          ...(actor ? [{ key: SEARCH_ATTRIBUTES.actor, value: actor }] : []),
          { key: SEARCH_ATTRIBUTES.stage, value: 'building' },
        ],
      });
    let admitted: AdmitResult;
    let runId: string;
    const closeBy = Date.now() + ENDED_RUN_CLOSE_MS;
    // One id for every attempt of this request: a start sent again after a timeout is the same Update to
    // Temporal, so a run that took the first one answers with its outcome instead of admitting twice.
    const updateId = admitUpdateId(proof);
    for (;;) {
      try {
        // Each attempt is a fresh operation: the SDK lets a WithStartWorkflowOperation be used only once.
        const update = await this.startRetrying(() =>
          this.client.workflow.startUpdateWithStart(admitUpdate, {
            args: [req],
            updateId,
            waitForStage: WorkflowUpdateStage.ACCEPTED,
            startWorkflowOperation: start(),
          }),
        );
        admitted = await update.result();
        runId = admitted.status.proofScope?.run ?? update.workflowRunId ?? '';
      } catch (err) {
        // The reuse policy refuses a succeeded run; the SDK reports it as either form depending on the server.
        if (err instanceof WorkflowExecutionAlreadyStartedError || grpcCode(err) === GRPC_ALREADY_EXISTS)
          throw new ReleaseAlreadySucceededError(app, version);
        // The succeeded run is gone (retention), but the last environment remembers the version: the same answer.
        if (alreadyReleased(err)) throw new ReleaseAlreadySucceededError(app, version);
        throw err;
      }
      if (!admitted.attached || !isTerminal(admitted.status)) break;
      // Attached to a run that has ended (its status says how) but is still open, sending its last notification
      // and writing its audit records. Once it closes, the next attempt starts a new run, or is refused when
      // that run succeeded.
      if (!(await this.closed(workflowId, runId, closeBy)))
        throw new OperationFailedError(
          `${app} ${version}: its previous run ended ${admitted.status.state} but has not closed yet ` +
            `(it is still writing its audit records; see shipgate status ${app} ${version}); ` +
            'a new run can start once it closes: try again later',
        );
    }
    const started = { ...admitted, workflowId, runId };
    if (args.wait === undefined) return started;
    const { status } = await this.follow(app, version, {
      until: args.wait,
      first: admitted.status,
      onStatus: args.onStatus,
    });
    return { ...started, status };
  }

  /** The release's workflow (its latest run). */
  releaseHandle(app: string, version: string) {
    return this.client.workflow.getHandle(releaseWorkflowId(app, version));
  }

  /** The release's status; queries work on closed runs too. ReleaseNotFoundError when there is none. */
  async status(app: string, version: string): Promise<ReleaseStatus> {
    try {
      return await this.releaseHandle(app, version).query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ReleaseNotFoundError(app, version);
      throw err;
    }
  }

  /** The first run of the release's current run chain: what release-scoped proofs name (no worker needed). */
  async firstRunOf(app: string, version: string): Promise<string> {
    try {
      const d = await this.releaseHandle(app, version).describe();
      return d.raw.workflowExecutionInfo?.firstRunId || d.runId;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ReleaseNotFoundError(app, version);
      throw err;
    }
  }

  /** The status, or NoWorkerError (exit 4) when no worker answers within NO_WORKER_MS. */
  statusNow(app: string, version: string): Promise<ReleaseStatus> {
    return this.answered(() => this.status(app, version));
  }

  /** Approves at the gate the release stands at; the result holds the tally. */
  async approve(args: ApproveArgs): Promise<ApproveResult> {
    const { app, version, comment } = args;
    const target = await this.releaseTarget(app, version, 'approve');
    const proof = await args.prove({
      action: 'approve',
      app,
      env: target.env,
      version,
      run: target.run,
      details: detailsDigest({ comment }),
    });
    return this.onRelease(target, app, version, 'approve', approveUpdate, { proof, comment });
  }

  reject(args: DecisionArgs): Promise<ReleaseStatus> {
    return this.decision('reject', args);
  }

  cancel(args: DecisionArgs): Promise<ReleaseStatus> {
    return this.decision('cancel', args);
  }

  override(args: DecisionArgs): Promise<ReleaseStatus> {
    return this.decision('override', args);
  }

  /** reject, cancel and override take the same input: a proof, and why. */
  async decision(which: Decision, args: DecisionArgs): Promise<ReleaseStatus> {
    const { app, version, reason } = args;
    const target = await this.releaseTarget(app, version, which);
    const proof = await args.prove({
      action: which,
      app,
      env: target.env,
      version,
      run: target.run,
      details: detailsDigest({ reason }),
    });
    const input = reason === undefined ? { proof } : { proof, reason };
    return this.onRelease(target, app, version, which, DECISION_UPDATES[which], input as never);
  }

  /**
   * What a release-scoped proof is for: the release's first run and the environment it stands at, as its status
   * says (a worker answers it: none within NO_WORKER_MS is NoWorkerError, and nothing is sent). Releases from
   * before proofs do not say; their run comes from Temporal and the environment from the stage.
   */
  private async releaseTarget(
    app: string,
    version: string,
    action: 'approve' | Decision,
  ): Promise<ReleaseTarget> {
    const status = await this.statusNow(app, version);
    if (isTerminal(status)) throw new ReleaseEndedError(app, version, status.state, action);
    const scope = status.proofScope ?? {
      run: await this.firstRunOf(app, version),
      env: gateEnvironment(status),
    };
    // The Update goes to that run: if another run of the version started meanwhile, it is refused as ended.
    const handle = this.client.workflow.getHandle(releaseWorkflowId(app, version), scope.run);
    return { handle, run: scope.run, env: scope.env, status };
  }

  /**
   * Sends a release-scoped Update to the run the proof names. Temporal answers "not found" for a run that
   * ended meanwhile; its status (which works on closed runs, given a worker) says how it ended.
   */
  private async onRelease<Ret, Input>(
    target: ReleaseTarget,
    app: string,
    version: string,
    action: 'approve' | Decision,
    def: UpdateDefinition<Ret, [Input]>,
    input: Input,
  ): Promise<Ret> {
    try {
      return await this.update(target.handle, def, input);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return this.ended(app, version, action);
      throw err;
    }
  }

  private async ended(app: string, version: string, action: 'approve' | Decision): Promise<never> {
    // A closed run's status needs a worker to answer; without one, it is still a run that has ended.
    const s = await this.statusNow(app, version).catch((e: unknown) => {
      if (e instanceof ReleaseNotFoundError) throw e;
      return null;
    });
    throw new ReleaseEndedError(app, version, s?.state ?? null, action);
  }

  /** Follows the release until `opts.until` (an environment succeeded, or a condition) or its end. */
  follow(
    app: string,
    version: string,
    opts: FollowOptions & { first?: ReleaseStatus },
  ): Promise<FollowResult> {
    const read = (due: number | undefined) =>
      due === undefined
        ? this.status(app, version)
        : this.client.withDeadline(due, () => this.status(app, version));
    return followStatus(read, opts.first, opts);
  }

  // ---- environments ----

  environment(app: string, env: string) {
    return this.client.workflow.getHandle(environmentWorkflowId(app, env));
  }

  /** The environment's state, or null when nothing was ever deployed there. */
  async environmentState(app: string, env: string): Promise<EnvironmentSnapshot | null> {
    try {
      return await this.environment(app, env).query(environmentQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }

  /** Whether the environment's workflow exists (any run, open or closed): the server answers, no worker. */
  private async environmentExists(app: string, env: string): Promise<boolean> {
    try {
      await this.client.withDeadline(Date.now() + NO_WORKER_MS, () => this.environment(app, env).describe());
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** The environment's state (null: nothing deployed), or NoWorkerError when no worker answers in time. */
  environmentStateNow(app: string, env: string): Promise<EnvironmentSnapshot | null> {
    return this.answered(() => this.environmentState(app, env));
  }

  /** Who deployed what and when, newest first (drift among it), what serves now and the drift in force. */
  async history(app: string, env: string): Promise<EnvironmentHistory> {
    const state = await this.environmentStateNow(app, env);
    return {
      current: state?.current?.version ?? null,
      drift: state?.drift ?? null,
      rows: historyRows(state?.ledger ?? [], state?.drifts ?? []),
      audit: { auditAnchor: state?.auditAnchor ?? null, auditDegraded: state?.auditDegraded ?? null },
      health: state?.health ?? null,
    };
  }

  /**
   * Takes what runs (changed outside shipgate) as the environment's current version, ending the drift in
   * force, with a proof for action `adopt` (details: the reason). Starts the environment's workflow when
   * nothing was deployed there yet: adopting then takes over what already runs. Tells releases held at the
   * app's gates to look again.
   */
  async adopt(args: AdoptArgs): Promise<AdoptResult> {
    const { app, env, reason, requestId } = args;
    if ((await this.environmentStateNow(app, env)) === null) await this.requireWorker();
    const proof = await args.prove({
      action: 'adopt',
      app,
      env,
      version: null,
      run: null,
      details: detailsDigest({ reason }),
    });
    const start = new WithStartWorkflowOperation('environmentWorkflow', {
      workflowId: environmentWorkflowId(app, env),
      taskQueue: this.taskQueue,
      args: [{ app, env }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      ...environmentStartMetadata(app, env, proof),
    });
    const update = await this.taken(() =>
      this.client.workflow.startUpdateWithStart(adoptUpdate, {
        args: [{ proof, reason, ...(requestId ? { requestId } : {}) }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
        startWorkflowOperation: start,
      }),
    );
    const result = await update.result();
    await this.nudgeWaitingReleases(app);
    return result;
  }

  /** Queues a rollback (to `to`, or the previous good version), with a proof for action `rollback`. */
  async rollback(args: RollbackArgs): Promise<RollbackAccepted> {
    const { app, env, to, reason, requestId } = args;
    const nothing = () =>
      new EnvironmentNotFoundError(
        app,
        env,
        `cannot roll back ${app}/${env}: nothing has been deployed there`,
      );
    // Before anything is sent: the environment exists and a worker polls (both asked of the server alone, not
    // a worker's query), while the proof is signed; their answers come in the order they always did.
    const signing = args.prove({
      action: 'rollback',
      app,
      env,
      version: to ?? null,
      run: null,
      details: detailsDigest({ reason, to }),
    });
    signing.catch(() => undefined);
    const worker = this.requireWorker();
    worker.catch(() => undefined);
    if (!(await this.environmentExists(app, env))) throw nothing();
    await worker;
    const proof = await signing;
    try {
      return await this.update(this.environment(app, env), rollbackUpdate, { proof, reason, to, requestId });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw nothing();
      throw err;
    }
  }

  /**
   * Tears down an environment the config no longer names, with a proof for action `teardown` (details: the
   * reason): the target stops what runs there (local: its proxy and app processes) and its workflow ends. The
   * environment refuses while it is still configured, and refuses people not authorised by what it last knew.
   */
  async teardown(args: TeardownArgs): Promise<TornDown> {
    const { app, env, reason } = args;
    const state = await this.environmentStateNow(app, env);
    if (state === null)
      throw new EnvironmentNotFoundError(
        app,
        env,
        `cannot tear down ${app}/${env}: nothing has been deployed there (no environment ${app}/${env} is known)`,
      );
    if (state.tornDown)
      throw new RefusedError(
        `${app}/${env} was already torn down by ${state.tornDown.by} at ${state.tornDown.at}: ${state.tornDown.reason}`,
      );
    const proof = await args.prove({
      action: 'teardown',
      app,
      env,
      version: null,
      run: null,
      details: detailsDigest({ reason }),
    });
    return this.update(this.environment(app, env), teardownUpdate, { proof, reason });
  }

  /**
   * Waits until the operation (a rollback, deploy or adopt) has settled and returns its ledger entry: one Update
   * the environment answers when it is done, so the answer comes as soon as it is, with no polling. Temporal
   * ends a long wait at its RPC deadline; the same Update (same id) is then awaited again. A worker too old to
   * know the Update rejects it, and this polls instead (waitForOperation).
   */
  async awaitOperation(app: string, env: string, opId: string): Promise<LedgerEntry> {
    const handle = this.environment(app, env);
    const updateId = `await-operation:${opId}:${randomUUID()}`;
    const send = () =>
      handle.startUpdate(awaitOperationUpdate, {
        args: [{ opId }],
        updateId,
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
    let taken = await this.taken(send);
    for (;;) {
      let entry: LedgerEntry | null;
      try {
        entry = await taken.result();
      } catch (err) {
        if (isUnknownUpdate(err)) return this.waitForOperation(app, env, opId);
        if (!(err instanceof WorkflowUpdateRPCTimeoutOrCancelledError)) throw err;
        // The RPC deadline ended the wait, not the operation: attach to the same Update again.
        taken = await this.taken(send);
        continue;
      }
      if (entry === null)
        throw new OperationFailedError(`${app}/${env} knows no operation ${opId} (it may have been trimmed)`);
      return entry;
    }
  }

  /** Polls until the ledger entry for opId (a rollback or deploy) has an outcome (see awaitOperation). */
  async waitForOperation(app: string, env: string, opId: string, intervalMs = 100): Promise<LedgerEntry> {
    for (;;) {
      const state = await this.environmentState(app, env);
      const entry = state?.ledger.find((e) => e.opId === opId);
      if (entry && entry.outcome !== 'running') return entry;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Freezes the environment, starting its workflow when nothing was deployed there yet. */
  async freeze(args: FreezeArgs): Promise<Freeze> {
    const { app, env, until, reason } = args;
    if ((await this.environmentStateNow(app, env)) === null) await this.requireWorker();
    const proof = await args.prove({
      action: 'freeze',
      app,
      env,
      version: null,
      run: null,
      details: detailsDigest({ reason, until }),
    });
    const start = new WithStartWorkflowOperation('environmentWorkflow', {
      workflowId: environmentWorkflowId(app, env),
      taskQueue: this.taskQueue,
      args: [{ app, env }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      ...environmentStartMetadata(app, env, proof),
    });
    const update = await this.taken(() =>
      this.client.workflow.startUpdateWithStart(freezeUpdate, {
        args: [{ proof, until, reason }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
        startWorkflowOperation: start,
      }),
    );
    return update.result();
  }

  /** Lifts the environment's freezes, then tells releases they held to look again now. */
  async unfreeze(args: UnfreezeArgs): Promise<{ removed: number }> {
    const { app, env } = args;
    const notFrozen = () => new EnvironmentNotFoundError(app, env, `${app}/${env} is not frozen`);
    if ((await this.environmentStateNow(app, env)) === null) throw notFrozen();
    const proof = await args.prove({
      action: 'unfreeze',
      app,
      env,
      version: null,
      run: null,
      details: detailsDigest({}),
    });
    let result;
    try {
      result = await this.update(this.environment(app, env), unfreezeUpdate, { proof });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw notFrozen();
      throw err;
    }
    await this.nudgeWaitingReleases(app);
    return result;
  }

  /** Tells releases held by a window or freeze to look again now instead of at their next timer. */
  async nudgeWaitingReleases(app: string): Promise<number> {
    let n = 0;
    try {
      // App names match NAME_PATTERN (no quotes), so the value cannot break out of the query.
      const query = `WorkflowType = 'releaseWorkflow' AND ExecutionStatus = 'Running' AND ${SEARCH_ATTRIBUTES.app.name} = '${app}'`;
      for await (const wf of this.client.workflow.list({ query })) {
        await this.client.workflow.getHandle(wf.workflowId).signal(recheckSignal);
        n++;
      }
    } catch {
      // Best effort: waiting releases re-check on their own timer anyway.
    }
    return n;
  }

  // ---- a worker must take every request, within NO_WORKER_MS ----

  /**
   * Sends an Update and waits for a worker to take it, at most NO_WORKER_MS; then waits for its outcome. Not
   * taken in time: NoWorkerError (exit 4), rather than a request that hangs and lands whenever a worker
   * starts (its proof then counts only while fresh).
   */
  private async update<Ret, Input>(
    handle: WorkflowHandle,
    def: UpdateDefinition<Ret, [Input]>,
    input: Input,
  ): Promise<Ret> {
    const taken = await this.taken(() =>
      handle.startUpdate(def, { args: [input], waitForStage: WorkflowUpdateStage.ACCEPTED }),
    );
    return taken.result();
  }

  /**
   * Sends a release start, each attempt bound by NO_WORKER_MS, and sends it again (same workflow id, same admit
   * Update id: Temporal deduplicates it) after a transient failure, with jittered backoff, for RELEASE_START_MS in
   * all. Still not admitted then: NoWorkerError (exit 4) when no worker polls the queue any more, else
   * OperationFailedError (exit 1, overloaded). A queue nobody polled was refused before the first attempt.
   */
  private async startRetrying<T>(send: () => Promise<T>): Promise<T> {
    const until = Date.now() + RELEASE_START_MS;
    for (let attempt = 1; ; attempt++) {
      const deadline = Math.min(Date.now() + (this.options.startAttemptMs ?? NO_WORKER_MS), until);
      try {
        return await this.client.withDeadline(deadline, send);
      } catch (err) {
        // A timed-out Update carries no retryable code of its own when the client's deadline ended it.
        const transient =
          err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isRetryableStartCode(grpcCode(err));
        if (!transient) throw err;
        const delay = startRetryDelay(attempt, Math.random());
        if (Date.now() + delay < until) {
          await new Promise((r) => setTimeout(r, delay));
          continue;
        }
        // Out of time. The queue had pollers when the start began (requireWorker): only a count of none now
        // says no worker; otherwise the server or the workers are too busy to admit it in time.
        if ((await this.pollers(Date.now() + 5_000)) === 0)
          throw new NoWorkerError(this.taskQueue, true, { cause: err });
        throw new OperationFailedError(
          `the release start was not admitted within ${RELEASE_START_MS / 1000} s (${attempt} attempts; ` +
            'Temporal or the workers are overloaded); run the same command again: it attaches to the release if it started',
          { cause: err },
        );
      }
    }
  }

  /** How many workers poll the queue (Temporal lists them for minutes after they stop); null: not known. */
  private async pollers(deadline: number): Promise<number | null> {
    try {
      const answer = await this.client.withDeadline(deadline, () =>
        this.client.workflowService.describeTaskQueue({
          namespace: this.client.options.namespace,
          taskQueue: { name: this.taskQueue },
          taskQueueType: WORKFLOW_TASK_QUEUE,
        }),
      );
      return answer.pollers?.length ?? 0;
    } catch {
      return null;
    }
  }

  /** Waits until the run has closed, however it ended; false when it is still open at `deadline`. */
  private async closed(workflowId: string, runId: string, deadline: number): Promise<boolean> {
    const handle = this.client.workflow.getHandle(workflowId, runId || undefined, { followRuns: false });
    try {
      await this.client.withDeadline(deadline, () => handle.result());
      return true;
    } catch (err) {
      if (err instanceof WorkflowFailedError || err instanceof WorkflowNotFoundError) return true;
      if (Date.now() >= deadline || grpcCode(err) === GRPC_DEADLINE_EXCEEDED) return false;
      throw err;
    }
  }

  /** Runs `send` (an Update up to its acceptance) within NO_WORKER_MS; past it, NoWorkerError (sent). */
  private async taken<T>(send: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + NO_WORKER_MS;
    try {
      return await this.client.withDeadline(deadline, send);
    } catch (err) {
      if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || Date.now() >= deadline)
        throw new NoWorkerError(this.taskQueue, true, { cause: err });
      throw err;
    }
  }

  /** Runs a query that a worker must answer within NO_WORKER_MS; past it, NoWorkerError (nothing sent). */
  private async answered<T>(query: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + NO_WORKER_MS;
    try {
      return await this.client.withDeadline(deadline, query);
    } catch (err) {
      if (Date.now() >= deadline || isNoRecentPoller(err) || grpcCode(err) === GRPC_DEADLINE_EXCEEDED)
        throw new NoWorkerError(this.taskQueue, false, { cause: err });
      throw err;
    }
  }

  /**
   * Before starting a workflow, waits until some worker has polled the task queue (Temporal lists pollers
   * for a few minutes after they stop, so this catches a queue nobody ever polled or polls since a restart;
   * a worker that died a moment ago is caught by the bound on the Update itself). A server that refuses to
   * describe task queues to this client skips the check.
   */
  private async requireWorker(): Promise<void> {
    const deadline = Date.now() + NO_WORKER_MS;
    for (;;) {
      let pollers: number;
      try {
        const answer = await this.client.withDeadline(deadline, () =>
          this.client.workflowService.describeTaskQueue({
            namespace: this.client.options.namespace,
            taskQueue: { name: this.taskQueue },
            taskQueueType: WORKFLOW_TASK_QUEUE,
          }),
        );
        pollers = answer.pollers?.length ?? 0;
      } catch (err) {
        if (Date.now() >= deadline) throw new NoWorkerError(this.taskQueue, false, { cause: err });
        return;
      }
      if (pollers > 0) return;
      if (Date.now() + POLLER_CHECK_MS >= deadline) throw new NoWorkerError(this.taskQueue, false);
      await new Promise((r) => setTimeout(r, POLLER_CHECK_MS));
    }
  }
}

/** temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW */
const WORKFLOW_TASK_QUEUE = 1;
const POLLER_CHECK_MS = 250;
const GRPC_DEADLINE_EXCEEDED = 4;

/**
 * How long a release start waits for an ended run of the same version to close (normally a moment: its last
 * notification and audit records); a store that is down keeps it open longer (audit degraded).
 */
const ENDED_RUN_CLOSE_MS = 60_000;

/** gRPC FAILED_PRECONDITION: what Temporal answers a query when no worker polled the queue lately. */
const GRPC_FAILED_PRECONDITION = 9;

/**
 * The admit Update's id, the same for every attempt of one release request: from the proof's nonce (an SSH
 * statement) or digest (Slack, OIDC: each unique to one request); an asserted login is not unique, so a fresh id.
 */
function admitUpdateId(proof: Proof): string {
  if (proof.kind === 'asserted') return `admit:${randomUUID()}`;
  const unique = proof.kind === 'ssh' ? proof.statement.nonce : JSON.stringify(proof);
  return `admit:${createHash('sha256').update(unique).digest('hex').slice(0, 32)}`;
}

/** A release refused because the last environment says the version was released successfully already. */
function alreadyReleased(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  return cause instanceof ApplicationFailure && (cause.details ?? []).some(isAlreadyReleased);
}

function isNoRecentPoller(err: unknown): boolean {
  return grpcCode(err) === GRPC_FAILED_PRECONDITION;
}

/** What `history` shows: what serves, the drift in force, the rows, and how the environment's audit stands. */
export interface EnvironmentHistory {
  current: string | null;
  drift: DriftRecord | null;
  rows: HistoryRow[];
  /** "audit degraded" while its records wait to be written, and the anchor its last write returned. */
  audit: Pick<EnvironmentSnapshot, 'auditAnchor' | 'auditDegraded'>;
  /** DOWN while the serving version's proxy or process is dead (being restarted), and its last outage. */
  health: EnvironmentHealth | null;
}

/** A row of `history --json`: a settled ledger entry, with when it ended. */
export type LedgerRow = Pick<
  LedgerEntry,
  'version' | 'action' | 'actor' | 'approvers' | 'reason' | 'fromVersion' | 'commit' | 'digest'
> & { outcome: Exclude<LedgerOutcome, 'running'>; at: string };

/**
 * A drift found in the environment, as a history row: `version` is what the ledger said ran, `reason` what
 * changed and what happened next, `findings` each difference, `resolved` how it ended (null while in force).
 */
export interface DriftRow {
  version: string;
  action: 'drift';
  outcome: 'detected';
  actor: string;
  approvers: string[];
  reason: string;
  fromVersion: null;
  commit: null;
  at: string;
  findings: DriftFinding[];
  resolved: DriftRecord['resolved'];
}

export type HistoryRow = LedgerRow | DriftRow;

/** History rows, newest first: settled ledger entries and drift; operations still running are left out. */
export function historyRows(ledger: LedgerEntry[], drifts: readonly DriftRecord[] = []): HistoryRow[] {
  const entries: HistoryRow[] = ledger
    .filter((e) => e.outcome !== 'running')
    .map((e) => ({
      version: e.version,
      action: e.action,
      outcome: e.outcome as LedgerRow['outcome'],
      actor: e.actor,
      approvers: e.approvers,
      reason: e.reason ?? e.failure,
      fromVersion: e.fromVersion,
      commit: e.commit,
      ...(e.digest ? { digest: e.digest } : {}),
      at: e.endedAt ?? e.startedAt ?? e.requestedAt,
    }));
  const found: HistoryRow[] = drifts.map((d) => ({
    version: d.expected.version,
    action: 'drift',
    outcome: 'detected',
    actor: 'shipgate',
    approvers: [],
    reason: `${describeFindings(d.findings)} (onDrift: ${d.onDrift})`,
    fromVersion: null,
    commit: null,
    at: d.at,
    findings: d.findings,
    resolved: d.resolved,
  }));
  // Drift goes between the entries by time; the ledger keeps its own order.
  const rows: HistoryRow[] = [];
  let next = 0;
  for (const row of entries) {
    while (next < found.length && Date.parse(found[next]!.at) < Date.parse(row.at)) rows.push(found[next++]!);
    rows.push(row);
  }
  rows.push(...found.slice(next));
  return rows.reverse();
}

/** "team-leads 1/2, security 0/1": an approval's tally, as every channel prints it. */
export function tallyText(result: Pick<ApproveResult, 'tally'>): string {
  return result.tally.map((t) => `${t.group} ${t.have}/${t.count}`).join(', ');
}
