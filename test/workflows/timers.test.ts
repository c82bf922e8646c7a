import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import { createLocalTarget } from '../../src/targets/local/local-target.js';
import { createTargets } from '../../src/targets/registry.js';
import { freePort } from '../../src/temporal/ports.js';
import {
  FAILURE,
  environmentQuery,
  environmentWorkflowId,
  statusQuery,
} from '../../src/workflows/messages.js';
import type { ReleaseStatus } from '../../src/workflows/types.js';
import { exampleConfig, type ExampleConfig } from '../helpers/fixture.js';
import {
  poll,
  refusal,
  releaseEnded,
  sandboxActivities,
  timeSkippingEnv,
  useTimeSkippingServer,
  withSandbox,
  type Sandbox,
} from './time-skipping-harness.js';

useTimeSkippingServer();
const testEnv = () => timeSkippingEnv();

/** Runs `body` with workers on the time-skipping server, real activities and the real local target. */
async function withWorker<T>(
  tweak: (c: ExampleConfig, now: Date) => void,
  body: (s: Sandbox) => Promise<T>,
): Promise<T> {
  const ports = { staging: await freePort(), production: await freePort() };
  return withSandbox(
    {
      name: 'ts',
      config: (now) => exampleConfig(ports, (c) => tweak(c, now)),
      activities: (s) =>
        sandboxActivities(s, {
          targets: createTargets({ home: s.home }),
          audit: createJsonlAuditStore(path.join(s.home, 'audit.jsonl')),
        }),
      cleanup: (s) => createLocalTarget({ home: s.home }).stopAll(),
    },
    body,
  );
}

type Handle = Awaited<ReturnType<Sandbox['startRelease']>>;

const waitStage = (handle: Handle, stage: string): Promise<ReleaseStatus> =>
  poll(
    () => handle.query(statusQuery),
    (s) => s.stage === stage,
    (last) => `never reached ${stage}: ${last?.stage}`,
  );

const finalStatus = async (handle: Handle): Promise<ReleaseStatus> => (await releaseEnded(handle)).status;

/** A deny window that opened at the top of the server's current UTC hour and lasts `hours`: open right now. */
const denyWindowOpenAt = (now: Date, name: string, hours: number) => ({
  name,
  kind: 'deny',
  schedule: `0 ${now.getUTCHours()} * * *`,
  duration: `${hours}h`,
  timezone: 'UTC',
});

/**
 * Approves as alice, then bob, through the approve Update with signed statements, as the CLI does. The
 * time-skipping server does not skip time while a client waits on an Update's result; the handler answers
 * once the proof is verified, so that is brief.
 */
const approveBoth = async (sb: Sandbox, handle: Handle) => {
  const first = await sb.approve(handle, 'alice');
  expect(first).toMatchObject({ environment: 'production', met: false });
  const second = await sb.approve(handle, 'bob');
  expect(second).toMatchObject({ environment: 'production', met: true });
};

/** The policy refusal an Update failed with (what the CLI shows with exit 3); fails if it was accepted. */
async function refusalOf(p: Promise<unknown>): Promise<string> {
  const { type, message } = await refusal(p);
  expect(type).toBe(FAILURE.policy);
  return message;
}

