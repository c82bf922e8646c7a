import { describe, expect, it } from 'vitest';
import type { ExampleConfig } from '../helpers/fixture.js';
import { refusal, useTimeSkippingServer, withReleases } from './release-harness.js';

useTimeSkippingServer();

const noApprovals = (c: ExampleConfig) => {
  c.apps.hello.environments.production.approvals = [];
};

/** A deny window open now (from the top of the current UTC hour, for 3 h). */
const openWindow = (hour: number, name = 'change-freeze') => [
  { name, kind: 'deny', schedule: `0 ${hour} * * *`, duration: '3h', timezone: 'UTC' },
];

describe('release admission', () => {
  it('a branch the first environment does not accept is refused at admission and the release ends failed', async () => {
    await withReleases(
      () => {},
      async (h) => {
        expect(await refusal(h.admit('1.0.0', { branch: 'feature/x' }))).toEqual({
          type: 'PolicyRefusal',
          message: 'branch feature/x may not release to staging (allowed: main)',
        });
        const r = h.release('1.0.0');
        const { status, failure } = await r.ended();
        expect(failure).toBe('ReleaseFailed');
        expect(status).toMatchObject({ state: 'failed', stage: 'done' });
        expect(status.environments).toEqual({
          staging: { state: 'pending', at: null },
          production: { state: 'pending', at: null },
        });
        expect(r.audit().map((a) => a.type)).toEqual(['release-ended']);
      },
    );
  });

  it('an unknown app is refused at admission as bad input', async () => {
    await withReleases(
      () => {},
      async (h) => {
        expect(await refusal(h.admit('1.0.0', { app: 'nosuch' }))).toMatchObject({
          type: 'BadInput',
          message: expect.stringContaining('unknown app "nosuch"'),
        });
      },
    );
  });

  it('admission attaches a second start from the same commit and refuses one from another commit', async () => {
    await withReleases(
      () => {},
      async (h) => {
        expect(await h.admit('1.0.0')).toMatchObject({ attached: false, status: { state: 'running' } });
        expect(await h.admit('1.0.0')).toMatchObject({ attached: true });
        expect(await refusal(h.admit('1.0.0', { commit: 'other' }))).toEqual({
          type: 'PolicyRefusal',
          message: `${h.app} 1.0.0 is already being released from commit c-1.0.0, not other`,
        });
        expect((await h.release('1.0.0').waitStage('awaiting-approval')).commit).toBe('c-1.0.0');
      },
    );
  });
});

describe('cancel', () => {
  it('at the approval gate: the release ends cancelled at once and production is never deployed', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        await r.cancel('alice', 'wrong build');
        const { status, failure } = await r.ended();
        expect(failure).toBe('ReleaseCancelled');
        expect(status).toMatchObject({ state: 'cancelled', reason: 'cancelled by alice: wrong build' });
        expect(status.environments.production!.state).toBe('waiting');
        expect(r.audit().find((a) => a.type === 'cancellation')).toMatchObject({
          actor: 'alice',
          reason: 'wrong build',
        });
        expect(h.target.activations.map((a) => `${a.env} ${a.version}`)).toEqual(['staging 1.0.0']);
      },
    );
  });

  it('during the staging deploy: staging finishes, then the release ends cancelled before production', async () => {
    await withReleases(noApprovals, async (h) => {
      const gate = h.target.hold('1.0.0');
      const r = await h.start('1.0.0');
      await gate.reached;
      const accepted = await r.cancel('bob', 'stop after staging');
      expect(accepted).toMatchObject({ state: 'running', stage: 'deploying-staging' });
      gate.release();
      const { status } = await r.ended();
      expect(status).toMatchObject({ state: 'cancelled', reason: 'cancelled by bob: stop after staging' });
      expect(status.environments).toMatchObject({
        staging: { state: 'succeeded' },
        production: { state: 'pending' },
      });
      expect(h.target.activations.map((a) => a.env)).toEqual(['staging']);
    });
  });

  it('once the last deploy has started it is refused (roll back instead), and the release goes on', async () => {
    await withReleases(
      (c) => {
        noApprovals(c);
        (c.apps.hello.environments.production as Record<string, unknown>).verify = {
          checks: [{ path: '/health', status: 200 }],
          duration: '1h',
          interval: '10m',
          failureLimit: 0,
        };
      },
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('verifying-production');
        expect(await refusal(r.cancel('alice', 'too late'))).toEqual({
          type: 'PolicyRefusal',
          message: 'the production deploy has already started; roll it back instead',
        });
        const { status } = await r.ended();
        expect(status.state).toBe('succeeded');
        expect(status.approvals.refused).toMatchObject([{ by: 'alice', action: 'cancel' }]);
        expect(r.audit().map((a) => a.type)).toContain('cancel-refused');
      },
    );
  });
});

