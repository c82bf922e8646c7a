/**
 * Reads Temporal for the dashboard, cheaply, every `intervalMs`: one visibility list of the running shipgate
 * workflows, then a describe of each (a database read, no worker involved), and a query (which a worker must
 * answer) only for those whose history grew or whose run changed since the last pass. Queries change no
 * history, so an unchanged history length means an unchanged answer. A pass that takes longer than the interval
 * delays the next one instead of overlapping it.
 *
 * Releases and environments are read in two loops of their own. With 100 apps × 3 environments, the 300
 * environment describes took about a second on a busy 2-core machine, and an approval, which only a release's
 * describe sees, waited behind them: the few running releases are now read every interval whatever the
 * environments cost (bench/dashboard.ts at a load of 12 to 15 on 2 cores: an approval on the page 831 ms p50 /
 * 2.25 s p95 after the CLI exits with one loop; 256 to 306 ms p50 / 0.5 to 0.9 s p95 with two).
 */
import type { ShipgateClient } from '../client.js';
import type { ConfigSource } from '../config/source.js';
import type { Logger } from '../logger.js';
import { environmentQuery, statusQuery } from '../workflows/messages.js';
import type { EnvironmentSnapshot, ReleaseStatus } from '../workflows/types.js';
import { environmentWorkflowId } from '../protocol/ids.js';
import {
  cellKey,
  cellView,
  gridOf,
  releaseView,
  type Cell,
  type DashboardState,
  type LinkContext,
  type ReleaseView,
} from './view.js';

/** What changed in one pass: the new values of changed cells and releases (null: gone). */
export interface StatePatch {
  seq: number;
  at: string;
  apps?: DashboardState['apps'];
  cells: Record<string, Cell | null>;
  releases: Record<string, ReleaseView | null>;
}

interface Seen<T> {
  runId: string;
  historyLength: number;
  value: T;
}

/** A release that ended, read once: its final state (for /metrics). */
export interface EndedRelease {
  app: string;
  state: string;
  stage: string;
}

export interface CollectorOptions {
  sg: ShipgateClient;
  config: ConfigSource;
  links: LinkContext;
  logger?: Logger;
  intervalMs?: number;
  /** Describes and queries in flight at once. */
  concurrency?: number;
  now?: () => Date;
}

export interface PassStats {
  listed: number;
  described: number;
  queried: number;
  ms: number;
}

const RUNNING = `(WorkflowType = 'environmentWorkflow' OR WorkflowType = 'releaseWorkflow') AND ExecutionStatus = 'Running'`;
/** What one pass reads: everything (the first pass), or one of the two loops' share. */
export type PassKind = 'all' | 'releases' | 'environments';
const QUERIES: Record<PassKind, string> = {
  all: RUNNING,
  releases: `WorkflowType = 'releaseWorkflow' AND ExecutionStatus = 'Running'`,
  environments: `WorkflowType = 'environmentWorkflow' AND ExecutionStatus = 'Running'`,
};

export class Collector {
  state: DashboardState;
  /** The raw environment snapshots, by `app/env` (null: nothing deployed there). */
  readonly environments = new Map<string, EnvironmentSnapshot | null>();
  /** Running releases' raw statuses, by workflow id. */
  readonly running = new Map<string, ReleaseStatus>();
  /** Releases that ended while this process watched, by workflow id and run. */
  readonly ended = new Map<string, EndedRelease>();
  /** Pending notification activities that failed at least once, by workflow id (see metrics.ts). */
  readonly notifierFailing = new Map<string, number>();
  /** The last pass that read the environments (the first, or the environment loop's). */
  lastPass: PassStats | null = null;
  lastReleasePass: PassStats | null = null;
  private readonly seen = new Map<string, Seen<unknown>>();
  private readonly listeners = new Set<(p: StatePatch) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly passing = new Map<PassKind, Promise<void>>();
  private configSeen: unknown = null;

