import { describe, expect, it } from 'vitest';
import { enqueueDeployUpdate } from '../../src/workflows/messages.js';
import { environmentWorkflowId } from '../../src/protocol/ids.js';
import { useTimeSkippingServer, withEnvironment, type Harness } from './environment-harness.js';

useTimeSkippingServer();

const noApprovals = () => {};

/** Deploys each version in turn through the environment's queue and waits for it to settle. */
async function deployAll(h: Harness, ...versions: string[]) {
  for (const v of versions) {
    const op = h.deployOp(v);
    await h.enqueue(op);
    await h.settled(op.opId);
  }
}

const rows = (ledger: { action: string; version: string; outcome: string }[]) =>
  ledger.map((e) => `${e.action} ${e.version} ${e.outcome}`);

describe('environment queue on the time-skipping server (memory target)', () => {
  it('a rollback goes ahead of queued deploys, behind earlier rollbacks, and starts from what they leave serving', async () => {
    await withEnvironment(noApprovals, async (h) => {
      await deployAll(h, '1.0.0', '1.1.0', '1.2.0');
      const gate = h.target.hold('1.0.0');
      const first = await h.sg.rollback(h.app, 'production', {
        to: '1.0.0',
        by: 'alice',
        via: 'cli',
        reason: 'first',
      });
      await gate.reached;
      const deploy = h.deployOp('2.0.0');
      expect(await h.enqueue(deploy)).toEqual({ opId: deploy.opId, position: 0 });
      const second = await h.sg.rollback(h.app, 'production', {
        to: '1.1.0',
        by: 'bob',
        via: 'cli',
        reason: 'second',
      });
      expect(second).toMatchObject({ from: '1.2.0', to: '1.1.0', position: 0 });
      // No --to: the baseline is what the queued rollback ahead of it leaves serving (1.1.0), not 1.2.0.
      const third = await h.sg.rollback(h.app, 'production', { by: 'carol', via: 'cli', reason: 'third' });
      expect(third).toMatchObject({ from: '1.1.0', to: '1.0.0', position: 1 });
      const queued = await h.snapshot();
      expect(queued.running).toBe(first.opId);
      expect(queued.queue).toEqual([
        { opId: second.opId, kind: 'rollback', version: '1.1.0' },
        { opId: third.opId, kind: 'rollback', version: '1.0.0' },
        { opId: deploy.opId, kind: 'deploy', version: '2.0.0' },
      ]);

      gate.release();
      const done = await h.settled(deploy.opId);
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
    await withEnvironment(noApprovals, async (h) => {
      await deployAll(h, '1.0.0', '1.1.0');
      const gate = h.target.hold('2.0.0');
      const deploy = h.deployOp('2.0.0');
      await h.enqueue(deploy);
      await gate.reached;
      // The deploy in flight counts as current: a rollback without --to gets off it, to 1.1.0.
      const rollback = await h.sg.rollback(h.app, 'production', {
        by: 'carol',
        via: 'cli',
        reason: 'stop the rollout',
      });
      expect(rollback).toMatchObject({ from: '2.0.0', to: '1.1.0', position: 0 });
      await h.settled(rollback.opId);
      const done = await h.waitFor((x) => x.running === null);
      const deployed = done.ledger.find((e) => e.opId === deploy.opId)!;
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
    await withEnvironment(noApprovals, async (h) => {
      await deployAll(h, '1.0.0');
      const gate = h.target.hold('1.1.0');
      const running = h.deployOp('1.1.0');
      await h.enqueue(running);
      await gate.reached;
      const queued = h.deployOp('1.2.0');
      expect(await h.enqueue(queued)).toEqual({ opId: queued.opId, position: 0 });
      // A retried request (new update id, same op id) while the op waits in the queue, and one while it runs.
      const handle = h.env.client.workflow.getHandle(environmentWorkflowId(h.app, 'production'));
      const again = (op: typeof queued, updateId: string) =>
        handle.executeUpdate(enqueueDeployUpdate, { args: [op], updateId });
      expect(await again(queued, 'retry-1')).toEqual({ opId: queued.opId, position: 0 });
      expect(await again(running, 'retry-2')).toEqual({ opId: running.opId, position: -1 });
      expect((await h.snapshot()).queue.map((o) => o.opId)).toEqual([queued.opId]);
      gate.release();
      await h.settled(queued.opId);
      // And once it is done.
      expect(await again(running, 'retry-3')).toEqual({ opId: running.opId, position: -1 });
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
    await withEnvironment(noApprovals, async (h) => {
      // About 40 to 50 events per operation: the limit is crossed by the last two deploys below.
      const handle = await h.env.client.workflow.start('environmentWorkflow', {
        workflowId: environmentWorkflowId(h.app, 'production'),
        taskQueue: h.taskQueue,
        args: [{ app: h.app, env: 'production', historyLimit: 150 }],
      });
      const firstRun = handle.firstExecutionRunId;
      await deployAll(h, '1.0.0', '1.1.0');
      const first = h.deployOp('1.0.0');
      const request = { by: 'alice', via: 'cli' as const, reason: 'retry me', requestId: 'req-1' };
      const rollback = await h.sg.rollback(h.app, 'production', request);
      expect(rollback).toMatchObject({ from: '1.1.0', to: '1.0.0' });
      await h.settled(rollback.opId);
      expect((await handle.describe()).runId).toBe(firstRun);
      // No queries while the run continues as new: the time-skipping server can lose one sent across the switch.
      await h.enqueue(h.deployOp('2.0.0'));
      await h.enqueue(h.deployOp('2.0.1'));
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
      expect(await h.enqueue(first)).toEqual({ opId: first.opId, position: -1 });
      expect(await h.sg.rollback(h.app, 'production', request)).toMatchObject({
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
