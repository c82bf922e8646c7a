import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalTarget } from '../../src/targets/local/local-target.js';
import {
  getVersion,
  startStack,
  type Stack,
  waitForRelease,
  releaseToApprovalGate,
} from '../helpers/fixture.js';
import { steadyTraffic } from '../helpers/traffic.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Real SIGKILLs of the worker's process group, and a real restart of the Temporal server. */
describe('durability: SIGKILLed worker and restarted Temporal server (real processes)', () => {
  let stack: Stack;
  const run = (...args: string[]) => stack.run(args);

  const waitFor = (version: string, pred: Parameters<typeof waitForRelease>[2]) =>
    waitForRelease(stack.sg, version, pred);

  const startToGate = (version: string) => releaseToApprovalGate(stack, version);

  const productionDeploys = async (version: string) =>
    ((await stack.sg.environmentState('hello', 'production'))?.ledger ?? []).filter(
      (e) => e.action === 'deploy' && e.version === version,
    );

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a worker killed while a release waits for approval loses no approval, and traffic never fails meanwhile', async () => {
    await startToGate('2.0.0');
    expect((await run('approve', 'hello', '2.0.0', '--as', 'alice')).code).toBe(0);
    const traffic = steadyTraffic(stack.ports.staging);
    await stack.worker.kill();
    await sleep(1500);
    await stack.restartWorker();
    const s = await stack.sg.status('hello', '2.0.0');
    expect(s.approvals.given.map((a) => a.by)).toEqual(['alice']);
    expect((await run('approve', 'hello', '2.0.0', '--as', 'bob')).code).toBe(0);
    const final = await waitFor('2.0.0', (st) => st.stage === 'done');
    const seen = await traffic.stop();
    expect(final.state).toBe('succeeded');
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect(seen.ok).toBeGreaterThan(10);
    expect(await getVersion(stack.ports.production)).toBe('2.0.0');
    expect(await productionDeploys('2.0.0')).toHaveLength(1);
  });

  it('a worker killed during a deploy activity: the new worker finishes it once, never half-switched, no failed request', async () => {
    await startToGate('3.0.0-slow');
    await run('approve', 'hello', '3.0.0-slow', '--as', 'alice');
    await run('approve', 'hello', '3.0.0-slow', '--as', 'carol');
    await waitFor('3.0.0-slow', (s) => s.stage === 'deploying-production');
    const traffic = steadyTraffic(stack.ports.production);
    await sleep(1500); // the slow version's process is starting but not yet ready
    await stack.worker.kill();
    await sleep(2000);
    // While no worker runs, production keeps serving the previous version.
    expect(await getVersion(stack.ports.production)).toBe('2.0.0');
    await stack.restartWorker();
    const final = await waitFor('3.0.0-slow', (s) => s.stage === 'done');
    const seen = await traffic.stop();
    expect(final.state).toBe('succeeded');
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect([...seen.versions].sort()).toEqual(['2.0.0', '3.0.0-slow']);
    expect(await getVersion(stack.ports.production)).toBe('3.0.0-slow');
    const deploys = await productionDeploys('3.0.0-slow');
    expect(deploys).toHaveLength(1);
    expect(deploys[0]!.outcome).toBe('succeeded');
    const target = await createLocalTarget({ home: stack.home }).status('hello', 'production');
    const live = target!.processes.filter((p) => p.alive);
    expect(live.filter((p) => p.version === '3.0.0-slow')).toHaveLength(1);
    expect(target!.serving).toBe('3.0.0-slow');
  });

  it('a Temporal server restarted on its database file keeps waiting releases and their approvals', async () => {
    await startToGate('4.0.0');
    expect((await run('approve', 'hello', '4.0.0', '--as', 'bob')).code).toBe(0);
    const traffic = steadyTraffic(stack.ports.production);
    await stack.restartServer();
    const s = await waitFor('4.0.0', () => true);
    expect(s.stage).toBe('awaiting-approval');
    expect(s.approvals.given.map((a) => a.by)).toEqual(['bob']);
    expect((await run('approve', 'hello', '4.0.0', '--as', 'carol')).code).toBe(0);
    const final = await waitFor('4.0.0', (st) => st.stage === 'done');
    const seen = await traffic.stop();
    expect(final.state).toBe('succeeded');
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect(await productionDeploys('4.0.0')).toHaveLength(1);
  });
});
