/**
 * The operations every channel shares (CLI, Slack, GitHub Action, tests and scripts): start or attach to a
 * release, decide on it, follow it, read it; roll back, freeze and unfreeze an environment. Channels differ only
 * in how they authenticate and print. Beside it: ./client/errors.ts (failures, each with its exit code),
 * validate.ts (input checks), follow.ts (the one follow loop) and windows.ts (may an environment deploy now).
 */
import { WithStartWorkflowOperation, type Client, type Connection } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import {
  admitUpdate,
  approveUpdate,
  cancelUpdate,
  environmentQuery,
  freezeUpdate,
  overrideUpdate,
  recheckSignal,
  rejectUpdate,
  rollbackUpdate,
  statusQuery,
  unfreezeUpdate,
} from './workflows/messages.js';
import { DEFAULT_TASK_QUEUE, environmentWorkflowId, releaseWorkflowId } from './protocol/ids.js';
import { SEARCH_ATTRIBUTES } from './protocol/search-attributes.js';
import type {
  AdmitResult,
  ApproveInput,
  ApproveResult,
  EnvironmentSnapshot,
  FreezeInput,
  RejectInput,
  ReleaseRequest,
  ReleaseStatus,
  RollbackInput,
  UnfreezeInput,
} from './workflows/types.js';
import type { releaseWorkflow } from './workflows/release.js';
import type { LedgerEntry, LedgerOutcome } from './policy/ledger.js';
import type { Freeze } from './policy/windows.js';
import { connectClient, type TemporalOptions } from './temporal/connect.js';
import {
  EnvironmentNotFoundError,
  grpcCode,
  GRPC_ALREADY_EXISTS,
  ReleaseAlreadySucceededError,
  ReleaseEndedError,
  ReleaseNotFoundError,
} from './client/errors.js';
import { followStatus, isTerminal, type FollowOptions, type FollowResult } from './client/follow.js';

export { environmentDone, exitCodeForWait, isTerminal } from './client/follow.js';
export type { FollowOptions, FollowResult } from './client/follow.js';

type Decision = 'reject' | 'cancel' | 'override';
const DECISION_UPDATES = { reject: rejectUpdate, cancel: cancelUpdate, override: overrideUpdate } as const;

