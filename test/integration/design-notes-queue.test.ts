import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  eventually,
  startControl,
  startStack,
  type App,
  type Stack,
  type StartControl,
} from '../helpers/fixture.js';

/**
 * The environment workflow's queue, as the README's design notes describe it: the deploy gate is checked
 * again when a queued deploy is dequeued, and rollbacks go ahead of queued deploys. The environment is kept
 * busy, deterministically, by a cold rollback whose process the test holds not ready.
 */
describe('design notes: the environment queue (dev server, worker process, local target)', () => {
  let stack: Stack;
  let control: StartControl;

  beforeAll(async () => {
    control = await startControl();
    stack = await startStack();
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await stack?.stop();
    await control?.close();
  });

  /**
   * An app with 1.0.0, 1.1.0 and 1.2.0 shipped, whose production environment is busy with a rollback to
   * 1.0.0 (cold, so its process starts again) that stays running until `release()`.
   */
  const busyApp = async (name: string) => {
    const app = await stack.addApp(name, (c) => {
      c.apps.hello.build.command = control.command;
      c.apps.hello.environments.production.approvals = [];
    });
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await app.ship(v);
    const held = control.hold('1.0.0');
    const rb = await app.run(
      ...['rollback', app.name, 'production', '--to', '1.0.0', '--as', 'alice', '--reason', 'busy', '--json'],
    );
    expect(rb.code, rb.stderr).toBe(0);
    const start = await held.next();
    return {
      app,
      busyOp: (rb.json as { opId: string }).opId,
      release() {
        start.release();
        held.stop();
      },
    };
  };

  /** Starts a release and waits until its production deploy sits in the environment's queue. */
  const queueDeploy = async (app: App, version: string) => {
    const r = await app.run(...app.releaseArgs(version));
    expect(r.code, r.stderr).toBe(0);
    await eventually(`${version} is queued on production`, async () =>
      (await app.environment())?.queue.some((q) => q.kind === 'deploy' && q.version === version)
        ? true
        : undefined,
    );
  };

  it('the gate is checked again when a queued deploy is dequeued: a freeze that began meanwhile sends the release back to awaiting-window', async () => {
    const { app, busyOp, release } = await busyApp('second-gate-check');
    // 1.3.0 passed its own gate check (nothing blocked then) and waits in the queue behind the rollback.
    await queueDeploy(app, '1.3.0');
    expect((await app.status('1.3.0')).stage).toBe('deploying-production');
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const frozen = await app.run(
      ...['freeze', app.name, 'production', '--until', until, '--as', 'carol', '--reason', 'incident'],
    );
    expect(frozen.code, frozen.stderr).toBe(0);
    release();
    expect((await stack.sg.waitForOperation(app.name, 'production', busyOp)).outcome).toBe('succeeded');
    const held = await app.waitFor('1.3.0', (s) => s.stage === 'awaiting-window');
    expect(held.blockedBy).toContain('carol');
    expect(await app.serving()).toBe('1.0.0');
    expect((await app.ledger()).some((e) => e.version === '1.3.0')).toBe(false);
    expect((await app.run('unfreeze', app.name, 'production', '--as', 'carol')).code).toBe(0);
    const done = await app.ended('1.3.0');
    expect(done.state).toBe('succeeded');
    expect(await app.serving()).toBe('1.3.0');
    // One deploy of 1.3.0, after the freeze was lifted.
    expect((await app.ledger()).filter((e) => e.version === '1.3.0')).toHaveLength(1);
  });

  it('a rollback goes ahead of deploys already queued, and behind the operation running', async () => {
    const { app, busyOp, release } = await busyApp('rollback-first');
    await queueDeploy(app, '1.3.0');
    const rb = await app.run(
      ...['rollback', app.name, 'production', '--to', '1.1.0', '--as', 'bob', '--reason', 'ahead', '--json'],
    );
    expect(rb.code, rb.stderr).toBe(0);
    // Position 0: first in the queue, ahead of 1.3.0's deploy (the running rollback is not in the queue).
    expect(rb.json).toMatchObject({ to: '1.1.0', position: 0 });
    const queue = (await app.environment())!.queue;
    expect(queue.map((q) => `${q.kind} ${q.version}`)).toEqual(['rollback 1.1.0', 'deploy 1.3.0']);
    release();
    expect((await app.ended('1.3.0')).state).toBe('succeeded');
    const ledger = await app.ledger();
    const after = ledger.slice(ledger.findIndex((e) => e.opId === busyOp));
    expect(after.map((e) => `${e.action} ${e.version} ${e.outcome}`)).toEqual([
      'rollback 1.0.0 rolled-back',
      'rollback 1.1.0 succeeded',
      'deploy 1.3.0 succeeded',
    ]);
    expect(await app.serving()).toBe('1.3.0');
  });
});
