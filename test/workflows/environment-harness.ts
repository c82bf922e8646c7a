/**
 * The fast tier for environment logic: the environment workflow (and, where a test needs it, the release
 * workflow) on the time-skipping server, with the real activities over an in-memory target and audit store.
 * Each test gets its own server, app and task queue, so nothing one test leaves running holds another's clock.
 */
import { afterEach, beforeAll, beforeEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../src/activities/index.js';
import { buildEnvironmentPolicy } from '../../src/activities/plan.js';
import type { AuditRecord } from '../../src/audit/types.js';
import { ShipgateClient } from '../../src/client.js';
import { validateConfig } from '../../src/config/load.js';
import { staticConfigSource } from '../../src/config/source.js';
import { environmentTaskQueue, environmentWorkflowId, releaseWorkflowId } from '../../src/protocol/ids.js';
import { temporalTestServerPath } from '../../src/temporal/binaries.js';
import { workflowsPath } from '../../src/worker.js';
import { statusQuery } from '../../src/workflows/messages.js';
import type {
  DeployOp,
  DeployRequest,
  EnvironmentSnapshot,
  ReleaseRequest,
  ReleaseStatus,
} from '../../src/workflows/types.js';
import { exampleConfig, type ExampleConfig } from '../helpers/fixture.js';
import { createMemoryAuditStore } from '../helpers/memory-audit-store.js';
import { createMemoryTarget, type MemoryTarget } from '../helpers/memory-target.js';

const testServer = temporalTestServerPath();
if (!testServer) throw new Error('time-skipping test server not installed: run scripts/setup.sh');

let testEnv: TestWorkflowEnvironment;
let bundle: WorkflowBundle;

/** Registers the hooks: one workflow bundle per file, one time-skipping server per test. */
export function useTimeSkippingServer(): void {
  beforeAll(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* installed */
    }
    bundle = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: new DefaultLogger('WARN') });
  });
  beforeEach(async () => {
    testEnv = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: testServer! } },
    });
  });
  afterEach(async () => {
    await testEnv?.teardown();
  });
}

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
  const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-env-'));
  const app = `hello${path
    .basename(home)
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()}`;
  // Ports are never opened: the memory target only reads the config's target block.
  const raw = exampleConfig({ staging: 18001, production: 18002 }, tweak);
  const loaded = validateConfig(
    { ...raw, apps: { [app]: raw.apps.hello } },
    path.join(home, 'shipgate.yaml'),
  );
  const taskQueue = `env-${path.basename(home)}`;
  const target = createMemoryTarget();
  const auditStore = createMemoryAuditStore();
  const activities = createActivities({
    config: staticConfigSource(loaded),
    targets: target,
    audit: auditStore,
    client: testEnv.client,
    home,
    taskQueue,
  });
  const connection = testEnv.nativeConnection;
  const workers = [
    await Worker.create({ connection, taskQueue, workflowBundle: bundle, activities }),
    ...(await Promise.all(
      (['staging', 'production'] as const).map((env) =>
        Worker.create({ connection, taskQueue: environmentTaskQueue(env, taskQueue), activities }),
      ),
    )),
  ];
  const running = Promise.all(workers.map((w) => w.run()));
  const sg = new ShipgateClient(testEnv.client, taskQueue);
  const releases: string[] = [];

  const snapshot = async (env: Env = 'production') => (await sg.environmentState(app, env))!;
  const waitFor = async (pred: (s: EnvironmentSnapshot) => boolean, env: Env = 'production') => {
    let last: EnvironmentSnapshot | null = null;
    for (let i = 0; i < 1200; i++) {
      last = await sg.environmentState(app, env);
      if (last && pred(last)) return last;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`environment ${app}/${env} never reached the state: ${JSON.stringify(last)}`);
  };

  const h: Harness = {
    app,
    taskQueue,
    target,
    sg,
    env: testEnv,
    deployOp(version, fields = {}, env = 'production') {
      const policy = buildEnvironmentPolicy(loaded.config, app, env);
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
      waitFor((s) => s.ledger.some((e) => e.opId === opId && e.outcome !== 'running'), env),
    snapshot,
    audit: (env = 'production') => auditStore.read({ app, env }),
    async auditWhen(pred, env = 'production') {
      let records: AuditRecord[] = [];
      for (let i = 0; i < 1200; i++) {
        records = await auditStore.read({ app, env });
        if (pred(records)) return records;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`audit records never matched: ${records.map((r) => r.type).join(', ')}`);
    },
    async release(version) {
      const workflowId = releaseWorkflowId(app, version);
      releases.push(workflowId);
      const request: ReleaseRequest = {
        app,
        version,
        commit: `c-${version}`,
        branch: 'main',
        actor: 'dave',
        via: 'cli',
      };
      const handle = await testEnv.client.workflow.start('releaseWorkflow', {
        workflowId,
        taskQueue,
        args: [request],
      });
      try {
        return (await handle.result()) as ReleaseStatus;
      } catch (err) {
        if (err instanceof WorkflowFailedError) return handle.query(statusQuery);
        throw err;
      }
    },
  };

  try {
    return await body(h);
  } finally {
    // Environment workflows run forever with timers of their own; nothing may outlive the workers.
    for (const id of [
      environmentWorkflowId(app, 'staging'),
      environmentWorkflowId(app, 'production'),
      ...releases,
    ]) {
      await testEnv.client.workflow
        .getHandle(id)
        .terminate('test finished')
        .catch(() => undefined);
    }
    for (const w of workers) w.shutdown();
    await running;
    await rm(home, { recursive: true, force: true });
  }
}

/** The refusal a client sees when an Update is refused by policy: the failure's type and message. */
export async function refusal(p: Promise<unknown>): Promise<{ type: string | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      return { type: err.cause.type ?? undefined, message: err.cause.message };
    }
    throw err;
  }
  throw new Error('expected the request to be refused, but it was accepted');
}
