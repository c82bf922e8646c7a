import { describe, expect, it } from 'vitest';
import type { ExampleConfig } from '../helpers/fixture.js';
import { useTimeSkippingServer, withEnvironment } from './environment-harness.js';

useTimeSkippingServer();

const noApprovals = (c: ExampleConfig) => {
  c.apps.hello.environments.production.approvals = [];
};

const rows = (ledger: { action: string; version: string; outcome: string }[]) =>
  ledger.map((e) => `${e.action} ${e.version} ${e.outcome}`);

describe('automatic rollback after failed verification (time-skipping server, memory target)', () => {
  it('puts the previous version back and the release ends rolled-back', async () => {
    await withEnvironment(noApprovals, async (h) => {
      expect((await h.release('1.0.0')).state).toBe('succeeded');
      h.target.failVerification('1.1.0', 'production');
      const final = await h.release('1.1.0');
      expect(final.state).toBe('rolled-back');
      expect(final.reason).toBe(
        'verification of 1.1.0 on production failed: GET /smoke answered 500, expected 200; rolled back to 1.0.0',
      );
      const env = await h.waitFor((s) => s.running === null);
      expect(rows(env.ledger)).toEqual([
        'deploy 1.0.0 succeeded',
        'deploy 1.1.0 rolled-back',
        'rollback 1.0.0 succeeded',
      ]);
      const [, deploy, rollback] = env.ledger;
      expect(deploy).toMatchObject({ verifiedAt: null, failure: final.reason });
      expect(rollback).toMatchObject({
        opId: `${deploy!.opId}#auto-rollback`,
        actor: 'shipgate',
        automatic: true,
        fromVersion: '1.1.0',
        releaseId: deploy!.releaseId,
        reason: `automatic: verification of 1.1.0 on production failed: GET /smoke answered 500, expected 200`,
      });
      expect(env.current?.version).toBe('1.0.0');
      expect(h.target.status(h.app, 'production')?.serving).toBe('1.0.0');
      // The environment's own records, for the second release.
      const audit = (await h.auditWhen((r) => r.some((x) => x.type === 'rollback-succeeded'))).filter(
        (r) => r.id.startsWith('env/') && (r.version === '1.1.0' || r.type.startsWith('rollback')),
      );
      expect(audit.map((r) => `${r.type} ${r.version} ${r.actor} ${r.outcome ?? ''}`)).toEqual([
        'deploy-started 1.1.0 dave ',
        'verification-failed 1.1.0 dave failed',
        'rollback-started 1.0.0 shipgate ',
        'rollback-succeeded 1.0.0 shipgate succeeded',
      ]);
    });
  });

  it('when the previous version fails too, the deploy ends failed and says the rollback failed', async () => {
    await withEnvironment(noApprovals, async (h) => {
      expect((await h.release('1.0.0')).state).toBe('succeeded');
      h.target.failVerification('1.1.0', 'production');
      h.target.failVerification('1.0.0', 'production');
      const final = await h.release('1.1.0');
      expect(final.state).toBe('failed');
      expect(final.reason).toBe(
        'verification of 1.1.0 on production failed: GET /smoke answered 500, expected 200; ' +
          'automatic rollback to 1.0.0 failed: GET /smoke answered 500, expected 200',
      );
      const env = await h.waitFor((s) => s.running === null);
      expect(rows(env.ledger)).toEqual([
        'deploy 1.0.0 succeeded',
        'deploy 1.1.0 failed',
        'rollback 1.0.0 failed',
      ]);
      expect(env.ledger[2]).toMatchObject({ automatic: true, verifiedAt: null });
      const audit = await h.auditWhen((r) => r.some((x) => x.type === 'rollback-failed'));
      expect(audit.filter((r) => r.type.startsWith('rollback')).map((r) => r.type)).toEqual([
        'rollback-started',
        'rollback-failed',
      ]);
    });
  });

  it('with nothing deployed before, the failed version stays failed and says there was nothing to go back to', async () => {
    await withEnvironment(noApprovals, async (h) => {
      h.target.failVerification('1.0.0', 'production');
      const final = await h.release('1.0.0');
      expect(final.state).toBe('failed');
      expect(final.reason).toBe(
        'verification of 1.0.0 on production failed: GET /smoke answered 500, expected 200; no earlier version to roll back to',
      );
      const env = await h.waitFor((s) => s.running === null);
      expect(rows(env.ledger)).toEqual(['deploy 1.0.0 failed']);
      expect(h.target.activations.filter((a) => a.env === 'production')).toHaveLength(1);
    });
  });

  it('with autoRollback off, the failed version is left serving and nothing is rolled back', async () => {
    await withEnvironment(
      (c) => {
        noApprovals(c);
        c.apps.hello.environments.production.autoRollback = false;
      },
      async (h) => {
        expect((await h.release('1.0.0')).state).toBe('succeeded');
        h.target.failVerification('1.1.0', 'production');
        const final = await h.release('1.1.0');
        expect(final.state).toBe('failed');
        expect(final.reason).toBe(
          'verification of 1.1.0 on production failed: GET /smoke answered 500, expected 200',
        );
        const env = await h.waitFor((s) => s.running === null);
        expect(rows(env.ledger)).toEqual(['deploy 1.0.0 succeeded', 'deploy 1.1.0 failed']);
        expect(env.current?.version).toBe('1.1.0');
      },
    );
  });

  it('a version that never becomes ready fails its deploy and the previous version keeps serving', async () => {
    await withEnvironment(noApprovals, async (h) => {
      expect((await h.release('1.0.0')).state).toBe('succeeded');
      h.target.failReadiness('1.1.0', 'production');
      const final = await h.release('1.1.0');
      expect(final.state).toBe('failed');
      expect(final.reason).toMatch(/^could not start 1\.1\.0: .*did not become ready/);
      const env = await h.waitFor((s) => s.running === null);
      expect(rows(env.ledger)).toEqual(['deploy 1.0.0 succeeded', 'deploy 1.1.0 failed']);
      expect(env.current?.version).toBe('1.0.0');
      // Not retried: readiness that failed once fails the same way again.
      expect(
        h.target.activations.filter((a) => a.version === '1.1.0' && a.env === 'production'),
      ).toHaveLength(1);
      const audit = await h.auditWhen((r) => r.some((x) => x.type === 'deploy-failed'));
      expect(audit.filter((r) => r.type === 'deploy-failed' && r.version === '1.1.0')).toHaveLength(1);
    });
  });

  it('a soak that fails past its failure limit rolls back, and the restored version soaks for the whole duration', async () => {
    await withEnvironment(
      (c) => {
        noApprovals(c);
        c.apps.hello.environments.production.verify = {
          checks: [{ path: '/smoke', status: 200 }],
          duration: '1h',
          interval: '5m',
          failureLimit: 2,
        };
      },
      async (h) => {
        expect((await h.release('1.0.0')).state).toBe('succeeded');
        h.target.failVerification('1.1.0', 'production');
        const final = await h.release('1.1.0');
        expect(final.state, final.reason ?? '').toBe('rolled-back');
        expect(final.reason).toBe(
          'verification of 1.1.0 on production failed: GET /smoke answered 500, expected 200 ' +
            '(soak round 3, 3 failed of 2 allowed); rolled back to 1.0.0',
        );
        const env = await h.waitFor((s) => s.running === null);
        const [, deploy, rollback] = env.ledger;
        expect(rows(env.ledger)).toEqual([
          'deploy 1.0.0 succeeded',
          'deploy 1.1.0 rolled-back',
          'rollback 1.0.0 succeeded',
        ]);
        // Ten minutes of failing rounds, then an hour of the restored version's soak, on workflow time.
        expect(Date.parse(deploy!.endedAt!) - Date.parse(deploy!.startedAt!)).toBeGreaterThanOrEqual(
          10 * 60_000,
        );
        expect(Date.parse(rollback!.endedAt!) - Date.parse(rollback!.startedAt!)).toBeGreaterThanOrEqual(
          60 * 60_000,
        );
      },
    );
  });
});
