import { afterAll, beforeAll, expect, it } from 'vitest';
import { environmentWorkflowId } from '../../src/protocol/ids.js';
import { getVersion, waitForRelease } from '../helpers/fixture.js';
import { startClusterStack, type ClusterStack } from './cluster-stack.js';

/**
 * Production-only workers on the cluster tier, as docs/deploying.md sets them up: one worker serves staging, one
 * serves production (the only one that would hold production's credentials); both run workflows.
 */
let stack: ClusterStack;

beforeAll(async () => {
  stack = await startClusterStack({
    workerArgs: [
      ['--environments', 'staging'],
      ['--environments', 'production'],
    ],
  });
}, 1_800_000);

afterAll(async () => {
  await stack?.stop();
});

/** Which worker (pid) ran each activity that was scheduled on `queue`, from the workflow's history. */
async function activityRunners(workflowId: string, queue: string): Promise<Set<string>> {
  const history = await stack.sg.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduledOnQueue = new Set<string>();
  const runners = new Set<string>();
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled?.taskQueue?.name === queue) scheduledOnQueue.add(String(e.eventId));
    const started = e.activityTaskStartedEventAttributes;
    if (started && scheduledOnQueue.has(String(started.scheduledEventId)))
      runners.add((started.identity ?? '').split('@')[0]!);
  }
  return runners;
}

const release = (version: string) =>
  stack.run([
    'release',
    'hello',
    version,
    '--commit',
    `c-${version}`,
    '--branch',
    'main',
    '--actor',
    'dave',
    '--wait',
    'staging',
  ]);

it("runs each environment's deploys only on the worker that serves it, and a production deploy waits durably while no production worker runs", async () => {
  const [staging, production] = stack.workers.map((w) => String(w.child.pid));
  expect((await release('1.0.0')).code).toBe(0);
  for (const by of ['alice', 'bob'])
    expect((await stack.run(['approve', 'hello', '1.0.0', '--as', by])).code).toBe(0);
  expect((await waitForRelease(stack.sg, '1.0.0', (s) => s.state !== 'running', 120_000)).state).toBe(
    'succeeded',
  );
  expect(await activityRunners(environmentWorkflowId('hello', 'staging'), 'shipgate-env-staging')).toEqual(
    new Set([staging]),
  );
  expect(
    await activityRunners(environmentWorkflowId('hello', 'production'), 'shipgate-env-production'),
  ).toEqual(new Set([production]));

  // No production worker: the next release passes staging and its approvals, then waits at production's deploy.
  await stack.workers[1]!.kill();
  expect((await release('1.1.0')).code).toBe(0);
  for (const by of ['alice', 'bob'])
    expect((await stack.run(['approve', 'hello', '1.1.0', '--as', by])).code).toBe(0);
  const waiting = await waitForRelease(stack.sg, '1.1.0', (s) => s.stage === 'deploying-production', 60_000);
  expect(waiting.state).toBe('running');
  expect(await getVersion(stack.apps.hello!.production)).toBe('1.0.0');

  await stack.restartWorker(1);
  expect((await waitForRelease(stack.sg, '1.1.0', (s) => s.state !== 'running', 120_000)).state).toBe(
    'succeeded',
  );
  expect(await getVersion(stack.apps.hello!.production)).toBe('1.1.0');
  const ledger = (await stack.sg.environmentState('hello', 'production'))?.ledger ?? [];
  expect(ledger.map((e) => [e.version, e.outcome])).toEqual([
    ['1.0.0', 'succeeded'],
    ['1.1.0', 'succeeded'],
  ]);
});