describe('timer paths on the time-skipping server (real activities, real local target)', () => {
  it('the wait timer holds production for its full duration after approvals, then deploys', async () => {
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.waitTimer = '6h';
      },
      async (sb) => {
        const handle = await sb.startRelease('1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBoth(sb, handle);
        const waiting = await waitStage(handle, 'wait-timer');
        // Approvals count only at the gate: one arriving during the wait timer is refused and recorded.
        expect(await refusalOf(sb.approve(handle, 'carol'))).toContain(
          'not waiting for approval (stage: wait-timer)',
        );
        const approvedAt = Date.parse(waiting.approvals.given[1]!.at);
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        expect(Date.parse(final.environments.production!.at!) - approvedAt).toBeGreaterThanOrEqual(
          6 * 3_600_000,
        );
      },
    );
  });

  it('a deny window holds an approved release in awaiting-window; approvals given while it is open count, and it goes ahead when the window closes', async () => {
    await withWorker(
      (c, now) => {
        c.apps.hello.environments.production.windows = [denyWindowOpenAt(now, 'change-freeze', 3)];
      },
      async (sb) => {
        const handle = await sb.startRelease('1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBoth(sb, handle);
        const held = await waitStage(handle, 'awaiting-window');
        expect(held.blockedBy).toBe('change-freeze');
        expect(held.approvals.given.map((a) => [a.by, a.via])).toEqual([
          ['alice', 'ssh'],
          ['bob', 'ssh'],
        ]);
        const windowEnd = Date.parse(held.blockedUntil!);
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        expect(Date.parse(final.environments.production!.at!)).toBeGreaterThanOrEqual(windowEnd);
        const ledger = await testEnv()
          .client.workflow.getHandle(environmentWorkflowId(sb.app, 'production'))
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
      async (sb) => {
        const handle = await sb.startRelease('1.0.0');
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
        const late = await sb.approve(handle, 'alice').then(
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
      async (sb) => {
        const handle = await sb.startRelease('1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBoth(sb, handle);
        await waitStage(handle, 'wait-timer');
        const rejected = await sb.reject(handle, 'carol', 'customer freeze');
        expect(rejected.stage).toBe('wait-timer');
        const final = await finalStatus(handle);
        expect(final.state).toBe('rejected');
        expect(final.reason).toContain('customer freeze');
        expect(final.environments.production!.state).toBe('waiting');
      },
    );
  });

  it('rollbacks: with nothing older one is refused; rollbackDuringWindows deny refuses one while a freeze is in force, and accepts it once lifted', async () => {
    const now = new Date(await testEnv().currentTimeMs());
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.approvals = [];
        (c.apps.hello.environments.production as Record<string, unknown>).rollbackDuringWindows = 'deny';
      },
      async (sb) => {
        const app = sb.app;
        const readEnv = () =>
          testEnv()
            .client.workflow.getHandle(environmentWorkflowId(app, 'production'))
            .query(environmentQuery);
        expect((await finalStatus(await sb.startRelease('1.0.0'))).state).toBe('succeeded');
        const rollback = () => sb.rollback('production', 'alice', { reason: 'test' });
        expect(await refusalOf(rollback())).toContain('no version older than 1.0.0');
        const s1 = await readEnv();
        expect(s1?.ledger.filter((e) => e.action === 'rollback')).toHaveLength(0);
        expect((await finalStatus(await sb.startRelease('1.1.0'))).state).toBe('succeeded');
        const until = new Date(now.getTime() + 10 * 3_600_000).toISOString();
        await sb.freeze('production', 'carol', { until, reason: 'hold everything' });
        expect(await refusalOf(rollback())).toContain('rollbackDuringWindows: deny');
        await sb.unfreeze('production', 'carol');
        const accepted = await rollback();
        expect(accepted).toMatchObject({ from: '1.1.0', to: '1.0.0' });
      },
    );
  });

  it('rollbackDuringWindows deny refuses a rollback while a deny window is open, and accepts it once the window has closed', async () => {
    const nowMs = await testEnv().currentTimeMs();
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
      async (sb) => {
        const app = sb.app;
        const readEnv = () =>
          testEnv()
            .client.workflow.getHandle(environmentWorkflowId(app, 'production'))
            .query(environmentQuery);
        // Polling (not awaiting results) keeps the server's clock still, so the window stays ahead.
        for (const v of ['1.0.0', '1.1.0']) {
          expect((await waitStage(await sb.startRelease(v), 'done')).state).toBe('succeeded');
        }
        expect(await testEnv().currentTimeMs()).toBeLessThan(opensAt);
        const rollback = () => sb.rollback('production', 'alice', { reason: 'test' });
        await testEnv().sleep(opensAt - (await testEnv().currentTimeMs()) + 60_000);
        const refused = await refusalOf(rollback());
        expect(refused).toContain('while nightly-batch blocks deploys');
        expect(refused).toContain('rollbackDuringWindows: deny');
        const s = await readEnv();
        expect(s?.ledger.filter((e) => e.action === 'rollback')).toHaveLength(0);
        expect(s?.current?.version).toBe('1.1.0');
        await testEnv().sleep('1h');
        const accepted = await rollback();
        expect(accepted).toMatchObject({ from: '1.1.0', to: '1.0.0' });
        const settled = await poll(
          readEnv,
          (x) => x.ledger.some((e) => e.opId === accepted.opId && e.outcome !== 'running'),
          () => `rollback ${accepted.opId} never settled`,
        );
        expect(settled.ledger.find((e) => e.opId === accepted.opId)).toMatchObject({
          action: 'rollback',
          version: '1.0.0',
          outcome: 'succeeded',
        });
      },
    );
  });

  it('keepPrevious: the warm previous version is stopped by a durable timer once its time has passed', async () => {
    await withWorker(
      (c) => {
        c.apps.hello.environments.production.approvals = [];
        c.apps.hello.environments.production.keepPrevious = '30m';
      },
      async (sb) => {
        const { home, app } = sb;
        // Polling (not awaiting results) keeps the server's clock still: only testEnv().sleep moves it below.
        for (const v of ['1.0.0', '1.1.0']) {
          expect((await waitStage(await sb.startRelease(v), 'done')).state).toBe('succeeded');
        }
        const target = createLocalTarget({ home });
        const warm = async () =>
          (await target.status(app, 'production'))!.processes
            .filter((p) => p.alive)
            .map((p) => p.version)
            .sort();
        expect(await warm()).toEqual(['1.0.0', '1.1.0']);
        await testEnv().sleep('20m');
        expect(await warm()).toEqual(['1.0.0', '1.1.0']);
        await testEnv().sleep('11m');
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
      async (sb) => {
        const handle = await sb.startRelease('1.0.0');
        const verifying = await waitStage(handle, 'verifying-production');
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        expect(verifying.environments.production!.state).toBe('verifying');
        const ledger = await testEnv()
          .client.workflow.getHandle(environmentWorkflowId(sb.app, 'production'))
          .query(environmentQuery);
        const entry = ledger.ledger.at(-1)!;
        expect(entry).toMatchObject({ version: '1.0.0', outcome: 'succeeded' });
        // Measured on the environment's own clock, which set the soak's deadline: the release learns of the
        // verification a signal later, so its timestamps can be a few milliseconds inside the two hours.
        expect(Date.parse(entry.verifiedAt!) - Date.parse(entry.startedAt!)).toBeGreaterThanOrEqual(
          2 * 3_600_000,
        );
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
      async (sb) => {
        expect((await finalStatus(await sb.startRelease('1.0.0'))).state).toBe('succeeded');
        const final = await finalStatus(await sb.startRelease('1.1.0-bad'));
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
      async (sb) => {
        const handle = await sb.startRelease('1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBoth(sb, handle);
        await waitStage(handle, 'wait-timer');
        const until = new Date((await testEnv().currentTimeMs()) + 5 * 3_600_000).toISOString();
        await sb.freeze('production', 'carol', { until, reason: 'audit week' });
        await testEnv().sleep('2h');
        const held = await waitStage(handle, 'awaiting-window');
        expect(held.blockedBy).toContain('carol');
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        expect(Date.parse(final.environments.production!.at!)).toBeGreaterThanOrEqual(Date.parse(until));
      },
    );
  });

  it('a break-glass override lets a release held by a window go before the window closes', async () => {
    await withWorker(
      (c, now) => {
        c.apps.hello.environments.production.windows = [denyWindowOpenAt(now, 'nightly', 6)];
      },
      async (sb) => {
        const handle = await sb.startRelease('1.0.0');
        await waitStage(handle, 'awaiting-approval');
        await approveBoth(sb, handle);
        const held = await waitStage(handle, 'awaiting-window');
        await sb.override(handle, 'dave', 'sev1 fix');
        const final = await finalStatus(handle);
        expect(final.state).toBe('succeeded');
        expect(final.override).toMatchObject({ by: 'dave', reason: 'sev1 fix' });
        expect(Date.parse(final.environments.production!.at!)).toBeLessThan(Date.parse(held.blockedUntil!));
      },
    );
  });
});
