/**
 * GitHub Deployments kept in step with an environment (behind patched('github-deployments')): each deploy and
 * rollback, when it starts and when it ends, queues a transition here, and a loop beside the environment's own
 * work sends them in order, one activity each with a bounded retry. Nothing on a deploy's path waits for GitHub:
 * a transition that still fails after its tries is dropped (the activity told a person once), and the next one
 * for the same operation finds or creates its deployment again.
 *
 * Which operations GitHub shows is learnt from the first answer: a deploy of a release not started from the
 * Action (or with no `github` block) is `skipped` and asks nothing more; a rollback is shown when the version it
 * restores was, with that version's commit. The queue and what is known travel across continue-as-new.
 *
 * Workflow code: deterministic, no I/O but the activity it is given.
 */
import { isCancellation, condition } from '@temporalio/workflow';
import type { GithubSyncInput, GithubSyncResult } from '../../integrations/github/activities.js';
import type { GithubStatusState } from '../../integrations/github/policy.js';
import type { LedgerEntry } from '../../policy/ledger.js';

/** What is known of one operation's deployment. */
export interface GithubOp {
  opId: string;
  action: 'deploy' | 'rollback';
  version: string;
  releaseId: string | null;
  sha: string | null;
  id: number | null;
  /** null until GitHub's first answer says whether this operation is shown there. */
  shown: boolean | null;
  /** Its end was queued (a deploy rolled back automatically ends before the rollback's own end). */
  ended: boolean;
}

export interface GithubTransition {
  opId: string;
  state: GithubStatusState;
  description: string;
}

/** Carried across continue-as-new. */
export interface CarriedGithub {
  ops: GithubOp[];
  queue: GithubTransition[];
  /** The operation whose version serves now: a later success marks its deployment inactive. */
  serving: string | null;
  /** Commits of versions GitHub shows, for rollbacks to them. */
  commits: [string, string][];
}

export type GithubSync = (input: GithubSyncInput) => Promise<GithubSyncResult>;

/** Bounds on what is remembered: enough for a rollback to any version the ledger still holds. */
const KEEP_OPS = 50;
const KEEP_COMMITS = 200;

export class GithubDeployments {
  private readonly ops: Map<string, GithubOp>;
  private readonly queue: GithubTransition[];
  private serving: string | null;
  private readonly commits: Map<string, string>;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly app: string,
    private readonly env: string,
    carried?: CarriedGithub,
  ) {
    this.ops = new Map((carried?.ops ?? []).map((o) => [o.opId, o]));
    this.queue = [...(carried?.queue ?? [])];
    this.serving = carried?.serving ?? null;
    this.commits = new Map(carried?.commits ?? []);
  }

  /** Whether the loop runs (the patch is on for this run). */
  get active(): boolean {
    return this.loop !== null;
  }

  start(sync: GithubSync): void {
    this.loop ??= this.run(sync);
  }

  /** A deploy or rollback began: its deployment is created (or found) and marked in progress. */
  started(entry: LedgerEntry): void {
    if (!this.active || entry.action === 'adopt') return;
    this.ops.set(entry.opId, {
      opId: entry.opId,
      action: entry.action,
      version: entry.version,
      releaseId: entry.action === 'deploy' ? entry.releaseId : null,
      sha: null,
      id: null,
      shown: null,
      ended: false,
    });
    while (this.ops.size > KEEP_OPS) this.ops.delete(this.ops.keys().next().value!);
    const what =
      entry.action === 'rollback' ? `Rolling back to ${entry.version}` : `Deploying ${entry.version}`;
    this.queue.push({ opId: entry.opId, state: 'in_progress', description: `${what} on ${this.env}` });
  }

  /** It ended: success (and inactive for the deployment it replaced) or failure; once per operation. */
  ended(entry: LedgerEntry): void {
    const op = this.ops.get(entry.opId);
    if (!this.active || !op || op.ended) return;
    op.ended = true;
    if (entry.outcome === 'succeeded') {
      this.queue.push({
        opId: op.opId,
        state: 'success',
        description: `${entry.version} serves ${this.env}`,
      });
      if (this.serving !== null && this.serving !== op.opId)
        this.queue.push({
          opId: this.serving,
          state: 'inactive',
          description: `Replaced by ${entry.version} on ${this.env}`,
        });
      this.serving = op.opId;
    } else {
      const why = entry.failure ?? entry.outcome;
      this.queue.push({ opId: op.opId, state: 'failure', description: `${entry.version} failed: ${why}` });
    }
  }

  carried(): CarriedGithub | undefined {
    if (this.ops.size === 0 && this.queue.length === 0 && this.serving === null) return undefined;
    return {
      ops: [...this.ops.values()],
      queue: this.queue,
      serving: this.serving,
      commits: [...this.commits],
    };
  }

  private async run(sync: GithubSync): Promise<void> {
    for (;;) {
      await condition(() => this.queue.length > 0);
      // Left at the front while it is sent: continue-as-new then carries it, and it is sent again (idempotent).
      await this.deliver(this.queue[0]!, sync);
      this.queue.shift();
    }
  }

  private async deliver(t: GithubTransition, sync: GithubSync): Promise<void> {
    const op = this.ops.get(t.opId);
    if (!op || op.shown === false) return;
    // A rollback is shown when the version it restores was, on the commit that version was deployed from.
    if (op.action === 'rollback' && op.sha === null) {
      const sha = this.commits.get(op.version);
      if (!sha) {
        op.shown = false;
        return;
      }
      op.sha = sha;
    }
    let result: GithubSyncResult;
    try {
      result = await sync({
        app: this.app,
        env: this.env,
        opId: op.opId,
        action: op.action,
        version: op.version,
        releaseId: op.releaseId,
        sha: op.sha,
        id: op.id,
        state: t.state,
        description: t.description,
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      // Dropped after its tries (GitHub down): the activity told a person; the release went on regardless.
      return;
    }
    if (result.kind === 'skipped') op.shown = false;
    else if (result.kind === 'synced') {
      op.shown = true;
      op.id = result.id;
      op.sha = result.sha;
      if (op.action === 'deploy') {
        this.commits.delete(op.version);
        this.commits.set(op.version, result.sha);
        while (this.commits.size > KEEP_COMMITS) this.commits.delete(this.commits.keys().next().value!);
      }
    }
  }
}