describe('break-glass override', () => {
  it('a windowOverride member lets an approved release past a deny window; others are refused', async () => {
    await withReleases(
      (c, now) => {
        c.apps.hello.environments.production.windows = openWindow(now.getUTCHours());
      },
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        expect((await refusal(r.override('dave', 'hotfix'))).message).toBe(
          `cannot override ${h.app} 1.0.0: it is waiting for approval, which an override never skips`,
        );
        await r.approve('alice');
        await r.approve('bob');
        const held = await r.waitStage('awaiting-window');
        expect(held.blockedBy).toBe('change-freeze');
        expect((await refusal(r.override('bob', 'hotfix'))).message).toBe(
          'bob is not a member of release-managers, the group that may override windows on production',
        );
        const overridden = await r.override('dave', 'hotfix for INC-1');
        expect(overridden.override).toMatchObject({ by: 'dave', reason: 'hotfix for INC-1' });
        const { status } = await r.ended();
        expect(status.state).toBe('succeeded');
        expect(r.audit().find((a) => a.type === 'override')).toMatchObject({
          actor: 'dave',
          env: 'production',
        });
        expect(
          r
            .audit()
            .filter((a) => a.type === 'override-refused')
            .map((a) => a.actor),
        ).toEqual(['dave', 'bob']);
        expect(h.notifications.find((n) => n.kind === 'override')).toMatchObject({
          env: 'production',
          override: { by: 'dave', reason: 'hotfix for INC-1' },
        });
        expect((await h.environment('production')).ledger.at(-1)).toMatchObject({
          version: '1.0.0',
          outcome: 'succeeded',
        });
      },
    );
  });

  it('nobody may override where an environment names no windowOverride group', async () => {
    await withReleases(
      (c, now) => {
        c.apps.hello.environments.staging.windows = openWindow(now.getUTCHours());
      },
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-window');
        expect((await refusal(r.override('dave', 'hotfix'))).message).toBe(
          'staging has no windowOverride group, so nobody may override its windows',
        );
      },
    );
  });

  it('an unreachable external gate holds the release, refuses overrides, and fails it after the gate timeout', async () => {
    await withReleases(
      (c) => {
        (c.apps.hello.environments.staging as Record<string, unknown>).gates = [
          {
            name: 'status-page',
            url: 'http://127.0.0.1:9/status',
            field: 'ok',
            equals: true,
            interval: '1m',
            timeout: '10m',
          },
        ];
        (c.apps.hello.environments.staging as Record<string, unknown>).windowOverride = {
          group: 'release-managers',
        };
      },
      async (h) => {
        const r = await h.start('1.0.0');
        const held = await r.waitStage('awaiting-gate');
        expect(held.blockedBy).toBe('gate status-page');
        expect((await refusal(r.override('dave', 'ignore the gate'))).message).toBe(
          `cannot override ${h.app} 1.0.0: it waits for gate status-page, an external gate, which an override never skips`,
        );
        const { status } = await r.ended();
        expect(status.state).toBe('failed');
        expect(status.reason).toMatch(/^gate status-page: .* unreachable .*; gave up after waiting 10 min$/);
        expect(h.target.activations).toEqual([]);
      },
    );
  });
});

