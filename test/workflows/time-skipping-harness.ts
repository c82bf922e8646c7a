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
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, type ActivityDeps } from '../../src/activities/index.js';
import { validateConfig, type LoadedConfig } from '../../src/config/load.js';
import { staticConfigSource } from '../../src/config/source.js';
import { environmentTaskQueue, environmentWorkflowId, releaseWorkflowId } from '../../src/protocol/ids.js';
import { temporalTestServerPath } from '../../src/temporal/binaries.js';
import { workflowsPath } from '../../src/worker.js';
import { statusQuery } from '../../src/workflows/messages.js';
import type { ReleaseRequest, ReleaseStatus } from '../../src/workflows/types.js';
import type { ExampleConfig } from '../helpers/fixture.js';

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

/** The current test's server. */
export const timeSkippingEnv = (): TestWorkflowEnvironment => testEnv;

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
  /** A release of the app by dave from main, with commit `c-<version>`. */
  request(version: string, fields?: Partial<ReleaseRequest>): ReleaseRequest;
  /** Starts a release workflow directly (no search attributes: this server has no visibility store). */
  startRelease(version: string, fields?: Partial<ReleaseRequest>): Promise<WorkflowHandle>;
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

/** The real activities over the sandbox's config, with the target and audit store (and notifier) given. */
export function sandboxActivities(
  s: Sandbox,
  deps: Pick<ActivityDeps, 'targets' | 'audit' | 'notifier'>,
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
    { ...raw, apps: { [app]: raw.apps.hello } },
    path.join(home, 'shipgate.yaml'),
  );
  const taskQueue = `${opts.name}-${path.basename(home)}`;
  const s: Sandbox = {
    home,
    app,
    taskQueue,
    loaded,
    env,
    started: [],
    request: (version, fields = {}) => ({
      app,
      version,
      commit: `c-${version}`,
      branch: 'main',
      actor: 'dave',
      via: 'cli',
      ...fields,
    }),
    startRelease(version, fields) {
      const workflowId = releaseWorkflowId(app, version);
      s.started.push(workflowId);
      return env.client.workflow.start('releaseWorkflow', {
        workflowId,
        taskQueue,
        args: [s.request(version, fields)],
      });
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
  try {
    return await body(s);
  } finally {
    // The server stops skipping time while any workflow task is pending, and environment workflows run
    // forever with timers of their own: nothing this test started may outlive its workers.
    const ids = [
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
