import { describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import type { Notifier, NotifyEvent } from '../../src/integrations/notifier.js';
import { environmentWorkflowId } from '../../src/protocol/ids.js';
import { environmentQuery, statusQuery } from '../../src/workflows/messages.js';
import type { EnvironmentSnapshot, ReleaseStatus } from '../../src/workflows/types.js';
import { isAlreadyReleased } from '../../src/policy/release-once.js';
import { exampleConfig } from '../helpers/fixture.js';
import { createMemoryAuditStore, type MemoryAuditStore } from '../helpers/memory-audit-store.js';
import { createMemoryTarget, type MemoryTarget } from '../helpers/memory-target.js';
import {
  poll,
  refusal,
  sandboxActivities,
  useTimeSkippingServer,
  withSandbox,
  type Sandbox,
} from './time-skipping-harness.js';

useTimeSkippingServer();

interface AuditHarness {
  s: Sandbox;
  store: MemoryAuditStore;
  target: MemoryTarget;
  events: NotifyEvent[];
  env(): Promise<EnvironmentSnapshot>;
  waitEnv(what: string, pred: (x: EnvironmentSnapshot) => boolean): Promise<EnvironmentSnapshot>;
  /** Starts a release and waits (polling, so the clock stays still) until its status says it ended. */
  ship(version: string): Promise<{ handle: WorkflowHandle; status: ReleaseStatus }>;
}

/** Production only, no approvals: each release goes straight to its deploy. */
async function withAudit<T>(body: (h: AuditHarness) => Promise<T>): Promise<T> {
  const store = createMemoryAuditStore();
  const target = createMemoryTarget();
  const events: NotifyEvent[] = [];
  const notifier: Notifier = {
    async notify(e) {
      events.push(e);
    },
  };
  return withSandbox(
    {
      name: 'audit',
      config: () =>
        exampleConfig({ staging: 18001, production: 18002 }, (c) => {
          const envs = c.apps.hello.environments as Record<string, Record<string, unknown>>;
          delete envs.staging;
          delete envs.production!.after;
          delete envs.production!.approvals;
        }),
      activities: (s) => sandboxActivities(s, { targets: target, audit: store, notifier }),
    },
    (s) => {
      const handle = s.env.client.workflow.getHandle(environmentWorkflowId(s.app, 'production'));
      const read = async (): Promise<EnvironmentSnapshot | null> => {
        try {
          return await s.env.client.withDeadline(Date.now() + 5000, () => handle.query(environmentQuery));
        } catch (err) {
          if (err instanceof WorkflowNotFoundError || /deadline/i.test(String(err))) return null;
          throw err;
        }
      };
      const waitEnv = (what: string, pred: (x: EnvironmentSnapshot) => boolean) =>
        poll(
          read,
          (x) => x !== null && pred(x),
          (last) => `production never ${what}: ${JSON.stringify(last)}`,
        ) as Promise<EnvironmentSnapshot>;
      return body({
        s,
        store,
        target,
        events,
        env: async () => (await read())!,
        waitEnv,
        async ship(version) {
          const release = await s.startRelease(version);
          const status = await poll(
            () => release.query(statusQuery),
            (x) => x.state !== 'running',
            (last) => `release ${version} never ended: ${JSON.stringify(last)}`,
          );
          return { handle: release, status };
        },
      });
    },
  );
}

/** The records a workflow wrote (their ids start with its workflow id), as `type version`. */
const written = (store: MemoryAuditStore, workflowId: string) =>
  store.records.filter((r) => r.id.startsWith(`${workflowId}@`)).map((r) => `${r.type} ${r.version}`);

describe('the audit path never blocks the release path (time-skipping server)', () => {
  it('with the store failing, a release deploys and a rollback runs; "audit degraded" shows, and every record arrives later, in order, once', async () => {
    await withAudit(async (h) => {
      const { app } = h.s;
      // Healthy: the environment and the release keep the chain head their last write returned.
      const first = await h.ship('1.0.0');
      expect(first.status.state).toBe('succeeded');
      const anchored = await h.waitEnv('anchored its records', (x) => (x.auditAnchor?.seq ?? 0) > 0);
      expect(anchored.auditDegraded ?? null).toBeNull();
      const head = h.store.records.find((r) => r.hash === anchored.auditAnchor!.hash)!;
      expect(head).toMatchObject({
        seq: anchored.auditAnchor!.seq,
        env: 'production',
        type: 'deploy-succeeded',
      });
      await first.handle.result();
      const firstStatus = await first.handle.query(statusQuery);
      expect(firstStatus.auditAnchor?.seq).toBeGreaterThan(0);
      const before = h.store.records.length;

      h.store.fail('EISDIR: illegal operation on a directory, open audit.jsonl');
      const second = await h.ship('1.1.0');
      expect(second.status.state).toBe('succeeded');
      const deployed = await h.waitEnv(
        'showed audit degraded after deploying 1.1.0',
        (x) => x.current?.version === '1.1.0' && x.running === null && x.auditDegraded != null,
      );
      expect(deployed.auditDegraded).toMatchObject({
        lastError: expect.stringContaining('EISDIR'),
        waiting: expect.any(Number),
      });
      expect(deployed.auditDegraded!.waiting).toBeGreaterThan(0);
      // The release has ended for its people, while its own records wait in the workflow.
      const releaseDegraded = await poll(
        () => second.handle.query(statusQuery),
        (x) => x.auditDegraded != null,
        (last) => `release 1.1.0 never showed audit degraded: ${JSON.stringify(last)}`,
      );
      expect(releaseDegraded.state).toBe('succeeded');

      // A rollback while the store still fails: accepted and run to its end.
      const accepted = await h.s.rollback('production', 'alice', { reason: 'store down, roll back anyway' });
      const rolled = await h.waitEnv('ran the rollback', (x) =>
        x.ledger.some((e) => e.opId === accepted.opId && e.outcome !== 'running'),
      );
      expect(rolled.ledger.find((e) => e.opId === accepted.opId)?.outcome).toBe('succeeded');
      expect(rolled.current?.version).toBe('1.0.0');
      expect(h.target.activations.map((a) => a.version)).toEqual(['1.0.0', '1.1.0', '1.0.0']);
      expect(rolled.auditDegraded?.waiting).toBeGreaterThan(deployed.auditDegraded!.waiting);
      expect(h.store.records.length).toBe(before);
      expect(h.store.failedAppends).toBeGreaterThan(0);
      // Told once per workflow, however many appends failed.
      const degradedEvents = () => h.events.filter((e) => e.kind === 'audit-degraded');
      await poll(
        async () => degradedEvents().length,
        (n) => n === 2,
        (n) => `expected an audit-degraded event from the environment and the release, got ${n}`,
      );
      expect(
        degradedEvents()
          .map((e) => ('env' in e ? e.env : null))
          .sort(),
      ).toEqual([null, 'production']);

      // Polling keeps the clock at the wall's pace: the next try comes within seconds.
      h.store.recover();
      const recovered = await h.waitEnv(
        'wrote what waited',
        (x) => x.auditDegraded == null && (x.auditAnchor?.seq ?? 0) > anchored.auditAnchor!.seq,
      );
      await second.handle.result();
      const final = await second.handle.query(statusQuery);
      expect(final.auditDegraded).toBeNull();

      // Every record, once, in the order it happened; the chain holds; the anchors name the last heads.
      expect(await h.store.verify()).toMatchObject({ ok: true });
      const ids = h.store.records.map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(written(h.store, environmentWorkflowId(app, 'production'))).toEqual([
        'deploy-started 1.0.0',
        'deploy-succeeded 1.0.0',
        'deploy-started 1.1.0',
        'deploy-succeeded 1.1.0',
        'rollback-requested 1.0.0',
        'rollback-started 1.0.0',
        'rollback-succeeded 1.0.0',
      ]);
      expect(written(h.store, second.handle.workflowId)).toEqual([
        'release-started 1.1.0',
        'deployed 1.1.0',
        'release-ended 1.1.0',
      ]);
      const envHead = h.store.records.find((r) => r.hash === recovered.auditAnchor!.hash)!;
      expect(envHead).toMatchObject({ env: 'production', type: 'rollback-succeeded' });
      expect(h.store.records.find((r) => r.hash === final.auditAnchor!.hash)?.type).toBe('release-ended');
      await poll(
        async () => h.events.filter((e) => e.kind === 'audit-recovered').length,
        (n) => n === 2,
        (n) => `expected audit-recovered from both workflows, got ${n}`,
      );
    });
  });

  it('records waiting when the environment continues as new are carried, and written once the store is back', async () => {
    await withAudit(async (h) => {
      const { app } = h.s;
      // A short history limit: the run continues as new after each operation or two.
      await h.s.env.client.workflow.start('environmentWorkflow', {
        workflowId: environmentWorkflowId(app, 'production'),
        taskQueue: h.s.taskQueue,
        args: [{ app, env: 'production', historyLimit: 40 }],
      });
      const firstRun = (
        await h.s.env.client.workflow.getHandle(environmentWorkflowId(app, 'production')).describe()
      ).runId;
      h.store.fail('the bucket is unreachable');
      for (const v of ['1.0.0', '1.1.0', '1.2.0']) expect((await h.ship(v)).status.state).toBe('succeeded');
      // The run continues as new while the store still fails: what waits goes along, and shows in the new run.
      const handle = h.s.env.client.workflow.getHandle(environmentWorkflowId(app, 'production'));
      await poll(
        async () => (await handle.describe()).runId,
        (run) => run !== firstRun,
        () => 'the environment never continued as new',
      );
      const degraded = await h.waitEnv(
        'carried its waiting records',
        (x) => x.current?.version === '1.2.0' && x.running === null && (x.auditDegraded?.waiting ?? 0) >= 6,
      );
      expect(degraded.ledger.map((e) => e.version)).toEqual(['1.0.0', '1.1.0', '1.2.0']);
      expect(h.store.records).toHaveLength(0);

      // Polling keeps the clock at the wall's pace: the next try comes within seconds.
      h.store.recover();
      await h.waitEnv('wrote what waited', (x) => x.auditDegraded == null && x.auditAnchor != null);
      expect(await h.store.verify()).toMatchObject({ ok: true });
      const ids = h.store.records.map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(written(h.store, environmentWorkflowId(app, 'production'))).toEqual(
        ['1.0.0', '1.1.0', '1.2.0'].flatMap((v) => [`deploy-started ${v}`, `deploy-succeeded ${v}`]),
      );
      // The outage was told once, though several runs carried it.
      expect(h.events.filter((e) => e.kind === 'audit-degraded' && e.env === 'production')).toHaveLength(1);
    });
  });

  it('a version the last environment says was released is refused, even when its release workflow is gone', async () => {
    await withAudit(async (h) => {
      const { app } = h.s;
      // An environment continued from a run whose ledger was trimmed: only its list of released versions remains.
      await h.s.env.client.workflow.start('environmentWorkflow', {
        workflowId: environmentWorkflowId(app, 'production'),
        taskQueue: h.s.taskQueue,
        args: [
          {
            app,
            env: 'production',
            carried: {
              current: null,
              ledger: [],
              queue: [],
              freezes: [],
              ledgerSize: 200,
              released: [
                { version: '0.9.0', releaseId: `release/${app}/0.9.0`, at: '2026-01-01T00:00:00.000Z' },
              ],
            },
          },
        ],
      });
      const refused = await refusedWithDetails(h.s.admitRelease('0.9.0'));
      expect(refused.type).toBe('PolicyRefusal');
      expect(refused.message).toContain(`${app} 0.9.0 was already released successfully`);
      // Clients tell this refusal by its details (the CLI answers it as for a succeeded run: exit 3).
      expect(refused.details.some(isAlreadyReleased)).toBe(true);
      expect(h.target.activations).toHaveLength(0);

      // A version released here in this run is refused from the ledger too, and one that failed is not.
      expect((await h.ship('1.0.0')).status.state).toBe('succeeded');
      h.target.failVerification('1.1.0-bad');
      expect((await h.ship('1.1.0-bad')).status.state).toBe('rolled-back');
      await h.s.env.client.workflow.getHandle(`release/${app}/1.0.0`).result();
      const again = await refusal(h.s.admitRelease('1.0.0'));
      expect(again.message).toContain('was already released successfully (deployed to production');
      const retry = await h.s.admitRelease('1.1.0-bad');
      expect(retry.attached).toBe(false);
      const retried = await poll(
        () => h.s.env.client.workflow.getHandle(`release/${app}/1.1.0-bad`).query(statusQuery),
        (x) => x.state !== 'running',
        (last) => `the second run of 1.1.0-bad never ended: ${JSON.stringify(last)}`,
      );
      expect(retried.state).toBe('rolled-back');
      const records = h.store.records.filter((r) => r.type === 'release-refused');
      expect(records.map((r) => [r.version, r.actor])).toEqual([
        ['0.9.0', 'dave'],
        ['1.0.0', 'dave'],
      ]);
    });
  });
});

/** An Update refused by the workflow: its failure's type, message and details. */
async function refusedWithDetails(
  p: Promise<unknown>,
): Promise<{ type: string | undefined; message: string; details: unknown[] }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure)
      return {
        type: err.cause.type ?? undefined,
        message: err.cause.message,
        details: err.cause.details ?? [],
      };
    throw err;
  }
  throw new Error('expected the request to be refused, but it was accepted');
}
