/**
 * The worker's self-healing loop: every second or so, each environment this worker serves whose target can
 * reconcile (the local target; Kubernetes heals itself) gets a pass that restarts what died. What the passes
 * find is told to the environment's workflow (a health report: DOWN, then serving again, which `status` and
 * `history` show), to people once per outage (the notifier), and to the worker's log. The decisions are pure,
 * in src/policy/self-healing.ts.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ConfigSource } from './config/source.js';
import type { Notifier, NotifyEvent } from './integrations/notifier.js';
import type { Logger } from './logger.js';
import {
  foundDown,
  initialWatch,
  passEnded,
  reconcileWorkflowView,
  type HealthReport,
  type Notice,
  type Step,
  type Watch,
} from './policy/self-healing.js';
import { environmentWorkflowId } from './protocol/ids.js';
import type { HealthCheck, TargetConfig, TargetProvider } from './targets/types.js';
import { environmentQuery, healthSignal } from './workflows/messages.js';

/** How often each environment is looked at: a dead proxy serves again within about this plus its start time. */
export const HEAL_INTERVAL_MS = 1000;
const SIGNAL_TIMEOUT_MS = 5000;
/**
 * How often the workflow's view is compared with what the passes see even when nothing changed, so a report
 * lost, or forged by someone who may signal workflows, shows a wrong badge for at most about this long.
 */
export const RESYNC_MS = 15_000;

export interface SelfHealingOptions {
  config: ConfigSource;
  targets: TargetProvider;
  /** The environments this worker serves (`--environments`); no other is touched. */
  environments: string[];
  client: Client;
  notifier?: Notifier;
  logger: Logger;
  intervalMs?: number;
}

export interface SelfHealing {
  /** Starts no more passes and waits for the ones under way (a restart in progress finishes). */
  stop(): Promise<void>;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function noticeEvent(app: string, env: string, n: Notice): NotifyEvent {
  if (n.kind === 'environment-down') {
    const { version, since, detail } = n.outage;
    return { kind: n.kind, app, env, outage: { version, since, until: null, detail } };
  }
  const { version, since, detail } = n.outage;
  return { kind: n.kind, app, env, outage: { version, since, until: n.at, detail: n.detail ?? detail } };
}

export function startSelfHealing(o: SelfHealingOptions): SelfHealing {
  const watches = new Map<string, Watch>();
  /** Environments whose workflow may not show what the worker last saw (a new worker, a lost signal). */
  const unsynced = new Set<string>();
  const syncedAt = new Map<string, number>();
  const inFlight = new Map<string, Promise<void>>();
  let stopped = false;

  const signal = async (app: string, env: string, report: HealthReport): Promise<boolean> => {
    try {
      await withTimeout(
        o.client.workflow.getHandle(environmentWorkflowId(app, env)).signal(healthSignal, report),
        SIGNAL_TIMEOUT_MS,
        'health report',
      );
      return true;
    } catch (err) {
      // No workflow: the data plane was driven directly (a benchmark), or the environment was torn down.
      if (err instanceof WorkflowNotFoundError) return true;
      o.logger.warn(
        { app, env, state: report.state, error: (err as Error).message },
        'could not tell the environment workflow its health; will try again',
      );
      return false;
    }
  };

  /** After a worker start or a lost report: tells the workflow what the pass saw, when it shows otherwise. */
  const sync = async (app: string, env: string, check: HealthCheck): Promise<void> => {
    const key = `${app}/${env}`;
    try {
      const snap = await withTimeout(
        o.client.workflow.getHandle(environmentWorkflowId(app, env)).query(environmentQuery),
        SIGNAL_TIMEOUT_MS,
        'environment query',
      );
      const report = reconcileWorkflowView(snap.health ?? null, check, new Date().toISOString());
      if (report && !(await signal(app, env, report))) return;
      unsynced.delete(key);
      syncedAt.set(key, Date.now());
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        unsynced.delete(key);
        syncedAt.set(key, Date.now());
      }
      // Otherwise (no worker answered the query yet) the next pass tries again.
    }
  };

  /** No deploy or rollback is running or queued there (unknown: not settled, so nothing is restarted). */
  const settled = async (app: string, env: string): Promise<boolean> => {
    try {
      const snap = await withTimeout(
        o.client.workflow.getHandle(environmentWorkflowId(app, env)).query(environmentQuery),
        SIGNAL_TIMEOUT_MS,
        'environment query',
      );
      return !snap.ledger.some((e) => e.outcome === 'running') && snap.queue.length === 0;
    } catch (err) {
      return err instanceof WorkflowNotFoundError;
    }
  };

  const pass = async (app: string, env: string, targetConfig: TargetConfig): Promise<void> => {
    const key = `${app}/${env}`;
    const target = o.targets.open({ app, env, config: targetConfig, build: {} });
    if (!target.reconcile) return;
    let reports = Promise.resolve();
    const apply = (step: Step) => {
      watches.set(key, step.watch);
      if (step.log)
        o.logger[step.log.level](
          { app, env, version: step.watch.outage?.version ?? undefined },
          `${key}: ${step.log.message}`,
        );
      for (const r of step.signals)
        reports = reports.then(async () => {
          if (!(await signal(app, env, r))) unsynced.add(key);
        });
      for (const n of step.notices) void o.notifier?.notify(noticeEvent(app, env, n));
    };
    const now = () => new Date().toISOString();
    const check = await target.reconcile({
      down: (found) => apply(foundDown(watches.get(key) ?? initialWatch(), found, now())),
      mayRestartProcesses: () => settled(app, env),
    });
    if (check !== null && check !== 'busy') {
      apply(passEnded(watches.get(key) ?? initialWatch(), check, now()));
      await reports;
      if (unsynced.has(key)) await sync(app, env, check);
    }
    await reports;
  };

  const tick = () => {
    if (stopped) return;
    let apps;
    try {
      apps = o.config.get().config.apps;
    } catch {
      return;
    }
    for (const [app, appConfig] of Object.entries(apps))
      for (const env of o.environments) {
        const envConfig = appConfig.environments[env];
        const key = `${app}/${env}`;
        if (!envConfig || inFlight.has(key)) continue;
        if (!watches.has(key)) watches.set(key, initialWatch());
        if (Date.now() - (syncedAt.get(key) ?? 0) > RESYNC_MS) unsynced.add(key);
        const running = pass(app, env, envConfig.target)
          .catch((err: unknown) =>
            o.logger.warn({ app, env, error: (err as Error).message }, `${key}: self-healing pass failed`),
          )
          .finally(() => inFlight.delete(key));
        inFlight.set(key, running);
      }
  };

  const timer = setInterval(tick, o.intervalMs ?? HEAL_INTERVAL_MS);
  timer.unref();
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(inFlight.values());
    },
  };
}