describe('supersede', () => {
  it('a newer release reaching the gate ends the older one waiting there superseded', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const older = await h.start('1.0.0');
        await older.waitStage('awaiting-approval');
        const newer = await h.start('1.1.0');
        await newer.waitStage('awaiting-approval');
        const { status, failure } = await older.ended();
        expect(failure).toBe('ReleaseSuperseded');
        expect(status).toMatchObject({
          state: 'superseded',
          reason: `superseded by ${h.app} 1.1.0, a newer release at the production gate`,
        });
        expect((await newer.status()).state).toBe('running');
      },
    );
  });

  it('an older release reaching a gate where a newer one already waits ends superseded itself', async () => {
    await withReleases(
      (c, now) => {
        c.apps.hello.environments.staging.windows = openWindow(now.getUTCHours());
        (c.apps.hello.environments.staging as Record<string, unknown>).windowOverride = {
          group: 'release-managers',
        };
      },
      async (h) => {
        const older = await h.start('1.0.0');
        await older.waitStage('awaiting-window');
        const newer = await h.start('1.1.0');
        await newer.waitStage('awaiting-window');
        await newer.override('dave', 'ship the fix first');
        await newer.waitStage('awaiting-approval');
        // The newer release signalled the older one, but that waits at another gate (staging), so it goes on.
        expect((await older.status()).state).toBe('running');
        await older.override('dave', 'now this one');
        const { status } = await older.ended();
        expect(status).toMatchObject({
          state: 'superseded',
          reason: `superseded by ${h.app} 1.1.0, a newer release`,
        });
        expect(status.environments.staging!.state).toBe('succeeded');
        expect((await newer.status()).stage).toBe('awaiting-approval');
      },
    );
  });
});

describe('automatic rollback', () => {
  it('a production version failing verification is rolled back by the environment and the release ends rolled-back', async () => {
    await withReleases(noApprovals, async (h) => {
      expect((await (await h.start('1.0.0')).ended()).status.state).toBe('succeeded');
      h.target.failVerification('1.1.0', 'production');
      const r = await h.start('1.1.0');
      const { status, failure } = await r.ended();
      expect(failure).toBe('ReleaseRolledBack');
      expect(status.state).toBe('rolled-back');
      expect(status.environments).toMatchObject({
        staging: { state: 'succeeded' },
        production: { state: 'rolled-back' },
      });
      expect(h.target.status(h.app, 'production')?.serving).toBe('1.0.0');
      expect(r.audit().at(-1)).toMatchObject({ type: 'release-ended', outcome: 'rolled-back' });
    });
  });

  it('a rollback on an earlier environment ends the release failed, and it never reaches production', async () => {
    await withReleases(noApprovals, async (h) => {
      expect((await (await h.start('1.0.0')).ended()).status.state).toBe('succeeded');
      h.target.failVerification('1.1.0', 'staging');
      const { status } = await (await h.start('1.1.0')).ended();
      expect(status.state).toBe('failed');
      expect(status.environments).toMatchObject({
        staging: { state: 'rolled-back' },
        production: { state: 'pending' },
      });
      expect(h.target.status(h.app, 'staging')?.serving).toBe('1.0.0');
    });
  });

  it('a first deploy that never gets ready fails the release with nothing to roll back to', async () => {
    await withReleases(noApprovals, async (h) => {
      h.target.failReadiness('1.0.0');
      const { status, failure } = await (await h.start('1.0.0')).ended();
      expect(failure).toBe('ReleaseFailed');
      expect(status.state).toBe('failed');
      expect(status.environments.staging!.state).toBe('failed');
    });
  });
});