  constructor(private readonly opts: CollectorOptions) {
    this.state = { seq: 0, at: this.now().toISOString(), apps: [], cells: {}, releases: {} };
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  onPatch(listener: (p: StatePatch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs a first pass, then the release and the environment loops, each one pass every interval, until stop(). */
  async start(): Promise<void> {
    await this.pass('all');
    const loop = (kind: PassKind) => {
      if (this.stopped) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.pass(kind).finally(() => loop(kind));
      }, this.opts.intervalMs ?? 500);
      this.timers.add(timer);
    };
    loop('releases');
    loop('environments');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.passing.values());
  }

  /** One pass; concurrent callers of one kind share it. Errors are logged and the state kept as it was. */
  pass(kind: PassKind = 'all'): Promise<void> {
    let p = this.passing.get(kind);
    if (!p) {
      p = this.passOnce(kind)
        .catch((err: unknown) =>
          this.opts.logger?.warn({ err: String(err) }, 'dashboard: reading Temporal failed'),
        )
        .finally(() => this.passing.delete(kind));
      this.passing.set(kind, p);
    }
    return p;
  }

  private async passOnce(kind: PassKind): Promise<void> {
    const started = Date.now();
    const { sg } = this.opts;
    const config = this.opts.config.get().config;
    const listed = new Map<string, { type: string; runId: string }>();
    for await (const wf of sg.client.workflow.list({ query: QUERIES[kind] }))
      listed.set(wf.workflowId, { type: wf.type, runId: wf.runId });
    const readEnvironments = kind !== 'releases';
    const readReleases = kind !== 'environments';
    let described = 0;
    let queried = 0;

    // Describes are cheap; a query only where the history moved on.
    const refresh = async <T>(
      workflowId: string,
      read: () => Promise<T>,
    ): Promise<{ value: T; changed: boolean }> => {
      const handle = sg.client.workflow.getHandle(workflowId);
      const d = await handle.describe();
      described++;
      const prev = this.seen.get(workflowId) as Seen<T> | undefined;
      const failing = (d.raw.pendingActivities ?? []).filter(
        (a) => a.activityType?.name === 'notify' && (a.attempt ?? 0) > 1,
      ).length;
      if (failing) this.notifierFailing.set(workflowId, failing);
      else this.notifierFailing.delete(workflowId);
      if (prev && prev.runId === d.runId && prev.historyLength === d.historyLength)
        return { value: prev.value, changed: false };
      const value = await read();
      queried++;
      this.seen.set(workflowId, { runId: d.runId, historyLength: d.historyLength, value });
      return { value, changed: true };
    };

    const changedEnvs = new Set<string>();
    const envJobs = (readEnvironments ? gridOf(config) : []).flatMap(({ name: app, environments }) =>
      environments.map((env) => async () => {
        const key = cellKey(app, env);
        const id = environmentWorkflowId(app, env);
        let snap: EnvironmentSnapshot | null;
        if (listed.has(id)) {
          const r = await refresh(id, () => sg.environment(app, env).query(environmentQuery));
          snap = r.value;
          if (!r.changed && this.environments.has(key)) return;
        } else if (!this.environments.has(key) || this.seen.has(id)) {
          // Never seen, or it ended (torn down): its last state, once.
          snap = await sg.environmentState(app, env).catch(() => null);
          this.seen.delete(id);
          queried++;
        } else return;
        this.environments.set(key, snap);
        changedEnvs.add(key);
      }),
    );
    const runningIds = [...listed].filter(([, w]) => w.type === 'releaseWorkflow').map(([id]) => id);
    const changedReleases = new Set<string>();
    const releaseJobs = runningIds.map((id) => async () => {
      const r = await refresh(id, () => sg.client.workflow.getHandle(id).query(statusQuery));
      if (r.changed || !this.running.has(id)) {
        this.running.set(id, r.value);
        changedReleases.add(id);
      }
    });
    await pool([...envJobs, ...releaseJobs], this.opts.concurrency ?? 16, this.opts.logger);

    // Releases that ended: read their final state once, for /metrics.
    for (const id of readReleases ? [...this.running.keys()] : []) {
      if (listed.has(id)) continue;
      const last = this.running.get(id)!;
      const final = await sg.client.workflow
        .getHandle(id)
        .query(statusQuery)
        .catch(() => last);
      queried++;
      this.ended.set(`${id}#${final.startedAt}`, { app: final.app, state: final.state, stage: final.stage });
      this.running.delete(id);
      this.seen.delete(id);
      this.notifierFailing.delete(id);
      changedReleases.add(id);
    }

    this.apply(config, changedEnvs, changedReleases);
    const stats = { listed: listed.size, described, queried, ms: Date.now() - started };
    if (readEnvironments) this.lastPass = stats;
    else this.lastReleasePass = stats;
  }

