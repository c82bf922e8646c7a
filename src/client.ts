/**
 * The operations every channel shares (CLI, Slack, GitHub Action): start or attach to a release, approve,
 * reject, roll back, read state. Channels differ only in how they authenticate and print.
 */
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import {
  admitUpdate,
  approveUpdate,
  cancelUpdate,
  DEFAULT_TASK_QUEUE,
  environmentQuery,
  environmentWorkflowId,
  freezeUpdate,
  overrideUpdate,
  recheckSignal,
  rejectUpdate,
  releaseWorkflowId,
  rollbackUpdate,
  statusQuery,
  unfreezeUpdate,
} from './workflows/messages.js';
import { SEARCH_ATTRIBUTES } from './workflows/search-attributes.js';
import {
  TERMINAL_STATES,
  type AdmitResult,
  type ApproveInput,
  type EnvironmentSnapshot,
  type FreezeInput,
  type ReleaseRequest,
  type ReleaseStatus,
  type RejectInput,
  type RollbackInput,
  type UnfreezeInput,
} from './workflows/types.js';
import type { releaseWorkflow } from './workflows/release.js';
import type { LedgerEntry } from './policy/ledger.js';

export class ReleaseAlreadySucceededError extends Error {
  constructor(app: string, version: string) {
    super(
      `${app} ${version} was already released successfully; to deploy it again use: shipgate rollback <env> --to ${version}`,
    );
    this.name = 'ReleaseAlreadySucceededError';
  }
}

export class ShipgateClient {
  constructor(
    readonly client: Client,
    readonly taskQueue = DEFAULT_TASK_QUEUE,
  ) {}

  /** Starts the release, or attaches to the one running for the same app and version. */
  async startRelease(req: ReleaseRequest): Promise<AdmitResult & { workflowId: string }> {
    const workflowId = releaseWorkflowId(req.app, req.version);
    const start = new WithStartWorkflowOperation<typeof releaseWorkflow>('releaseWorkflow', {
      workflowId,
      taskQueue: this.taskQueue,
      args: [req],
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A release that ended in failure may run again; one that succeeded may not (Contract).
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
      if (
        (err as Error).name === 'WorkflowExecutionAlreadyStartedError' ||
        /already (started|completed)/i.test(String((err as Error).message))
      ) {
        throw new ReleaseAlreadySucceededError(req.app, req.version);
      }
      throw err;
    }
  }

  release(app: string, version: string) {
    return this.client.workflow.getHandle(releaseWorkflowId(app, version));
  }

  status(app: string, version: string): Promise<ReleaseStatus> {
    return this.release(app, version).query(statusQuery);
  }

  approve(app: string, version: string, input: ApproveInput) {
    return this.release(app, version).executeUpdate(approveUpdate, { args: [input] });
  }

  reject(app: string, version: string, input: RejectInput) {
    return this.release(app, version).executeUpdate(rejectUpdate, { args: [input] });
  }

  cancel(app: string, version: string, input: RejectInput) {
    return this.release(app, version).executeUpdate(cancelUpdate, { args: [input] });
  }

  override(app: string, version: string, input: RejectInput) {
    return this.release(app, version).executeUpdate(overrideUpdate, { args: [input] });
  }

  environment(app: string, env: string) {
    return this.client.workflow.getHandle(environmentWorkflowId(app, env));
  }

  /** The environment's state, or null when nothing was ever deployed there. */
  async environmentState(app: string, env: string): Promise<EnvironmentSnapshot | null> {
    try {
      return await this.environment(app, env).query(environmentQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (err as Error).name === 'WorkflowNotFoundError')
        return null;
      throw err;
    }
  }

  rollback(app: string, env: string, input: RollbackInput) {
    return this.environment(app, env).executeUpdate(rollbackUpdate, { args: [input] });
  }

  async freeze(app: string, env: string, input: FreezeInput) {
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

  async unfreeze(app: string, env: string, input: UnfreezeInput) {
    const result = await this.environment(app, env).executeUpdate(unfreezeUpdate, { args: [input] });
    await this.nudgeWaitingReleases(app);
    return result;
  }

  /** Tells releases held by a window or freeze to look again now instead of at their next timer. */
  async nudgeWaitingReleases(app: string): Promise<number> {
    let n = 0;
    try {
      const query = `WorkflowType = 'releaseWorkflow' AND ExecutionStatus = 'Running' AND ShipgateApp = '${app}'`;
      for await (const wf of this.client.workflow.list({ query })) {
        await this.client.workflow.getHandle(wf.workflowId).signal(recheckSignal);
        n++;
      }
    } catch {
      // Best effort: waiting releases re-check on their own timer anyway.
    }
    return n;
  }

  /** Polls until `done(status)` or the release ends. Queries work on closed runs too. */
  async waitForRelease(
    app: string,
    version: string,
    done: (s: ReleaseStatus) => boolean,
    opts: { timeoutMs?: number; onChange?: (s: ReleaseStatus) => void; intervalMs?: number } = {},
  ): Promise<ReleaseStatus> {
    const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
    let lastStage = '';
    for (;;) {
      const s = await this.status(app, version);
      if (s.stage !== lastStage) {
        lastStage = s.stage;
        opts.onChange?.(s);
      }
      if (done(s) || isTerminal(s)) return s;
      if (Date.now() > deadline) return s;
      await sleep(opts.intervalMs ?? 250);
    }
  }

  /** Polls until the ledger entry for opId has an outcome. */
  async waitForOperation(app: string, env: string, opId: string, intervalMs = 100): Promise<LedgerEntry> {
    for (;;) {
      const state = await this.environmentState(app, env);
      const entry = state?.ledger.find((e) => e.opId === opId);
      if (entry && entry.outcome !== 'running') return entry;
      await sleep(intervalMs);
    }
  }
}

export function isTerminal(s: ReleaseStatus): boolean {
  return TERMINAL_STATES.includes(s.state);
}

/** Whether the release is done with `env`: that environment succeeded, or the release ended. */
export function environmentDone(env: string) {
  return (s: ReleaseStatus) => s.environments[env]?.state === 'succeeded' || isTerminal(s);
}

/** History rows in the Contract's shape, newest first. */
export function historyRows(ledger: LedgerEntry[]) {
  return [...ledger]
    .filter((e) => e.outcome !== 'running')
    .reverse()
    .map((e) => ({
      version: e.version,
      action: e.action,
      outcome: e.outcome as 'succeeded' | 'failed' | 'rolled-back',
      actor: e.actor,
      approvers: e.approvers,
      reason: e.reason ?? e.failure,
      fromVersion: e.fromVersion,
      commit: e.commit,
      at: e.endedAt ?? e.startedAt ?? e.requestedAt,
    }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
