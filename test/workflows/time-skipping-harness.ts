/**
 * What every fast workflow test shares: a fresh time-skipping server per test (so nothing one test leaves
 * running holds another's clock), one workflow bundle per file, and workers for an app of the test's own on a
 * task queue of its own, over the activities the test chooses. release-harness.ts and environment-harness.ts
 * build on it with in-memory stand-ins; timers.test.ts with the real local target.
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
import { createActivities, type ActivityDeps } from '../../src/activities/index.js';
import { validateConfig, type LoadedConfig } from '../../src/config/load.js';
import { staticConfigSource } from '../../src/config/source.js';
import { environmentTaskQueue, environmentWorkflowId, releaseWorkflowId } from '../../src/protocol/ids.js';
import { temporalTestServerPath } from '../../src/temporal/binaries.js';
import { fileURLToPath } from 'node:url';
import type { Freeze } from '../../src/policy/windows.js';
import {
  admitUpdate,
  approveUpdate,
  cancelUpdate,
  freezeUpdate,
  overrideUpdate,
  rejectUpdate,
  rollbackUpdate,
  statusQuery,
  unfreezeUpdate,
} from '../../src/workflows/messages.js';
import type {
  ApproveResult,
  ReleaseRequest,
  ReleaseStatus,
  RollbackAccepted,
} from '../../src/workflows/types.js';
import type { ExampleConfig } from '../helpers/fixture.js';
import { detailsOf, makeKeys, peopleBlock, releaseScope, signer, type Keys, type Signer } from './proofs.js';

const testServer = temporalTestServerPath();
if (!testServer) throw new Error('time-skipping test server not installed: run scripts/setup.sh');

let testEnv: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
let keys: Keys;

/** Registers the hooks: one workflow bundle and one set of SSH keys per file, one time-skipping server per test. */
export function useTimeSkippingServer(): void {
  beforeAll(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* installed */
    }
    // The real workflows and the clock keeper (see clock-workflows.ts).
    const workflowsPath = fileURLToPath(new URL('./clock-workflows.ts', import.meta.url));
    bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
    keys = await makeKeys();
    return () => keys.cleanup();
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

/** The current test's server. */
export const timeSkippingEnv = (): TestWorkflowEnvironment => testEnv;

/** This file's SSH keys: each person's, and one listed for nobody. */
export const testKeys = (): Keys => keys;

/** Who a release start names, when a test names nobody. */
export const STARTER = 'dave';

export type ReleaseFields = Partial<Omit<ReleaseRequest, 'proof'>> & {
  /** Who signs the start (default dave); `proof` replaces the signed one altogether. */
  as?: string;
  proof?: ReleaseRequest['proof'];
};

/** One test's app, config and task queue on the current server. */
export interface Sandbox {
  home: string;
  /** The test's own app: the example config's `hello`, renamed. */
  app: string;
  taskQueue: string;
  loaded: LoadedConfig;
  env: TestWorkflowEnvironment;
  /** Release workflow ids this test started, oldest first; they are terminated when it ends. */
  started: string[];
  /** Signs statements as the test's people, dated on this server's clock. */
  sign: Signer;
  /** A release of the app from main with commit `c-<version>`, signed by dave (or `as`). */
  request(version: string, fields?: ReleaseFields): Promise<ReleaseRequest>;
  /** Starts a release workflow directly (no search attributes: this server has no visibility store). */
  startRelease(version: string, fields?: ReleaseFields): Promise<WorkflowHandle>;
  /** Starts (or attaches to) a release the way the CLI does: update-with-start of `admit`. */
  admitRelease(version: string, fields?: ReleaseFields): ReturnType<typeof admitWith>;
  /** The release-scoped Updates as `by` sends them, signed for the release as it stands now. */
  approve(handle: WorkflowHandle, by: string, comment?: string): Promise<ApproveResult>;
  reject(handle: WorkflowHandle, by: string, reason: string): Promise<ReleaseStatus>;
  cancel(handle: WorkflowHandle, by: string, reason: string): Promise<ReleaseStatus>;
  override(handle: WorkflowHandle, by: string, reason: string): Promise<ReleaseStatus>;
  /** The environment Updates as `by` sends them, signed. */
  rollback(
    env: string,
    by: string,
    input: { to?: string; reason: string; requestId?: string },
  ): Promise<RollbackAccepted>;
  freeze(env: string, by: string, input: { until: string; reason: string }): Promise<Freeze>;
  unfreeze(env: string, by: string): Promise<{ removed: number }>;
}

function admitWith(
  env: TestWorkflowEnvironment,
  workflowId: string,
  taskQueue: string,
  request: ReleaseRequest,
) {
  return env.client.workflow.executeUpdateWithStart(admitUpdate, {
    args: [request],
    startWorkflowOperation: new WithStartWorkflowOperation('releaseWorkflow', {
      workflowId,
      taskQueue,
      args: [request],
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });
}

export interface SandboxOptions {
  /** Names the temp home (`shipgate-<name>-…`) and the task queue (`<name>-…`). */
  name: string;
  /** The example config to run (its `hello` app becomes the test's app); `now` is the server's time. */
  config(now: Date): ExampleConfig | Promise<ExampleConfig>;
  /** The activities the workers run. */
  activities(s: Sandbox): object;
  /** Runs after the workers stopped, before the home is removed. */
  cleanup?(s: Sandbox): Promise<unknown>;
}

/**
 * The real activities over the sandbox's config, with the target and audit store (and notifier, and the
 * environment secrets are read from) given.
 */
export function sandboxActivities(
  s: Sandbox,
  deps: Pick<ActivityDeps, 'targets' | 'audit' | 'notifier' | 'env'>,
): ReturnType<typeof createActivities> {
  const { home, taskQueue } = s;
  return createActivities({
    config: staticConfigSource(s.loaded),
    client: s.env.client,
    home,
    taskQueue,
    ...deps,
  });
}

/** Runs `body` with a release worker and both environments' workers on the current time-skipping server. */
export async function withSandbox<T>(opts: SandboxOptions, body: (s: Sandbox) => Promise<T>): Promise<T> {
  const env = testEnv;
  const home = await mkdtemp(path.join(os.tmpdir(), `shipgate-${opts.name}-`));
  const app = `hello${path
    .basename(home)
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()}`;
  const raw = await opts.config(new Date(await env.currentTimeMs()));
  const loaded = validateConfig(
    { people: peopleBlock(keys), ...raw, apps: { [app]: raw.apps.hello } },
    path.join(home, 'shipgate.yaml'),
  );
  const taskQueue = `${opts.name}-${path.basename(home)}`;
  const sign = signer(keys, () => env.currentTimeMs());
  const envHandle = (name: string) => env.client.workflow.getHandle(environmentWorkflowId(app, name));
  const decide = async <R>(
    handle: WorkflowHandle,
    update: typeof rejectUpdate | typeof cancelUpdate | typeof overrideUpdate,
    action: 'reject' | 'cancel' | 'override',
    by: string,
    reason: string,
  ): Promise<R> => {
    const proof = await sign(by, await releaseScope(handle, action, detailsOf.decide({ reason })));
    return (await handle.executeUpdate(update, { args: [{ proof, reason }] })) as R;
  };
  const s: Sandbox = {
    home,
    app,
    taskQueue,
    loaded,
    env,
    started: [],
    sign,
    async request(version, fields = {}) {
      const { as = STARTER, proof, ...rest } = fields;
      const base = { app, version, commit: `c-${version}`, branch: 'main', ...rest };
      const scope = {
        action: 'release' as const,
        app: base.app,
        env: null,
        version: base.version,
        run: null,
        details: detailsOf.release(base),
      };
      return { ...base, proof: proof ?? (await sign(as, scope)) };
    },
    async startRelease(version, fields) {
      const workflowId = releaseWorkflowId(app, version);
      s.started.push(workflowId);
      return env.client.workflow.start('releaseWorkflow', {
        workflowId,
        taskQueue,
        args: [await s.request(version, fields)],
      });
    },
    async admitRelease(version, fields) {
      const workflowId = releaseWorkflowId(app, version);
      if (!s.started.includes(workflowId)) s.started.push(workflowId);
      return admitWith(env, workflowId, taskQueue, await s.request(version, fields));
    },
    async approve(handle, by, comment) {
      const input = comment ? { comment } : {};
      const proof = await sign(by, await releaseScope(handle, 'approve', detailsOf.approve(input)));
      return handle.executeUpdate(approveUpdate, { args: [{ proof, ...input }] });
    },
    reject: (handle, by, reason) => decide(handle, rejectUpdate, 'reject', by, reason),
    cancel: (handle, by, reason) => decide(handle, cancelUpdate, 'cancel', by, reason),
    override: (handle, by, reason) => decide(handle, overrideUpdate, 'override', by, reason),
    async rollback(name, by, input) {
      const details = detailsOf.rollback(input);
      const scope = {
        action: 'rollback' as const,
        app,
        env: name,
        version: input.to ?? null,
        run: null,
        details,
      };
      const proof = await sign(by, scope);
      return envHandle(name).executeUpdate(rollbackUpdate, { args: [{ proof, ...input }] });
    },
    async freeze(name, by, input) {
      const details = detailsOf.freeze(input);
      const proof = await sign(by, { action: 'freeze', app, env: name, version: null, run: null, details });
      // Started when nothing was deployed there yet, as the CLI does.
      return env.client.workflow.executeUpdateWithStart(freezeUpdate, {
        args: [{ proof, ...input }],
        startWorkflowOperation: new WithStartWorkflowOperation('environmentWorkflow', {
          workflowId: environmentWorkflowId(app, name),
          taskQueue,
          args: [{ app, env: name }],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      });
    },
    async unfreeze(name, by) {
      const details = detailsOf.unfreeze();
      const proof = await sign(by, { action: 'unfreeze', app, env: name, version: null, run: null, details });
      return envHandle(name).executeUpdate(unfreezeUpdate, { args: [{ proof }] });
    },
  };
  const activities = opts.activities(s);
  const connection = env.nativeConnection;
  const workers = [
    await Worker.create({ connection, taskQueue, workflowBundle: bundle, activities }),
    ...(await Promise.all(
      (['staging', 'production'] as const).map((e) =>
        Worker.create({ connection, taskQueue: environmentTaskQueue(e, taskQueue), activities }),
      ),
    )),
  ];
  const running = Promise.all(workers.map((w) => w.run()));
  // Bounds how far the clock runs on after an awaited workflow closes (see clock-workflows.ts).
  const keeperId = `clock-keeper-${taskQueue}`;
  try {
    await env.client.workflow.start('clockKeeper', { workflowId: keeperId, taskQueue });
    return await body(s);
  } finally {
    // The server stops skipping time while any workflow task is pending, and environment workflows run
    // forever with timers of their own: nothing this test started may outlive its workers.
    const ids = [
      keeperId,
      environmentWorkflowId(app, 'staging'),
      environmentWorkflowId(app, 'production'),
      ...s.started,
    ];
    for (const id of ids)
      await env.client.workflow
        .getHandle(id)
        .terminate('test finished')
        .catch(() => undefined);
    for (const w of workers) w.shutdown();
    await running;
    await opts.cleanup?.(s);
    await rm(home, { recursive: true, force: true });
  }
}

/**
 * Reads until `pred` holds, and returns what it read; fails naming `what` and the last read. Polling (not
 * awaiting a result) keeps the server's clock still.
 */
export async function poll<T>(
  read: () => Promise<T>,
  pred: (v: T) => boolean,
  what: (last: T | undefined) => string,
): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 1200; i++) {
    last = await read();
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(what(last));
}

/**
 * Awaits the release's end (the server skips time meanwhile): its final status, and the failure type of a
 * run that ended other than succeeded.
 */
export async function releaseEnded(
  handle: WorkflowHandle,
): Promise<{ status: ReleaseStatus; failure: string | null }> {
  try {
    return { status: (await handle.result()) as ReleaseStatus, failure: null };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const failure = err.cause instanceof ApplicationFailure ? (err.cause.type ?? null) : null;
    return { status: await handle.query(statusQuery), failure };
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
