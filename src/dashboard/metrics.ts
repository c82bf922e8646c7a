/**
 * `GET /metrics` in Prometheus's text format (prom-client), from what the collector read. Gauges are computed at
 * each scrape; counters and histograms observe each settled ledger entry once (by op id), so they only grow
 * while this process runs, as Prometheus expects of them, even as the ledger trims its oldest entries. A
 * restarted dashboard starts them again from the ledger it finds (Prometheus reads that as a counter reset).
 *
 * Notifier failures: notifications are activities on the worker; this process sees only those still being
 * retried (a release's pending `notify` activity past its first attempt), so that is what it exports.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Collector } from './collector.js';

const DURATION_BUCKETS = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export interface DashboardMetrics {
  registry: Registry;
  /** The exposition text, after observing whatever settled since the last scrape. */
  text(): Promise<string>;
  contentType: string;
}

export function createMetrics(collector: Collector): DashboardMetrics {
  const registry = new Registry();
  const observed = new Set<string>();

  const deployDuration = new Histogram({
    name: 'shipgate_deploy_duration_seconds',
    help: 'Deploys from start to settled, from the ledger, by outcome: succeeded (passed verification) or failed.',
    labelNames: ['app', 'env', 'outcome'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const rollbackDuration = new Histogram({
    name: 'shipgate_rollback_duration_seconds',
    help: 'Rollbacks from start to settled, by kind (manual, automatic), from the ledger.',
    labelNames: ['app', 'env', 'kind'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const rollbacks = new Counter({
    name: 'shipgate_rollbacks_total',
    help: 'Rollbacks that settled, by kind (manual: someone asked; automatic: failed verification) and outcome.',
    labelNames: ['app', 'env', 'kind', 'outcome'],
    registers: [registry],
  });

  const observe = () => {
    for (const [key, snap] of collector.environments) {
      if (!snap) continue;
      const { app, env } = snap;
      for (const e of snap.ledger) {
        if (e.outcome === 'running' || !e.endedAt) continue;
        const id = `${key}|${e.opId}`;
        if (observed.has(id)) continue;
        observed.add(id);
        const seconds = Math.max(
          0,
          (Date.parse(e.endedAt) - Date.parse(e.startedAt ?? e.requestedAt)) / 1000,
        );
        // Whether it passed verification: fixed once settled (a later rollback marks it rolled-back, not failed).
        if (e.action === 'deploy')
          deployDuration.observe({ app, env, outcome: e.verifiedAt ? 'succeeded' : 'failed' }, seconds);
        else if (e.action === 'rollback') {
          const kind = e.automatic ? 'automatic' : 'manual';
          rollbackDuration.observe({ app, env, kind }, seconds);
          rollbacks.inc({ app, env, kind, outcome: e.outcome === 'failed' ? 'failed' : 'succeeded' });
        }
      }
    }
  };

  new Gauge({
    name: 'shipgate_releases',
    help: 'Releases by state and stage: running ones now, and those that ended while this dashboard ran.',
    labelNames: ['app', 'state', 'stage'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of collector.running.values()) this.inc({ app: s.app, state: s.state, stage: s.stage });
      for (const s of collector.ended.values()) this.inc({ app: s.app, state: s.state, stage: s.stage });
    },
  });
  new Gauge({
    name: 'shipgate_approvals_waiting',
    help: 'Releases waiting for approvals at an environment.',
    labelNames: ['app', 'env'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { name, environments } of collector.state.apps)
        for (const env of environments) this.set({ app: name, env }, 0);
      for (const r of Object.values(collector.state.releases))
        if (r.stage === 'awaiting-approval' && r.env) this.inc({ app: r.app, env: r.env });
    },
  });
  new Gauge({
    name: 'shipgate_environment_up',
    help: 'Whether the version an environment serves answers (1) or is DOWN (0); absent where nothing serves.',
    labelNames: ['app', 'env', 'version'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of Object.values(collector.state.cells))
        if (c.current)
          this.set({ app: c.app, env: c.env, version: c.current.version }, c.health === 'down' ? 0 : 1);
    },
  });
  new Gauge({
    name: 'shipgate_audit_degraded',
    help: 'Whether audit records wait in a workflow because the store cannot be written (1) or not (0).',
    labelNames: ['kind', 'app', 'name'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of Object.values(collector.state.cells))
        this.set({ kind: 'environment', app: c.app, name: c.env }, c.auditDegraded ? 1 : 0);
      for (const r of Object.values(collector.state.releases))
        if (r.auditDegraded) this.set({ kind: 'release', app: r.app, name: r.version }, 1);
    },
  });
  new Gauge({
    name: 'shipgate_notifier_failing',
    help: 'Notifications being retried after a failure (pending notify activities past their first attempt).',
    labelNames: ['workflow'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [workflow, n] of collector.notifierFailing) this.set({ workflow }, n);
    },
  });
  new Gauge({
    name: 'shipgate_dashboard_pass_seconds',
    help: "How long the dashboard's last read of Temporal took.",
    registers: [registry],
    collect() {
      this.set((collector.lastPass?.ms ?? 0) / 1000);
    },
  });

  return {
    registry,
    contentType: registry.contentType,
    async text() {
      observe();
      return registry.metrics();
    },
  };
}
