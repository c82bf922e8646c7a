/**
 * The fast tier for environment logic: the environment workflow (and, where a test needs it, the release
 * workflow) on the time-skipping server, with the real activities over an in-memory target and audit store.
 * Each test gets its own server, app and task queue (see time-skipping-harness.ts).
 */
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { buildEnvironmentPolicy } from '../../src/activities/plan.js';
import type { AuditRecord } from '../../src/audit/types.js';
import { ShipgateClient } from '../../src/client.js';
import { releaseWorkflowId } from '../../src/protocol/ids.js';
import type {
  DeployOp,
  DeployRequest,
  EnvironmentSnapshot,
  ReleaseStatus,
} from '../../src/workflows/types.js';
import { exampleConfig, type ExampleConfig } from '../helpers/fixture.js';
import { createMemoryAuditStore } from '../helpers/memory-audit-store.js';
import { createMemoryTarget, type MemoryTarget } from '../helpers/memory-target.js';
import { poll, releaseEnded, sandboxActivities, withSandbox } from './time-skipping-harness.js';

export { refusal, useTimeSkippingServer } from './time-skipping-harness.js';

export type Env = 'staging' | 'production';

export interface Harness {
  app: string;
  taskQueue: string;
  target: MemoryTarget;
  sg: ShipgateClient;
  env: TestWorkflowEnvironment;
  /** A deploy request as a release sends it, with the environment's deploy settings from the config. */
  deployOp(version: string, fields?: Partial<DeployOp>, env?: Env): DeployOp;
  /** Sends a deploy to the environment the way a release does (update-with-start, the op id as update id). */
  enqueue(op: DeployRequest, env?: Env): Promise<{ opId: string; position: number }>;
  /** The environment's query snapshot, once `pred` holds (polled). */
  waitFor(pred: (s: EnvironmentSnapshot) => boolean, env?: Env): Promise<EnvironmentSnapshot>;
  /** Waits until the ledger entry of `opId` has settled. */
  settled(opId: string, env?: Env): Promise<EnvironmentSnapshot>;
  snapshot(env?: Env): Promise<EnvironmentSnapshot>;
  audit(env?: Env): Promise<AuditRecord[]>;
  /** The audit records, once `pred` holds (the environment writes them after each step). */
  auditWhen(pred: (records: AuditRecord[]) => boolean, env?: Env): Promise<AuditRecord[]>;
  /** Starts a release of `version` and returns its final status (the server skips time meanwhile). */
  release(version: string): Promise<ReleaseStatus>;
}

/** Runs `body` with workers on the time-skipping server, real activities and an in-memory target. */
export async function withEnvironment<T>(
  tweak: (c: ExampleConfig) => void,
  body: (h: Harness) => Promise<T>,
): Promise<T> {
  const target = createMemoryTarget();
  const auditStore = createMemoryAuditStore();
  let activities!: ReturnType<typeof sandboxActivities>;
  return withSandbox(
    {
      name: 'env',
      // Ports are never opened: the memory target only reads the config's target block.
      config: () => exampleConfig({ staging: 18001, production: 18002 }, tweak),
      activities: (s) => (activities = sandboxActivities(s, { targets: target, audit: auditStore })),
    },
    (s) => {
      const { app, home, taskQueue } = s;
      const sg = new ShipgateClient(s.env.client, taskQueue);
      const snapshot = async (env: Env = 'production') => (await sg.environmentState(app, env))!;
      const waitFor = (pred: (s: EnvironmentSnapshot) => boolean, env: Env = 'production') =>
        poll(
          () => sg.environmentState(app, env),
          (state) => state !== null && pred(state),
          (last) => `environment ${app}/${env} never reached the state: ${JSON.stringify(last)}`,
        ) as Promise<EnvironmentSnapshot>;
      return body({
        app,
        taskQueue,
        target,
        sg,
        env: s.env,
        deployOp(version, fields = {}, env = 'production') {
          const policy = buildEnvironmentPolicy(s.loaded.config, app, env);
          if (!policy.ok) throw new Error(policy.message);
          return {
            kind: 'deploy',
            opId: `${releaseWorkflowId(app, version)}#${env}#1`,
            releaseId: releaseWorkflowId(app, version),
            version,
            commit: `c-${version}`,
            artifact: path.join(home, 'artifacts', app, version),
            actor: 'dave',
            approvers: [],
            spec: policy.policy.deploy,
            gated: true,
            overridden: false,
            requestedAt: new Date().toISOString(),
            ...fields,
          };
        },
        enqueue: (op, env = 'production') => activities.submitDeploy({ app, env, op }),
        waitFor,
        settled: (opId, env = 'production') =>
          waitFor((state) => state.ledger.some((e) => e.opId === opId && e.outcome !== 'running'), env),
        snapshot,
        audit: (env = 'production') => auditStore.read({ app, env }),
        auditWhen: (pred, env = 'production') =>
          poll(
            () => auditStore.read({ app, env }),
            pred,
            (last) => `audit records never matched: ${(last ?? []).map((r) => r.type).join(', ')}`,
          ),
        release: async (version) => (await releaseEnded(await s.startRelease(version))).status,
      });
    },
  );
}