  /** Rebuilds what changed (and cells whose window verdict is due to change), and tells the listeners. */
  private apply(
    config: ReturnType<ConfigSource['get']>['config'],
    changedEnvs: Set<string>,
    changedReleases: Set<string>,
  ): void {
    const now = this.now();
    const patch: StatePatch = { seq: 0, at: now.toISOString(), cells: {}, releases: {} };
    const configChanged = this.configSeen !== config;
    this.configSeen = config;
    const apps = gridOf(config);
    if (configChanged) patch.apps = apps;

    const releases: Record<string, ReleaseView> = {};
    for (const [id, s] of this.running) {
      const prev = this.state.releases[id];
      releases[id] =
        prev && !changedReleases.has(id) && !configChanged
          ? prev
          : releaseView(config, s, id, this.opts.links);
      if (releases[id] !== prev) patch.releases[id] = releases[id];
    }
    for (const id of Object.keys(this.state.releases)) if (!releases[id]) patch.releases[id] = null;

    const waitingAt = new Map<string, string[]>();
    for (const r of Object.values(releases))
      if (r.env && r.state === 'running') {
        const key = cellKey(r.app, r.env);
        waitingAt.set(key, [...(waitingAt.get(key) ?? []), r.id]);
      }

    const cells: Record<string, Cell> = {};
    for (const { name: app, environments } of apps)
      for (const env of environments) {
        const key = cellKey(app, env);
        const prev = this.state.cells[key];
        const waiting = waitingAt.get(key) ?? [];
        const due = prev?.windows?.until ? Date.parse(prev.windows.until) <= now.getTime() : false;
        const freezeEnded = prev?.freezes.some((f) => Date.parse(f.until) <= now.getTime()) ?? false;
        const stale =
          !prev ||
          configChanged ||
          changedEnvs.has(key) ||
          due ||
          freezeEnded ||
          prev.waiting.join() !== waiting.join();
        cells[key] = stale
          ? cellView(config, app, env, this.environments.get(key) ?? null, waiting, now)
          : prev;
        if (stale && JSON.stringify(cells[key]) !== JSON.stringify(prev)) patch.cells[key] = cells[key];
        else cells[key] = prev ?? cells[key];
      }
    for (const key of Object.keys(this.state.cells)) if (!cells[key]) patch.cells[key] = null;

    const changed =
      patch.apps !== undefined ||
      Object.keys(patch.cells).length > 0 ||
      Object.keys(patch.releases).length > 0;
    this.state = {
      seq: this.state.seq + (changed ? 1 : 0),
      at: now.toISOString(),
      apps,
      cells,
      releases,
    };
    if (!changed) return;
    patch.seq = this.state.seq;
    for (const l of this.listeners) l(patch);
  }

  /**
   * Start times of every run of each release of `app` that started at or after `since` (epoch ms), by release
   * id: what DORA's lead time counts from when the commit's time is not known. One visibility list.
   */
  async releaseStarts(app: string, since: number): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    // App names match NAME_PATTERN (no quotes), so the value cannot break out of the query.
    const query = `WorkflowType = 'releaseWorkflow' AND ShipgateApp = '${app}' AND StartTime >= '${new Date(since).toISOString()}'`;
    for await (const wf of this.opts.sg.client.workflow.list({ query }))
      out.set(wf.workflowId, [...(out.get(wf.workflowId) ?? []), wf.startTime.getTime()]);
    return out;
  }
}

/** Runs the jobs, `limit` at a time; a job that fails is logged and the others go on. */
async function pool(jobs: (() => Promise<void>)[], limit: number, logger?: Logger): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      await job().catch((err: unknown) => logger?.warn({ err: String(err) }, 'dashboard: a read failed'));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}
