import { afterEach, beforeAll, afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createLocalTarget } from '../../src/targets/local/local-target.js';
import { startControl, startStack, type App, type Stack, type StartControl } from '../helpers/fixture.js';
import { steadyTraffic } from '../helpers/traffic.js';

/** Real SIGKILLs of the worker's process group, and a real restart of the Temporal server. */
describe('durability: SIGKILLed worker and restarted Temporal server (real processes)', () => {
  let control: StartControl;
  // Each test kills or restarts parts of its stack, so each gets a stack of its own.
  let stack: Stack;
  let app: App;

  const productionDeploys = async (version: string) =>
    (await app.ledger()).filter((e) => e.action === 'deploy' && e.version === version);

  beforeAll(async () => {
    control = await startControl();
  });
  afterAll(async () => {
    await control?.close();
  });
  beforeEach(async () => {
    stack = await startStack();
    app = await stack.addApp('durable', (c) => {
      c.apps.hello.build.command = control.command;
    });
  });
  afterEach(async () => {
    await stack?.stop();
  });

  it('a worker killed while a release waits for approval loses no approval, and traffic never fails meanwhile', async () => {
    await app.toGate('2.0.0');
    await app.approve('2.0.0', 'alice');
    const traffic = steadyTraffic(app.ports.staging);
    await stack.worker.kill();
    await traffic.answers(50); // answered while no worker runs
    await stack.restartWorker();
    const s = await app.status('2.0.0');
    expect(s.stage).toBe('awaiting-approval');
    expect(s.approvals.given.map((a) => a.by)).toEqual(['alice']);
    await app.approve('2.0.0', 'bob');
    const final = await app.ended('2.0.0');
    const seen = await traffic.stop(200);
    expect(final.state).toBe('succeeded');
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect(await app.serving()).toBe('2.0.0');
    expect(await productionDeploys('2.0.0')).toHaveLength(1);
  });

  it('a worker killed during a deploy activity: the new worker finishes it once, never half-switched, no failed request', async () => {
    await app.shipApproved('2.0.0');
    await app.toGate('3.0.0');
    // 3.0.0's production process starts but stays not ready until released, so the kill lands mid-deploy.
    const held = control.hold('3.0.0');
    await app.approve('3.0.0', 'alice', 'carol');
    const starting = await held.next();
    expect((await app.status('3.0.0')).stage).toBe('deploying-production');
    const traffic = steadyTraffic(app.ports.production);
    await stack.worker.kill();
    // While no worker runs, production keeps serving the previous version, and answering.
    await traffic.answers(50);
    expect(await app.serving()).toBe('2.0.0');
    await stack.restartWorker();
    starting.release();
    const final = await app.ended('3.0.0');
    held.stop();
    const seen = await traffic.stop(200);
    expect(final.state).toBe('succeeded');
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect([...new Set(seen.versions)].sort()).toEqual(['2.0.0', '3.0.0']);
    expect(await app.serving()).toBe('3.0.0');
    const deploys = await productionDeploys('3.0.0');
    expect(deploys).toHaveLength(1);
    expect(deploys[0]!.outcome).toBe('succeeded');
    // Two starts of 3.0.0 in all, staging's and production's: the new worker adopted the production process
    // the killed worker had started instead of starting another.
    expect(control.pids('3.0.0')).toHaveLength(2);
    expect(control.pids('3.0.0').at(-1)).toBe(starting.pid);
    const target = await createLocalTarget({ home: stack.home }).status(app.name, 'production');
    const live = target!.processes.filter((p) => p.alive);
    expect(live.filter((p) => p.version === '3.0.0').map((p) => p.pid)).toEqual([starting.pid]);
    expect(target!.serving).toBe('3.0.0');
  });

  it('a Temporal server restarted on its database file keeps waiting releases and their approvals', async () => {
    await app.toGate('4.0.0');
    await app.approve('4.0.0', 'bob');
    const traffic = steadyTraffic(app.ports.staging);
    await stack.restartServer();
    await traffic.answers(50);
    const s = await app.waitFor('4.0.0', () => true);
    expect(s.stage).toBe('awaiting-approval');
    expect(s.approvals.given.map((a) => a.by)).toEqual(['bob']);
    await app.approve('4.0.0', 'carol');
    const final = await app.ended('4.0.0');
    const seen = await traffic.stop(200);
    expect(final.state).toBe('succeeded');
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect(await app.serving()).toBe('4.0.0');
    expect(await productionDeploys('4.0.0')).toHaveLength(1);
  });
});
