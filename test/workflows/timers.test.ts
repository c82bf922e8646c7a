import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, Runtime, DefaultLogger } from '@temporalio/worker';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { createActivities } from '../../src/activities/index.js';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import { validateConfig } from '../../src/config/load.js';
import { staticConfigSource } from '../../src/config/source.js';
import { createLocalTarget } from '../../src/targets/local/local-target.js';
import { createTargets } from '../../src/targets/registry.js';
import { temporalTestServerPath } from '../../src/temporal/binaries.js';
import { freePort } from '../../src/temporal/ports.js';
import { workflowsPath } from '../../src/worker.js';
import { ShipgateClient } from '../../src/client.js';
import {
  approveSignal,
  approveUpdate,
  FAILURE,
  rejectUpdate,
  overrideUpdate,
  environmentQuery,
  environmentTaskQueue,
  environmentWorkflowId,
  statusQuery,
} from '../../src/workflows/messages.js';
import type { ReleaseRequest, ReleaseStatus } from '../../src/workflows/types.js';
import { exampleConfig, type ExampleConfig } from '../helpers/fixture.js';

const testServer = temporalTestServerPath();
if (!testServer) throw new Error('time-skipping test server not installed: run scripts/setup.sh');

let testEnv: TestWorkflowEnvironment;
const homes: string[] = [];
const started: string[] = [];

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    /* installed */
  }
});

// A fresh server per test: environment workflows live on with timers of their own (keepPrevious), and one
// test's leftovers must not hold another test's clock.
beforeEach(async () => {
  testEnv = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServer } },
  });
});

afterEach(async () => {
  await testEnv?.teardown();
});

afterEach(async () => {
  for (const home of homes.splice(0)) {
    await createLocalTarget({ home }).stopAll();
    await rm(home, { recursive: true, force: true });
  }
});

/** Runs `body` with a worker on the time-skipping server, real activities and the real local target. */
async function withWorker<T>(
  tweak: (c: ExampleConfig) => void,
  body: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-ts-'));
  homes.push(home);
  const ports = { staging: await freePort(), production: await freePort() };
  const raw = exampleConfig(ports, tweak);
  // Each test gets its own app, so its environment workflows are its own on the shared server.
  const loaded = validateConfig(
    { ...raw, apps: { [appFor(home)]: raw.apps.hello } },
    path.join(home, 'shipgate.yaml'),
  );
  const taskQueue = `ts-${path.basename(home)}`;
  const activities = createActivities({
    config: staticConfigSource(loaded),
    targets: createTargets({ home }),
    audit: createJsonlAuditStore(path.join(home, 'audit.jsonl')),
    client: testEnv.client,
    home,
    taskQueue,
  });
  const connection = testEnv.nativeConnection;
  const workers = [
    await Worker.create({ connection, taskQueue, workflowsPath: workflowsPath(), activities }),
    ...(await Promise.all(
      ['staging', 'production'].map((env) =>
        Worker.create({ connection, taskQueue: environmentTaskQueue(env, taskQueue), activities }),
      ),
    )),
  ];
  const running = Promise.all(workers.map((w) => w.run()));
  try {
    return await body(taskQueue);
  } finally {
    // The time-skipping server stops skipping while any workflow task is pending, so nothing this test
    // started may outlive its workers (environment workflows run forever and hold reaper timers).
    const app = appFor(home);
    const ids = [
      environmentWorkflowId(app, 'staging'),
      environmentWorkflowId(app, 'production'),
      ...started.splice(0),
    ];
    for (const id of ids)
      await testEnv.client.workflow
        .getHandle(id)
        .terminate('test finished')
        .catch(() => undefined);
    for (const w of workers) w.shutdown();
    await running;
  }
}

const appFor = (home: string) =>
  `hello${path
    .basename(home)
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()}`;
const request = (app: string, version: string): ReleaseRequest => ({
  app,
  version,
  commit: `c-${version}`,
  branch: 'main',
  actor: 'dave',
  via: 'cli',
});

async function startRelease(taskQueue: string, version: string) {
  const app = appFor(taskQueue.slice('ts-'.length));
  started.push(`release/${app}/${version}`);
  return testEnv.client.workflow.start('releaseWorkflow', {
    workflowId: `release/${app}/${version}`,
    taskQueue,
    args: [request(app, version)],
  });
}

type Handle = Awaited<ReturnType<typeof startRelease>>;

