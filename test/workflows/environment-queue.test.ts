import { describe, expect, it } from 'vitest';
import { useTimeSkippingServer, withEnvironment, type Harness } from './environment-harness.js';

useTimeSkippingServer();

const asIs = () => {};

/** Releases each version in turn to production (approved by alice and bob) and waits for it to succeed. */
async function shipAll(h: Harness, ...versions: string[]) {
  for (const v of versions) expect((await h.ship(v)).state).toBe('succeeded');
}

const rows = (ledger: { action: string; version: string; outcome: string }[]) =>
  ledger.map((e) => `${e.action} ${e.version} ${e.outcome}`);

/** The op id of the queued or running deploy of `version`, once the environment has it. */
async function deployOf(h: Harness, version: string): Promise<string> {
  const s = await h.waitFor(
    (x) =>
      x.queue.some((o) => o.kind === 'deploy' && o.version === version) ||
      x.ledger.some((e) => e.action === 'deploy' && e.version === version),
  );
  return (
    s.queue.find((o) => o.kind === 'deploy' && o.version === version)?.opId ??
    s.ledger.find((e) => e.action === 'deploy' && e.version === version)!.opId
  );
}

describe('environment queue on the time-skipping server (memory target)', () => {
  it('a rollback goes ahead of queued deploys, behind earlier rollbacks, and starts from what they leave serving', async () => {
    await withEnvironment(asIs, async (h) => {
      await shipAll(h, '1.0.0', '1.1.0', '1.2.0');
      const gate = h.target.hold('1.0.0');
      const first = await h.rollback('alice', { to: '1.0.0', reason: 'first' });
      await gate.reached;
      // A release of 2.0.0 reaches production while the rollback runs: its deploy waits in the queue.
      await h.startShip('2.0.0');
      const deploy = await deployOf(h, '2.0.0');
      expect((await h.snapshot()).queue).toEqual([{ opId: deploy, kind: 'deploy', version: '2.0.0' }]);
      const second = await h.rollback('bob', { to: '1.1.0', reason: 'second' });
      expect(second).toMatchObject({ from: '1.2.0', to: '1.1.0', position: 0 });
      // No --to: the baseline is what the queued rollback ahead of it leaves serving (1.1.0), not 1.2.0.
      const third = await h.rollback('carol', { reason: 'third' });
      expect(third).toMatchObject({ from: '1.1.0', to: '1.0.0', position: 1 });
      const queued = await h.snapshot();
      expect(queued.running).toBe(first.opId);
      expect(queued.queue).toEqual([
        { opId: second.opId, kind: 'rollback', version: '1.1.0' },
        { opId: third.opId, kind: 'rollback', version: '1.0.0' },
        { opId: deploy, kind: 'deploy', version: '2.0.0' },
      ]);

      gate.release();
      const done = await h.settled(deploy);
      expect(rows(done.ledger)).toEqual([
        'deploy 1.0.0 succeeded',
        'deploy 1.1.0 succeeded',
        'deploy 1.2.0 rolled-back',
        'rollback 1.0.0 rolled-back',
        'rollback 1.1.0 rolled-back',
        'rollback 1.0.0 succeeded',
        'deploy 2.0.0 succeeded',
      ]);
      expect(done.ledger.slice(3, 6).map((e) => e.actor)).toEqual(['alice', 'bob', 'carol']);
      // Each requested rollback keeps the digest of the proof it was asked with; each deploy its approvals'.
      expect(done.ledger.slice(3, 6).map((e) => e.proofs?.map((p) => [p.login, p.via]))).toEqual([
        [['alice', 'ssh']],
        [['bob', 'ssh']],
        [['carol', 'ssh']],
      ]);
      expect(done.ledger.at(-1)!.proofs?.map((p) => p.login)).toEqual(['alice', 'bob']);
      expect(done.current?.version).toBe('2.0.0');
      expect(done.queue).toEqual([]);
      expect(h.target.activations.map((a) => a.version)).toEqual([
        '1.0.0',
        '1.1.0',
        '1.2.0',
        '1.0.0',
        '1.1.0',
        '1.0.0',
        '2.0.0',
      ]);
      const requested = (
        await h.auditWhen((r) => r.filter((x) => x.type === 'rollback-requested').length >= 3)
      ).filter((r) => r.type === 'rollback-requested');
      expect(requested.map((r) => [r.actor, r.fromVersion, r.version])).toEqual([
        ['alice', '1.2.0', '1.0.0'],
        ['bob', '1.2.0', '1.1.0'],
        ['carol', '1.1.0', '1.0.0'],
      ]);
    });
  });

  it('a rollback requested while a deploy runs preempts it: the deploy fails as preempted and never takes traffic', async () => {
    await withEnvironment(asIs, async (h) => {
      await shipAll(h, '1.0.0', '1.1.0');
      const gate = h.target.hold('2.0.0');
      await h.startShip('2.0.0');
      const deploy = await deployOf(h, '2.0.0');
      await gate.reached;
      // The deploy in flight counts as current: a rollback without --to gets off it, to 1.1.0.
      const rollback = await h.rollback('carol', { reason: 'stop the rollout' });
      expect(rollback).toMatchObject({ from: '2.0.0', to: '1.1.0', position: 0 });
      await h.settled(rollback.opId);
      const done = await h.waitFor((x) => x.running === null);
      const deployed = done.ledger.find((e) => e.opId === deploy)!;
      expect(deployed).toMatchObject({
        action: 'deploy',
        outcome: 'failed',
        verifiedAt: null,
        failure: 'preempted: a rollback to 1.1.0 requested by carol cancelled the deploy of 2.0.0',
      });
      expect(done.ledger.at(-1)).toMatchObject({
        opId: rollback.opId,
        action: 'rollback',
        version: '1.1.0',
        actor: 'carol',
        reason: 'stop the rollout',
        automatic: false,
      });
      // Restored and verified (its outcome reads rolled-back: it restores the version it started from).
      expect(done.ledger.at(-1)!.verifiedAt).not.toBeNull();
      expect(done.current?.version).toBe('1.1.0');
      const served = h.target.status(h.app, 'production')!;
      expect(served.serving).toBe('1.1.0');
      expect(served.versions.map((v) => v.version)).not.toContain('2.0.0');
      const types = (await h.auditWhen((r) => r.some((x) => x.type === 'rollback-succeeded')))
        // The environment's own records (the release's records name production too).
        .filter((r) => r.id.startsWith('env/'))
        .filter((r) => r.version === '2.0.0' || r.type.startsWith('rollback'))
        .map((r) => `${r.type} ${r.version} ${r.actor}`);
      expect(types).toEqual([
        'deploy-started 2.0.0 dave',
        'deploy-preempt-requested 2.0.0 carol',
        'rollback-requested 1.1.0 carol',
        'deploy-preempted 2.0.0 dave',
        'rollback-started 1.1.0 carol',
        'rollback-succeeded 1.1.0 carol',
      ]);
    });
  });

  it('a deploy sent again with the same op id is answered, not run again, whether queued or done', async () => {
    await withEnvironment(asIs, async (h) => {
      await shipAll(h, '1.0.0');
      const gate = h.target.hold('1.1.0');
      await h.startShip('1.1.0');
      const running = await deployOf(h, '1.1.0');
      await gate.reached;
      await h.startShip('1.2.0');
      const queued = await deployOf(h, '1.2.0');
      expect((await h.snapshot()).queue.map((o) => o.opId)).toEqual([queued]);
      // A retried request (new update id, same op id) while the op waits in the queue, and one while it runs.
      const again = (opId: string, version: string, updateId: string) =>
        h.enqueueRaw({ kind: 'deploy', opId, releaseId: opId.split('@')[0]!, version } as never, updateId);
      expect(await again(queued, '1.2.0', 'retry-1')).toEqual({ opId: queued, position: 0 });
      expect(await again(running, '1.1.0', 'retry-2')).toEqual({ opId: running, position: -1 });
      expect((await h.snapshot()).queue.map((o) => o.opId)).toEqual([queued]);
      gate.release();
      await h.settled(queued);
      // And once it is done.
      expect(await again(running, '1.1.0', 'retry-3')).toEqual({ opId: running, position: -1 });
      const s = await h.waitFor((x) => x.running === null && x.queue.length === 0);
      expect(rows(s.ledger)).toEqual([
        'deploy 1.0.0 succeeded',
        'deploy 1.1.0 succeeded',
        'deploy 1.2.0 succeeded',
      ]);
      expect(h.target.activations.map((a) => a.version)).toEqual(['1.0.0', '1.1.0', '1.2.0']);
    });
  });

  it('op ids and rollback request ids are remembered across continue-as-new', async () => {
    await withEnvironment(asIs, async (h) => {
      // About 50 to 60 events per operation: the limit is crossed by the deploy of 2.0.0, and the environment
      // continues as new once it is done (2.0.1 deploys in the new run).
      const handle = await h.env.client.workflow.start('environmentWorkflow', {
        workflowId: `env/${h.app}/production`,
        taskQueue: h.taskQueue,
        args: [{ app: h.app, env: 'production', historyLimit: 190 }],
      });
      const firstRun = handle.firstExecutionRunId;
      await shipAll(h, '1.0.0', '1.1.0');
      const first = (await h.snapshot()).ledger[0]!;
      const request = { reason: 'retry me', requestId: 'req-1' };
      const rollback = await h.rollback('alice', request);
      expect(rollback).toMatchObject({ from: '1.1.0', to: '1.0.0' });
      await h.settled(rollback.opId);
      expect((await handle.describe()).runId).toBe(firstRun);
      // No environment queries while the run continues as new: the time-skipping server can lose one sent
      // across the switch (shipping polls the releases only).
      await shipAll(h, '2.0.0', '2.0.1');
      let described = await handle.describe();
      for (let i = 0; i < 400 && described.runId === firstRun; i++) {
        await new Promise((r) => setTimeout(r, 25));
        described = await handle.describe();
      }
      expect(described.runId).not.toBe(firstRun);
      const before = await h.waitFor((s) => s.running === null && s.queue.length === 0);
      expect(rows(before.ledger)).toEqual([
        'deploy 1.0.0 succeeded',
        'deploy 1.1.0 rolled-back',
        'rollback 1.0.0 succeeded',
        'deploy 2.0.0 succeeded',
        'deploy 2.0.1 succeeded',
      ]);
      const activations = h.target.activations.length;

      // The first run's op id and request id, sent to the new run (whose Update ids start afresh).
      const resent = { kind: 'deploy', opId: first.opId, releaseId: first.releaseId, version: '1.0.0' };
      expect(await h.enqueueRaw(resent as never)).toEqual({ opId: first.opId, position: -1 });
      expect(await h.rollback('alice', request)).toMatchObject({
        opId: rollback.opId,
        to: '1.0.0',
        position: -1,
      });
      const after = await h.waitFor((s) => s.running === null && s.queue.length === 0);
      expect(after.ledger).toEqual(before.ledger);
      expect(after.current?.version).toBe('2.0.1');
      expect(h.target.activations).toHaveLength(activations);
      expect((await h.audit()).filter((r) => r.type === 'rollback-requested')).toHaveLength(1);
    });
  });
});
