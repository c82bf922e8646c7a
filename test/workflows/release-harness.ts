/**
 * The fast tier for release logic: the release workflow (with the environment workflows it deploys through) on
 * the time-skipping server, with the real activities over an in-memory target and audit store. Each test gets
 * its own server, app and task queue, so nothing one test leaves running holds another's clock.
 *
 * The time-skipping server has no visibility store (no search attributes, no list queries), so releases start
 * without search attributes and `supersedeOlderReleases` is a stand-in that reads the releases this harness
 * started, in start order, instead of listing them.
 */
import { afterEach, beforeAll, beforeEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import {
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../src/activities/index.js';
import type { AuditRecord } from '../../src/audit/types.js';
import { validateConfig } from '../../src/config/load.js';
import { staticConfigSource } from '../../src/config/source.js';
import type { NotifyEvent } from '../../src/integrations/notifier.js';
import {
  environmentTaskQueue,
  environmentWorkflowId,
  parseReleaseWorkflowId,
  releaseWorkflowId,
} from '../../src/protocol/ids.js';
import { temporalTestServerPath } from '../../src/temporal/binaries.js';
import { workflowsPath } from '../../src/worker.js';
import {
  admitUpdate,
  approveSignal,
  approveUpdate,
  cancelUpdate,
  environmentQuery,
  overrideUpdate,
  rejectUpdate,
  statusQuery,
  supersedeSignal,
} from '../../src/workflows/messages.js';
import type {
  AdmitResult,
  ApproveResult,
  EnvironmentSnapshot,
  ReleaseRequest,
  ReleaseStatus,
} from '../../src/workflows/types.js';
import { exampleConfig, type ExampleConfig } from '../helpers/fixture.js';
import { createMemoryAuditStore, type MemoryAuditStore } from '../helpers/memory-audit-store.js';
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

type Via = ReleaseRequest['via'];

/** One release as its users reach it: the same Updates, signals and query the CLI, Slack and the Action use. */
export interface Release {
  readonly version: string;
  readonly handle: WorkflowHandle;
  status(): Promise<ReleaseStatus>;
  /** Polls the status until `pred` holds (polling keeps the server's clock still). */
  waitFor(pred: (s: ReleaseStatus) => boolean, what?: string): Promise<ReleaseStatus>;
  waitStage(stage: string): Promise<ReleaseStatus>;
  approve(by: string, via?: Via, comment?: string): Promise<ApproveResult>;
  /** The signal form of approve, for channels that cannot wait for an answer. */
  approveBySignal(by: string, via?: Via): Promise<void>;
  reject(by: string, reason: string, via?: Via): Promise<ReleaseStatus>;
  cancel(by: string, reason: string, via?: Via): Promise<ReleaseStatus>;
  override(by: string, reason: string, via?: Via): Promise<ReleaseStatus>;
  /** Awaits the end (the server skips time meanwhile) and returns the final status and the run's failure type. */
  ended(): Promise<{ status: ReleaseStatus; failure: string | null }>;
  /** The audit records this release wrote, in order. */
  audit(): AuditRecord[];
}

export interface Harness {
  app: string;
  taskQueue: string;
  target: MemoryTarget;
  audit: MemoryAuditStore;
  /** Every notification the release workflows sent (Slack's view), in order. */
  notifications: NotifyEvent[];
  env: TestWorkflowEnvironment;
  start(version: string, request?: Partial<ReleaseRequest>): Promise<Release>;
  /** Starts (or attaches to) a release the way the CLI does: update-with-start of `admit`. */
  admit(version: string, request?: Partial<ReleaseRequest>): Promise<AdmitResult>;
  release(version: string): Release;
  environment(env: 'staging' | 'production'): Promise<EnvironmentSnapshot>;
}

/** Runs `body` with workers on the time-skipping server, real activities and an in-memory target. */
export async function withReleases<T>(
  tweak: (c: ExampleConfig, now: Date) => void,
  body: (h: Harness) => Promise<T>,
): Promise<T> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-rel-'));
  const app = `hello${path
    .basename(home)
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()}`;
  // Ports are never opened: the memory target only reads the config's target block.
  const now = new Date(await testEnv.currentTimeMs());
  const raw = exampleConfig({ staging: 18001, production: 18002 }, (c) => tweak(c, now));
  const loaded = validateConfig(
    { ...raw, apps: { [app]: raw.apps.hello } },
    path.join(home, 'shipgate.yaml'),
  );
  const taskQueue = `rel-${path.basename(home)}`;
  const target = createMemoryTarget();
  const audit = createMemoryAuditStore();
  const notifications: NotifyEvent[] = [];
  const client = testEnv.client;
  const started: string[] = [];

  const activities = {
    ...createActivities({
      config: staticConfigSource(loaded),
      targets: target,
      audit,
      client,
      home,
      taskQueue,
      notifier: { notify: async (e) => void notifications.push(structuredClone(e)) },
    }),
    /** Stand-in for the visibility query: the releases this harness started, oldest first. */
    async supersedeOlderReleases(input: { app: string; env: string; version: string; releaseId: string }) {
      const mine = started.indexOf(input.releaseId);
      const superseded: string[] = [];
      let newer: string | null = null;
      for (const [i, id] of started.entries()) {
        if (id === input.releaseId) continue;
        const other = client.workflow.getHandle(id);
        if ((await other.describe()).status.name !== 'RUNNING') continue;
        const version = parseReleaseWorkflowId(id)!.version;
        if (i < mine) {
          await other.signal(supersedeSignal, { by: 'shipgate', version: input.version, env: input.env });
          superseded.push(version);
        } else if (
          ((await other.query(statusQuery)).environments[input.env]?.state ?? 'pending') !== 'pending'
        ) {
          newer = version;
        }
      }
      return { superseded, newer, error: null as string | null };
    },
  };
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

  const requestFor = (version: string, fields: Partial<ReleaseRequest>): ReleaseRequest => ({
    app,
    version,
    commit: `c-${version}`,
    branch: 'main',
    actor: 'dave',
    via: 'cli',
    ...fields,
  });

  const h: Harness = {
    app,
    taskQueue,
    target,
    audit,
    notifications,
    env: testEnv,
    async start(version, fields = {}) {
      const request = requestFor(version, fields);
      const workflowId = releaseWorkflowId(app, version);
      started.push(workflowId);
      const handle = await client.workflow.start('releaseWorkflow', {
        workflowId,
        taskQueue,
        args: [request],
      });
      return releaseOf(version, handle, audit);
    },
    async admit(version, fields = {}) {
      const request = requestFor(version, fields);
      const workflowId = releaseWorkflowId(app, version);
      if (!started.includes(workflowId)) started.push(workflowId);
      return client.workflow.executeUpdateWithStart(admitUpdate, {
        args: [request],
        startWorkflowOperation: new WithStartWorkflowOperation('releaseWorkflow', {
          workflowId,
          taskQueue,
          args: [request],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      });
    },
    release: (version) =>
      releaseOf(version, client.workflow.getHandle(releaseWorkflowId(app, version)), audit),
    environment: (env) => client.workflow.getHandle(environmentWorkflowId(app, env)).query(environmentQuery),
  };

  try {
    return await body(h);
  } finally {
    // Environment workflows run forever with timers of their own; nothing may outlive the workers.
    for (const id of [
      environmentWorkflowId(app, 'staging'),
      environmentWorkflowId(app, 'production'),
      ...started,
    ]) {
      await client.workflow
        .getHandle(id)
        .terminate('test finished')
        .catch(() => undefined);
    }
    for (const w of workers) w.shutdown();
    await running;
    await rm(home, { recursive: true, force: true });
  }
}

function releaseOf(version: string, handle: WorkflowHandle, audit: MemoryAuditStore): Release {
  const status = () => handle.query(statusQuery);
  const waitFor = async (pred: (s: ReleaseStatus) => boolean, what = 'the expected state') => {
    let last: ReleaseStatus | null = null;
    for (let i = 0; i < 1200; i++) {
      last = await status();
      if (pred(last)) return last;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`release ${version} never reached ${what}: ${JSON.stringify(last)}`);
  };
  return {
    version,
    handle,
    status,
    waitFor,
    waitStage: (stage) => waitFor((s) => s.stage === stage, `stage ${stage}`),
    approve: (by, via = 'cli', comment) =>
      handle.executeUpdate(approveUpdate, { args: [{ by, via, ...(comment ? { comment } : {}) }] }),
    approveBySignal: (by, via = 'cli') => handle.signal(approveSignal, { by, via }),
    reject: (by, reason, via = 'cli') => handle.executeUpdate(rejectUpdate, { args: [{ by, via, reason }] }),
    cancel: (by, reason, via = 'cli') => handle.executeUpdate(cancelUpdate, { args: [{ by, via, reason }] }),
    override: (by, reason, via = 'cli') =>
      handle.executeUpdate(overrideUpdate, { args: [{ by, via, reason }] }),
    async ended() {
      try {
        return { status: (await handle.result()) as ReleaseStatus, failure: null };
      } catch (err) {
        if (!(err instanceof WorkflowFailedError)) throw err;
        const cause = err.cause instanceof ApplicationFailure ? err.cause.type : null;
        return { status: await status(), failure: cause ?? null };
      }
    },
    // Records the release itself wrote: their ids start with its workflow id.
    audit: () => audit.records.filter((r) => r.id.startsWith(`${handle.workflowId}@`)),
  };
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
