/**
 * The fast tier for environment logic: the environment workflow with the release workflow that deploys through
 * it, on the time-skipping server, with the real activities over an in-memory target and audit store. Each
 * test gets its own server, app and task queue (see time-skipping-harness.ts).
 *
 * The app has one environment, production: deploys reach it only through releases (an environment confirms
 * every deploy request with the release that sent it), and production's approval rules stay those of the
 * example config unless a test changes them.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { AuditRecord } from '../../src/audit/types.js';
import type { Freeze } from '../../src/policy/windows.js';
import { environmentWorkflowId } from '../../src/protocol/ids.js';
import { enqueueDeployUpdate, environmentQuery, statusQuery } from '../../src/workflows/messages.js';
import type {
  DeployRequest,
  EnvironmentSnapshot,
  ReleaseStatus,
  RollbackAccepted,
} from '../../src/workflows/types.js';
import { exampleConfig, type ExampleConfig } from '../helpers/fixture.js';
import { createMemoryAuditStore } from '../helpers/memory-audit-store.js';
import { createMemoryTarget, type MemoryTarget } from '../helpers/memory-target.js';
import { poll, releaseEnded, sandboxActivities, withSandbox, type Sandbox } from './time-skipping-harness.js';

export { refusal, useTimeSkippingServer } from './time-skipping-harness.js';

const isDeadline = (err: unknown) => /deadline/i.test(String((err as Error)?.message ?? err));

export interface Harness {
  app: string;
  taskQueue: string;
  target: MemoryTarget;
  env: TestWorkflowEnvironment;
  sandbox: Sandbox;
  /** Starts a release of `version` and approves it at production's gate (as alice and bob) if it has one. */
  startShip(version: string): Promise<WorkflowHandle>;
  /** Releases `version` to production (approving at its gate as alice and bob if it has one); its final status. */
  ship(version: string): Promise<ReleaseStatus>;
  /** Starts a release of `version` and returns its final status (the server skips time meanwhile). */
  release(version: string): Promise<ReleaseStatus>;
  /** Each request as `by` sends it, signed with their key. */
  rollback(by: string, input: { to?: string; reason: string; requestId?: string }): Promise<RollbackAccepted>;
  freeze(by: string, input: { until: string; reason: string }): Promise<Freeze>;
  unfreeze(by: string): Promise<{ removed: number }>;
  /** A deploy request as any client of the namespace can send it: a raw enqueue-deploy Update. */
  enqueueRaw(op: DeployRequest, updateId?: string): Promise<{ opId: string; position: number }>;
  /** The environment's query snapshot, once `pred` holds (polled). */
  waitFor(pred: (s: EnvironmentSnapshot) => boolean): Promise<EnvironmentSnapshot>;
  /** Waits until the ledger entry of `opId` has settled. */
  settled(opId: string): Promise<EnvironmentSnapshot>;
  snapshot(): Promise<EnvironmentSnapshot>;
  audit(): Promise<AuditRecord[]>;
  /** The audit records, once `pred` holds (the environment writes them after each step). */
  auditWhen(pred: (records: AuditRecord[]) => boolean): Promise<AuditRecord[]>;
}

/** Runs `body` with workers on the time-skipping server, real activities and an in-memory target. */
export async function withEnvironment<T>(
  tweak: (c: ExampleConfig) => void,
  body: (h: Harness) => Promise<T>,
): Promise<T> {
  const target = createMemoryTarget();
  const auditStore = createMemoryAuditStore();
  return withSandbox(
    {
      name: 'env',
      // Ports are never opened: the memory target only reads the config's target block.
      config: () =>
        exampleConfig({ staging: 18001, production: 18002 }, (c) => {
          const envs = c.apps.hello.environments as Record<string, Record<string, unknown>>;
          delete envs.staging;
          delete envs.production!.after;
          tweak(c);
        }),
      activities: (s) => sandboxActivities(s, { targets: target, audit: auditStore }),
    },
    (s) => {
      const { app, taskQueue } = s;
      const handle = s.env.client.workflow.getHandle(environmentWorkflowId(app, 'production'));
      // A query the time-skipping server loses (one sent while the run continues as new) is asked again.
      const read = async (): Promise<EnvironmentSnapshot | null> => {
        try {
          return await s.env.client.withDeadline(Date.now() + 5000, () => handle.query(environmentQuery));
        } catch (err) {
          if (err instanceof WorkflowNotFoundError || isDeadline(err)) return null;
          throw err;
        }
      };
      const waitFor = (pred: (s: EnvironmentSnapshot) => boolean) =>
        poll(
          read,
          (state) => state !== null && pred(state),
          (last) => `environment ${app}/production never reached the state: ${JSON.stringify(last)}`,
        ) as Promise<EnvironmentSnapshot>;
      const startShip = async (version: string) => {
        const release = await s.startRelease(version);
        const at = await poll(
          () => release.query(statusQuery),
          (x) => x.stage === 'awaiting-approval' || x.stage.startsWith('deploying') || x.state !== 'running',
          (last) => `release ${version} never reached production: ${JSON.stringify(last)}`,
        );
        if (at.stage === 'awaiting-approval') {
          await s.approve(release, 'alice');
          await s.approve(release, 'bob');
        }
        return release;
      };
      return body({
        app,
        taskQueue,
        target,
        env: s.env,
        sandbox: s,
        startShip,
        ship: async (version) => (await releaseEnded(await startShip(version))).status,
        release: async (version) => (await releaseEnded(await s.startRelease(version))).status,
        rollback: (by, input) => s.rollback('production', by, input),
        freeze: (by, input) => s.freeze('production', by, input),
        unfreeze: (by) => s.unfreeze('production', by),
        enqueueRaw: (op, updateId) => handle.executeUpdate(enqueueDeployUpdate, { args: [op], updateId }),
        waitFor,
        settled: (opId) =>
          waitFor((state) => state.ledger.some((e) => e.opId === opId && e.outcome !== 'running')),
        snapshot: async () => (await read())!,
        audit: () => auditStore.read({ app, env: 'production' }),
        auditWhen: (pred) =>
          poll(
            () => auditStore.read({ app, env: 'production' }),
            pred,
            (last) => `audit records never matched: ${(last ?? []).map((r) => r.type).join(', ')}`,
          ),
      });
    },
  );
}
