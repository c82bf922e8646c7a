import { describe, expect, it } from 'vitest';
import { FAILURE } from '../../src/protocol/failures.js';
import { refusal, useTimeSkippingServer, withEnvironment } from './environment-harness.js';

useTimeSkippingServer();

const later = async (env: { currentTimeMs(): Promise<number> }, hours: number) =>
  new Date((await env.currentTimeMs()) + hours * 3_600_000).toISOString();

describe('who may freeze, unfreeze and roll back an environment (time-skipping server)', () => {
  it('freeze and unfreeze: only the freeze group, never in the past, and only what is frozen', async () => {
    await withEnvironment(
      (c) => {
        c.apps.hello.environments.production.freezeGroup = 'release-managers';
      },
      async (h) => {
        const until = await later(h.env, 4);
        const freeze = (by: string, at = until) => h.freeze(by, { until: at, reason: 'audit week' });
        const unfreeze = (by: string) => h.unfreeze(by);
        const only = 'only members of release-managers may';

        expect(await refusal(freeze('carol'))).toEqual({
          type: FAILURE.policy,
          message: `carol may not freeze ${h.app}/production: ${only}`,
        });
        const past = await later(h.env, -1);
        expect(await refusal(freeze('dave', past))).toEqual({
          type: FAILURE.policy,
          message: `--until ${past} is in the past`,
        });
        expect(await refusal(unfreeze('dave'))).toEqual({
          type: FAILURE.policy,
          message: `${h.app}/production is not frozen`,
        });
        const made = await freeze('dave');
        expect(made).toMatchObject({ by: 'dave', until, reason: 'audit week' });
        expect((await h.snapshot()).freezes).toEqual([made]);
        expect(await refusal(unfreeze('alice'))).toEqual({
          type: FAILURE.policy,
          message: `alice may not unfreeze ${h.app}/production: ${only}`,
        });
        expect(await unfreeze('dave')).toEqual({ removed: 1 });
        expect((await h.snapshot()).freezes).toEqual([]);

        const audit = await h.auditWhen((r) => r.length >= 6);
        expect(audit.map((r) => `${r.type} ${r.actor} ${r.via}`)).toEqual([
          'freeze-refused carol ssh',
          'freeze-refused dave ssh',
          'unfreeze-refused dave ssh',
          'freeze dave ssh',
          'unfreeze-refused alice ssh',
          'unfreeze dave ssh',
        ]);
        // Each record keeps the proof it rests on: the signed statement, checkable with dave's key alone.
        expect((audit[3] as unknown as { proof: unknown }).proof).toMatchObject({
          login: 'dave',
          via: 'ssh',
          statement: { action: 'freeze', login: 'dave', env: 'production', version: null, run: null },
          signature: expect.stringContaining('BEGIN SSH SIGNATURE'),
        });
        expect(audit[3]).toMatchObject({ reason: 'audit week', outcome: `until ${until}` });
        expect(audit[5]).toMatchObject({ reason: 'lifted 1 freeze(s)' });
      },
    );
  });

  it('without a freeze group, a member of any group may freeze and someone in no group may not', async () => {
    await withEnvironment(
      () => {},
      async (h) => {
        const until = await later(h.env, 2);
        const freeze = (by: string) => h.freeze(by, { until, reason: 'hold' });
        expect(await refusal(freeze('eve'))).toEqual({
          type: FAILURE.policy,
          message: `eve may not freeze ${h.app}/production: only members of team-leads, release-managers may`,
        });
        await freeze('alice');
        await freeze('dave');
        expect((await h.snapshot()).freezes.map((f) => f.by)).toEqual(['alice', 'dave']);
        expect(await h.unfreeze('bob')).toEqual({ removed: 2 });
      },
    );
  });

  it('rollback: only the approval groups and the rollback group, and held by a freeze under rollbackDuringWindows deny', async () => {
    await withEnvironment(
      (c) => {
        c.apps.hello.environments.production.rollbackDuringWindows = 'deny';
      },
      async (h) => {
        for (const v of ['1.0.0', '1.1.0']) expect((await h.ship(v)).state).toBe('succeeded');
        const rollback = (by: string) => h.rollback(by, { reason: 'bad build' });
        // Production's approvals name team-leads, and there is no rollback group: dave is not in it.
        expect(await refusal(rollback('dave'))).toEqual({
          type: FAILURE.policy,
          message: `dave may not roll back ${h.app}/production: only members of team-leads may`,
        });
        const until = await later(h.env, 3);
        await h.freeze('carol', { until, reason: 'hold' });
        const held = await refusal(rollback('alice'));
        expect(held.type).toBe(FAILURE.policy);
        expect(held.message).toMatch(
          new RegExp(
            `^rollbacks of ${h.app}/production are held while .*carol.* blocks deploys \\(rollbackDuringWindows: deny\\)$`,
          ),
        );
        await h.unfreeze('carol');
        expect(await rollback('alice')).toMatchObject({ from: '1.1.0', to: '1.0.0', position: 0 });
        const refused = (
          await h.auditWhen((r) => r.filter((x) => x.type === 'rollback-refused').length >= 2)
        ).filter((r) => r.type === 'rollback-refused');
        expect(refused.map((r) => r.actor)).toEqual(['dave', 'alice']);
      },
    );
  });

  it('a rollback group lets its members roll back too', async () => {
    await withEnvironment(
      (c) => {
        c.apps.hello.environments.production.rollbackGroup = 'release-managers';
      },
      async (h) => {
        for (const v of ['1.0.0', '1.1.0']) expect((await h.ship(v)).state).toBe('succeeded');
        const accepted = await h.rollback('dave', { reason: 'sev2' });
        expect(accepted).toMatchObject({ from: '1.1.0', to: '1.0.0' });
        const done = await h.settled(accepted.opId);
        expect(done.ledger.at(-1)).toMatchObject({ action: 'rollback', version: '1.0.0', actor: 'dave' });
        expect(await refusal(h.rollback('dave', { to: '9.9.9', reason: 'x' }))).toEqual({
          type: FAILURE.policy,
          message: `cannot roll back ${h.app}/production: 9.9.9 was never deployed here. Versions it could roll back to: 1.1.0.`,
        });
      },
    );
  });
});