export class ShipgateClient {
  constructor(
    readonly client: Client,
    readonly taskQueue = DEFAULT_TASK_QUEUE,
    private readonly connection?: Connection,
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
   * Starts the release, or attaches to the one running for the same app and version. A version that already
   * succeeded is refused (ReleaseAlreadySucceededError); one that ended otherwise starts a new run.
   */
  async startRelease(req: ReleaseRequest): Promise<AdmitResult & { workflowId: string }> {
    const workflowId = releaseWorkflowId(req.app, req.version);
    const start = new WithStartWorkflowOperation<typeof releaseWorkflow>('releaseWorkflow', {
      workflowId,
      taskQueue: this.taskQueue,
      args: [req],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      memo: { app: req.app, version: req.version, commit: req.commit, actor: req.actor, branch: req.branch },
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.app, value: req.app },
        { key: SEARCH_ATTRIBUTES.version, value: req.version },
        { key: SEARCH_ATTRIBUTES.actor, value: req.actor },
        { key: SEARCH_ATTRIBUTES.stage, value: 'building' },
      ],
    });
    try {
      const result = await this.client.workflow.executeUpdateWithStart(admitUpdate, {
        args: [req],
        startWorkflowOperation: start,
      });
      return { ...result, workflowId };
    } catch (err) {
      // The reuse policy refuses a succeeded run; the SDK reports it as either form depending on the server.
      if (err instanceof WorkflowExecutionAlreadyStartedError || grpcCode(err) === GRPC_ALREADY_EXISTS)
        throw new ReleaseAlreadySucceededError(req.app, req.version);
      throw err;
    }
  }

  release(app: string, version: string) {
    return this.client.workflow.getHandle(releaseWorkflowId(app, version));
  }

  /** The release's status; queries work on closed runs too. ReleaseNotFoundError when there is none. */
  async status(app: string, version: string): Promise<ReleaseStatus> {
    try {
      return await this.release(app, version).query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ReleaseNotFoundError(app, version);
      throw err;
    }
  }

  /** Approves as `input.by`; the result holds the tally. */
  approve(app: string, version: string, input: ApproveInput): Promise<ApproveResult> {
    return this.decide(app, version, 'approve', () =>
      this.release(app, version).executeUpdate(approveUpdate, { args: [input] }),
    );
  }

  reject(app: string, version: string, input: RejectInput): Promise<ReleaseStatus> {
    return this.decision('reject', app, version, input);
  }

  cancel(app: string, version: string, input: RejectInput): Promise<ReleaseStatus> {
    return this.decision('cancel', app, version, input);
  }

  override(app: string, version: string, input: RejectInput): Promise<ReleaseStatus> {
    return this.decision('override', app, version, input);
  }

  /** reject, cancel and override take the same input: who, and why. */
  decision(which: Decision, app: string, version: string, input: RejectInput): Promise<ReleaseStatus> {
    return this.decide(app, version, which, () =>
      this.release(app, version).executeUpdate(DECISION_UPDATES[which], { args: [input] }),
    );
  }

  /**
   * Runs a decision's Update. Temporal answers "not found" both for a release that never existed and for one
   * that already ended; the status query, which works on closed runs, tells them apart.
   */
  private async decide<T>(
    app: string,
    version: string,
    action: 'approve' | Decision,
    update: () => Promise<T>,
  ): Promise<T> {
    try {
      return await update();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // A closed run's status needs a worker to answer; without one, it is still a run that has ended.
      const s = await this.status(app, version).catch((e: unknown) => {
        if (e instanceof ReleaseNotFoundError) throw e;
        return null;
      });
      if (s && !isTerminal(s)) throw err;
      throw new ReleaseEndedError(app, version, s?.state ?? null, action);
    }
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

  /** Who deployed what and when, newest first, and what serves now. */
  async history(app: string, env: string): Promise<{ current: string | null; rows: HistoryRow[] }> {
    const state = await this.environmentState(app, env);
    return { current: state?.current?.version ?? null, rows: historyRows(state?.ledger ?? []) };
  }

  async rollback(app: string, env: string, input: RollbackInput) {
    try {
      return await this.environment(app, env).executeUpdate(rollbackUpdate, { args: [input] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new EnvironmentNotFoundError(
          app,
          env,
          `cannot roll back ${app}/${env}: nothing has been deployed there`,
        );
      throw err;
    }
  }

  /** Polls until the ledger entry for opId (a rollback or deploy) has an outcome. */
  async waitForOperation(app: string, env: string, opId: string, intervalMs = 100): Promise<LedgerEntry> {
    for (;;) {
      const state = await this.environmentState(app, env);
      const entry = state?.ledger.find((e) => e.opId === opId);
      if (entry && entry.outcome !== 'running') return entry;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Freezes the environment, starting its workflow when nothing was deployed there yet. */
  async freeze(app: string, env: string, input: FreezeInput): Promise<Freeze> {
    const start = new WithStartWorkflowOperation('environmentWorkflow', {
      workflowId: environmentWorkflowId(app, env),
      taskQueue: this.taskQueue,
      args: [{ app, env }],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    return this.client.workflow.executeUpdateWithStart(freezeUpdate, {
      args: [input],
      startWorkflowOperation: start,
    });
  }

  /** Lifts the environment's freezes, then tells releases they held to look again now. */
  async unfreeze(app: string, env: string, input: UnfreezeInput): Promise<{ removed: number }> {
    let result;
    try {
      result = await this.environment(app, env).executeUpdate(unfreezeUpdate, { args: [input] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new EnvironmentNotFoundError(app, env, `${app}/${env} is not frozen`);
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
}

/** A row of `history --json`: a settled ledger entry, with when it ended. */
export type HistoryRow = Pick<
  LedgerEntry,
  'version' | 'action' | 'actor' | 'approvers' | 'reason' | 'fromVersion' | 'commit'
> & { outcome: Exclude<LedgerOutcome, 'running'>; at: string };

/** History rows, newest first; operations still running are left out. */
export function historyRows(ledger: LedgerEntry[]): HistoryRow[] {
  return [...ledger]
    .filter((e) => e.outcome !== 'running')
    .reverse()
    .map((e) => ({
      version: e.version,
      action: e.action,
      outcome: e.outcome as HistoryRow['outcome'],
      actor: e.actor,
      approvers: e.approvers,
      reason: e.reason ?? e.failure,
      fromVersion: e.fromVersion,
      commit: e.commit,
      at: e.endedAt ?? e.startedAt ?? e.requestedAt,
    }));
}

/** "team-leads 1/2, security 0/1": an approval's tally, as every channel prints it. */
export function tallyText(result: Pick<ApproveResult, 'tally'>): string {
  return result.tally.map((t) => `${t.group} ${t.have}/${t.count}`).join(', ');
}
