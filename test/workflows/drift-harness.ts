/**
 * The fast tier for drift: the environment workflow and the releases that deploy through it, on the
 * time-skipping server, with the real activities over the in-memory target standing in for a cluster, so
 * a test can change what runs by hand (`target.setImage`: someone ran `kubectl set image`).
 *
 * The app has one environment, production, with the example config's approval rules (two team-leads; alice,
 * bob and carol may roll back and adopt). Its target block names a Kubernetes Deployment, set after the config
 * is validated: the build stays local (the memory target runs any artifact), where a real config pairs a
 * cluster with an image build.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { AuditRecord } from '../../src/audit/types.js';
import { kubernetesTargetSchema } from '../../src/config/schema.js';
import type { NotifyEvent } from '../../src/integrations/notifier.js';
import { environmentWorkflowId } from '../../src/protocol/ids.js';
import { adoptUpdate, environmentQuery, statusQuery } from '../../src/workflows/messages.js';
import type {
  AdoptResult,
  EnvironmentSnapshot,
  ReleaseStatus,
  RollbackAccepted,
} from '../../src/workflows/types.js';
import { exampleConfig, type ExampleConfig } from '../helpers/fixture.js';
import { createMemoryAuditStore } from '../helpers/memory-audit-store.js';
import { createMemoryTarget, type MemoryTarget } from '../helpers/memory-target.js';
import { detailsOf } from './proofs.js';
import { poll, releaseEnded, sandboxActivities, withSandbox, type Sandbox } from './time-skipping-harness.js';

export { refusal, useTimeSkippingServer } from './time-skipping-harness.js';

/** The Deployment the environment deploys to, as the config's defaults fill it in. */
export const CLUSTER_TARGET = kubernetesTargetSchema.parse({
  kind: 'kubernetes',
  namespace: 'shop',
  deployment: 'hello',
  container: 'hello',
});

export interface ClusterHarness {
  app: string;
  target: MemoryTarget;
  env: TestWorkflowEnvironment;
  sandbox: Sandbox;
  /** Every notification sent, in order. */
  notifications: NotifyEvent[];
  /** Starts a release of `version` and approves it at production's gate (as alice and bob). */
  startShip(version: string): Promise<WorkflowHandle>;
  /** Releases `version` to production; its final status. */
  ship(version: string): Promise<ReleaseStatus>;
  /** The release's status, once `pred` holds (polled). */
  statusWhen(release: WorkflowHandle, pred: (s: ReleaseStatus) => boolean): Promise<ReleaseStatus>;
  /** `shipgate adopt` as `by` sends it, signed. */
  adopt(by: string, reason: string, requestId?: string): Promise<AdoptResult>;
  rollback(by: string, input: { to?: string; reason: string }): Promise<RollbackAccepted>;
  /** The environment's query snapshot, once `pred` holds (polled). */
  waitFor(pred: (s: EnvironmentSnapshot) => boolean): Promise<EnvironmentSnapshot>;
  snapshot(): Promise<EnvironmentSnapshot>;
  audit(): Promise<AuditRecord[]>;
  auditWhen(pred: (records: AuditRecord[]) => boolean): Promise<AuditRecord[]>;
}

const isDeadline = (err: unknown) => /deadline/i.test(String((err as Error)?.message ?? err));

/**
 * Runs `body` with workers on the time-skipping server; `tweak` edits production's config block (onDrift,
 * driftInterval, ...) before it is validated; `cluster: false` keeps the example's local target block.
 */
export async function withCluster<T>(
  tweak: (production: Record<string, unknown>) => void,
  body: (h: ClusterHarness) => Promise<T>,
  opts: { cluster?: boolean } = {},
): Promise<T> {
  const target = createMemoryTarget();
  const auditStore = createMemoryAuditStore();
  const notifications: NotifyEvent[] = [];
  return withSandbox(
    {
      name: 'drift',
      config: () =>
        exampleConfig({ staging: 18001, production: 18002 }, (c: ExampleConfig) => {
          const envs = c.apps.hello.environments as Record<string, Record<string, unknown>>;
          delete envs.staging;
          delete envs.production!.after;
          tweak(envs.production!);
        }),
      activities: (s) => {
        if (opts.cluster !== false) {
          const production = s.loaded.config.apps[s.app]!.environments.production!;
          production.target = CLUSTER_TARGET;
        }
        return sandboxActivities(s, {
          targets: target,
          audit: auditStore,
          notifier: { notify: async (event) => void notifications.push(event) },
        });
      },
    },
    (s) => {
      const { app } = s;
      const handle = s.env.client.workflow.getHandle(environmentWorkflowId(app, 'production'));
      const read = async (): Promise<EnvironmentSnapshot | null> => {
        try {
          return await s.env.client.withDeadline(Date.now() + 5000, () => handle.query(environmentQuery));
        } catch (err) {
          if (err instanceof WorkflowNotFoundError || isDeadline(err)) return null;
          throw err;
        }
      };
      const waitFor = (pred: (x: EnvironmentSnapshot) => boolean) =>
        poll(
          read,
          (x) => x !== null && pred(x),
          (last) => `environment ${app}/production never reached the state: ${JSON.stringify(last)}`,
        ) as Promise<EnvironmentSnapshot>;
      const statusWhen = (release: WorkflowHandle, pred: (x: ReleaseStatus) => boolean) =>
        poll(
          () => release.query(statusQuery),
          pred,
          (last) => `release never reached the state: ${JSON.stringify(last)}`,
        );
      const startShip = async (version: string) => {
        const release = await s.startRelease(version);
        const at = await statusWhen(
          release,
          (x) => x.stage === 'awaiting-approval' || x.stage.startsWith('deploying') || x.state !== 'running',
        );
        if (at.stage === 'awaiting-approval') {
          await s.approve(release, 'alice');
          await s.approve(release, 'bob');
        }
        return release;
      };
      return body({
        app,
        target,
        env: s.env,
        sandbox: s,
        notifications,
        startShip,
        ship: async (version) => (await releaseEnded(await startShip(version))).status,
        statusWhen,
        async adopt(by, reason, requestId) {
          const scope = {
            action: 'adopt' as const,
            app,
            env: 'production',
            version: null,
            run: null,
            details: detailsOf.adopt({ reason }),
          };
          const proof = await s.sign(by, scope);
          return handle.executeUpdate(adoptUpdate, {
            args: [{ proof, reason, ...(requestId ? { requestId } : {}) }],
          });
        },
        rollback: (by, input) => s.rollback('production', by, input),
        waitFor,
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