async function waitStage(handle: Handle, stage: string): Promise<ReleaseStatus> {
  for (let i = 0; i < 600; i++) {
    const s = await handle.query(statusQuery);
    if (s.stage === stage) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never reached ${stage}: ${(await handle.query(statusQuery)).stage}`);
}

async function finalStatus(handle: Handle): Promise<ReleaseStatus> {
  try {
    return (await handle.result()) as ReleaseStatus;
  } catch (err) {
    if (err instanceof WorkflowFailedError) return handle.query(statusQuery);
    throw err;
  }
}

/**
 * Approves as alice, then bob, through the approve Update, as the CLI and Slack do. The time-skipping server
 * does not skip time while a client waits on an Update's result; the handler answers at once, so that is brief.
 */
const approveBoth = async (handle: Handle) => {
  const first = await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', via: 'cli' }] });
  expect(first).toMatchObject({ environment: 'production', met: false });
  const second = await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob', via: 'slack' }] });
  expect(second).toMatchObject({ environment: 'production', met: true });
};

/** Approves through the signal form of approve, which answers nothing. */
const approveBothBySignal = async (handle: Handle) => {
  await handle.signal(approveSignal, { by: 'alice', via: 'cli' });
  await handle.signal(approveSignal, { by: 'bob', via: 'cli' });
};

/** The policy refusal an Update failed with (what the CLI shows with exit 3); fails if it was accepted. */
async function refusalOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => {
      throw new Error('expected the Update to be refused, but it was accepted');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(FAILURE.policy);
  return (cause as ApplicationFailure).message;
}

describe('timer paths on the time-skipping server (real activities, real local target)', () => {
  it('the wait timer holds production for its full duration after approvals, then deploys', async () => {
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.waitTimer = '6h';
      },
      async (tq) => {
        const handle = await startRelease(tq, '1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBoth(handle);
        const waiting = await waitStage(handle, 'wait-timer');
        // Approvals count only at the gate: one arriving during the wait timer is refused and recorded.
        expect(
          await refusalOf(handle.executeUpdate(approveUpdate, { args: [{ by: 'carol', via: 'cli' }] })),
        ).toContain('not waiting for approval (stage: wait-timer)');
        const approvedAt = Date.parse(waiting.approvals.given[1]!.at);
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        expect(Date.parse(final.environments.production!.at!) - approvedAt).toBeGreaterThanOrEqual(
          6 * 3_600_000,
        );
      },
    );
  });

  it('a deny window holds an approved release in awaiting-window and it goes ahead when the window closes', async () => {
    const now = new Date(await testEnv.currentTimeMs());
    await withWorker(
      (c) => {
        // Opens at the top of the current UTC hour and lasts 3 h, so it is open right now.
        c.apps.hello.environments.production.windows = [
          {
            name: 'change-freeze',
            kind: 'deny',
            schedule: `0 ${now.getUTCHours()} * * *`,
            duration: '3h',
            timezone: 'UTC',
          },
        ];
      },
      async (tq) => {
        const handle = await startRelease(tq, '1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBoth(handle);
        const held = await waitStage(handle, 'awaiting-window');
        expect(held.blockedBy).toBe('change-freeze');
        const windowEnd = Date.parse(held.blockedUntil!);
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        expect(Date.parse(final.environments.production!.at!)).toBeGreaterThanOrEqual(windowEnd);
      },
    );
  });

  it('approvals through the signal form count while a window is open, and the deploy waits for the window', async () => {
    const now = new Date(await testEnv.currentTimeMs());
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.windows = [
          {
            name: 'nightly',
            kind: 'deny',
            schedule: `0 ${now.getUTCHours()} * * *`,
            duration: '2h',
            timezone: 'UTC',
          },
        ];
      },
      async (tq) => {
        const handle = await startRelease(tq, '1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBothBySignal(handle);
        const held = await waitStage(handle, 'awaiting-window');
        expect(held.approvals.given.map((a) => a.by)).toEqual(['alice', 'bob']);
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        const app = appFor(tq.slice('ts-'.length));
        const ledger = await testEnv.client.workflow
          .getHandle(environmentWorkflowId(app, 'production'))
          .query(environmentQuery);
        expect(ledger.ledger.at(-1)).toMatchObject({
          version: '1.0.0',
          outcome: 'succeeded',
          approvers: ['alice', 'bob'],
        });
      },
    );
  });

  it('a release nobody approves ends expired when approvalTimeout passes', async () => {
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.approvalTimeout = '24h';
      },
      async (tq) => {
        const handle = await startRelease(tq, '1.0.0');
        const gate = await waitStage(handle, 'awaiting-approval');
        const final = await finalStatus(handle);
        expect(final.state).toBe('expired');
        expect(
          Date.parse(final.endedAt!) - Date.parse(gate.environments.production!.at!),
        ).toBeGreaterThanOrEqual(24 * 3_600_000);
        await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
        expect(final.approvals.given).toEqual([]);
        // An expired release takes no more approvals: its run has closed, so Temporal turns the Update away as
        // not found (the CLI's exit 3; this server words it differently from the dev server), recording nothing.
        const late = await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', via: 'cli' }] }).then(
          () => null,
          (err: unknown) => err as Error,
        );
        expect(late).toBeInstanceOf(WorkflowNotFoundError);
        const after = await handle.query(statusQuery);
        expect(after.state).toBe('expired');
        expect(after.approvals.given).toEqual([]);
      },
    );
  });

  it('a rejection during the wait timer stops the release before production', async () => {
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.waitTimer = '1h';
      },
      async (tq) => {
        const handle = await startRelease(tq, '1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBoth(handle);
        await waitStage(handle, 'wait-timer');
        const rejected = await handle.executeUpdate(rejectUpdate, {
          args: [{ by: 'carol', via: 'cli', reason: 'customer freeze' }],
        });
        expect(rejected.stage).toBe('wait-timer');
        const final = await finalStatus(handle);
        expect(final.state).toBe('rejected');
        expect(final.reason).toContain('customer freeze');
        expect(final.environments.production!.state).toBe('waiting');
      },
    );
  });

  it('rollbacks: with nothing older one is refused; rollbackDuringWindows deny refuses one while a freeze is in force, and accepts it once lifted', async () => {
    const now = new Date(await testEnv.currentTimeMs());
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.approvals = [];
        (c.apps.hello.environments.production as Record<string, unknown>).rollbackDuringWindows = 'deny';
      },
      async (tq) => {
        const app = appFor(tq.slice('ts-'.length));
        const sg = new ShipgateClient(testEnv.client, tq);
        expect((await finalStatus(await startRelease(tq, '1.0.0'))).state).toBe('succeeded');
        const rollback = () => sg.rollback(app, 'production', { by: 'alice', via: 'cli', reason: 'test' });
        expect(await refusalOf(rollback())).toContain('no version older than 1.0.0');
        const s1 = await sg.environmentState(app, 'production');
        expect(s1?.ledger.filter((e) => e.action === 'rollback')).toHaveLength(0);
        expect((await finalStatus(await startRelease(tq, '1.1.0'))).state).toBe('succeeded');
        const until = new Date(now.getTime() + 10 * 3_600_000).toISOString();
        await sg.freeze(app, 'production', { by: 'carol', via: 'cli', until, reason: 'hold everything' });
        expect(await refusalOf(rollback())).toContain('rollbackDuringWindows: deny');
        await sg.unfreeze(app, 'production', { by: 'carol', via: 'cli' });
        const accepted = await rollback();
        expect(accepted).toMatchObject({ from: '1.1.0', to: '1.0.0' });
      },
    );
  });

  it('rollbackDuringWindows deny refuses a rollback while a deny window is open, and accepts it once the window has closed', async () => {
    const nowMs = await testEnv.currentTimeMs();
    // A nightly window that opens two hours from the top of this hour and lasts an hour: closed while the
    // two versions deploy, then reached by skipping time.
    const opensAt = Math.floor(nowMs / 3_600_000) * 3_600_000 + 2 * 3_600_000;
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.approvals = [];
        (c.apps.hello.environments.production as Record<string, unknown>).rollbackDuringWindows = 'deny';
        c.apps.hello.environments.production.windows = [
          {
            name: 'nightly-batch',
            kind: 'deny',
            schedule: `0 ${new Date(opensAt).getUTCHours()} * * *`,
            duration: '1h',
            timezone: 'UTC',
          },
        ];
      },
      async (tq) => {
        const app = appFor(tq.slice('ts-'.length));
        const sg = new ShipgateClient(testEnv.client, tq);
        // Polling (not awaiting results) keeps the server's clock still, so the window stays ahead.
        for (const v of ['1.0.0', '1.1.0']) {
          expect((await waitStage(await startRelease(tq, v), 'done')).state).toBe('succeeded');
        }
        expect(await testEnv.currentTimeMs()).toBeLessThan(opensAt);
        const rollback = () => sg.rollback(app, 'production', { by: 'alice', via: 'cli', reason: 'test' });
        await testEnv.sleep(opensAt - (await testEnv.currentTimeMs()) + 60_000);
        const refused = await refusalOf(rollback());
        expect(refused).toContain('while nightly-batch blocks deploys');
        expect(refused).toContain('rollbackDuringWindows: deny');
        const s = await sg.environmentState(app, 'production');
        expect(s?.ledger.filter((e) => e.action === 'rollback')).toHaveLength(0);
        expect(s?.current?.version).toBe('1.1.0');
        await testEnv.sleep('1h');
        const accepted = await rollback();
        expect(accepted).toMatchObject({ from: '1.1.0', to: '1.0.0' });
        const entry = await sg.waitForOperation(app, 'production', accepted.opId);
        expect(entry).toMatchObject({ action: 'rollback', version: '1.0.0', outcome: 'succeeded' });
      },
    );
  });

  it('keepPrevious: the warm previous version is stopped by a durable timer once its time has passed', async () => {
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.approvals = [];
        c.apps.hello.environments.production.keepPrevious = '30m';
      },
      async (tq) => {
        const home = path.join(os.tmpdir(), tq.slice('ts-'.length));
        const app = appFor(home);
        // Polling (not awaiting results) keeps the server's clock still: only testEnv.sleep moves it below.
        for (const v of ['1.0.0', '1.1.0']) {
          expect((await waitStage(await startRelease(tq, v), 'done')).state).toBe('succeeded');
        }
        const target = createLocalTarget({ home });
        const warm = async () =>
          (await target.status(app, 'production'))!.processes
            .filter((p) => p.alive)
            .map((p) => p.version)
            .sort();
        expect(await warm()).toEqual(['1.0.0', '1.1.0']);
        await testEnv.sleep('20m');
        expect(await warm()).toEqual(['1.0.0', '1.1.0']);
        await testEnv.sleep('11m');
        for (let i = 0; i < 100 && (await warm()).length > 1; i++)
          await new Promise((r) => setTimeout(r, 100));
        expect(await warm()).toEqual(['1.1.0']);
      },
    );
  });

  it('a soak verification runs its rounds on durable timers for its whole duration before promoting', async () => {
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.approvals = [];
        (c.apps.hello.environments.production as Record<string, unknown>).verify = {
          checks: [{ path: '/smoke', status: 200 }],
          duration: '2h',
          interval: '10m',
          failureLimit: 1,
        };
      },
      async (tq) => {
        const handle = await startRelease(tq, '1.0.0');
        const verifying = await waitStage(handle, 'verifying-production');
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        const elapsed =
          Date.parse(final.environments.production!.at!) - Date.parse(verifying.environments.production!.at!);
        expect(elapsed).toBeGreaterThanOrEqual(2 * 3_600_000);
        const app = appFor(tq.slice('ts-'.length));
        const ledger = await testEnv.client.workflow
          .getHandle(environmentWorkflowId(app, 'production'))
          .query(environmentQuery);
        expect(ledger.ledger.at(-1)).toMatchObject({ version: '1.0.0', outcome: 'succeeded' });
      },
    );
  });

  it('a soak that fails past its failureLimit rolls back to the previous version', async () => {
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.approvals = [];
        (c.apps.hello.environments.production as Record<string, unknown>).verify = {
          checks: [{ path: '/smoke', status: 200 }],
          duration: '1h',
          interval: '5m',
          failureLimit: 2,
        };
        // Staging checks only the version, so the bad build reaches the production soak.
      },
      async (tq) => {
        expect((await finalStatus(await startRelease(tq, '1.0.0'))).state).toBe('succeeded');
        const final = await finalStatus(await startRelease(tq, '1.1.0-bad'));
        expect(final.state).toBe('rolled-back');
        expect(final.reason).toContain('soak round 3');
      },
    );
  });

  it('a freeze added while a release is in its wait timer holds the deploy until the freeze ends', async () => {
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.waitTimer = '2h';
      },
      async (tq) => {
        const app = appFor(tq.slice('ts-'.length));
        const handle = await startRelease(tq, '1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBoth(handle);
        await waitStage(handle, 'wait-timer');
        const until = new Date((await testEnv.currentTimeMs()) + 5 * 3_600_000).toISOString();
        await new ShipgateClient(testEnv.client, tq).freeze(app, 'production', {
          by: 'carol',
          via: 'cli',
          until,
          reason: 'audit week',
        });
        await testEnv.sleep('2h');
        const held = await waitStage(handle, 'awaiting-window');
        expect(held.blockedBy).toContain('carol');
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        expect(Date.parse(final.environments.production!.at!)).toBeGreaterThanOrEqual(Date.parse(until));
      },
    );
  });

  it('a break-glass override lets a release held by a window go before the window closes', async () => {
    const now = new Date(await testEnv.currentTimeMs());
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.windows = [
          {
            name: 'nightly',
            kind: 'deny',
            schedule: `0 ${now.getUTCHours()} * * *`,
            duration: '6h',
            timezone: 'UTC',
          },
        ];
      },
      async (tq) => {
        const handle = await startRelease(tq, '1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBoth(handle);
        const held = await waitStage(handle, 'awaiting-window');
        await handle.executeUpdate(overrideUpdate, {
          args: [{ by: 'dave', via: 'cli', reason: 'sev1 fix' }],
        });
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        expect(final.override).toMatchObject({ by: 'dave', reason: 'sev1 fix' });
        expect(Date.parse(final.environments.production!.at!)).toBeLessThan(Date.parse(held.blockedUntil!));
      },
    );
  });
});
