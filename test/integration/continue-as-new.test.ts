import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getVersion, startStack, type Stack, shipToProduction } from '../helpers/fixture.js';
import { DEFAULT_TASK_QUEUE, environmentWorkflowId } from '../../src/workflows/messages.js';

describe('the environment workflow continues-as-new and carries its ledger (dev server, worker process)', () => {
  let stack: Stack;
  let firstRunId: string;
  const run = (...args: string[]) => stack.run(args);
  const ship = (version: string) => shipToProduction(stack, version);

  beforeAll(async () => {
    stack = await startStack((c) => {
      c.apps.hello.environments.production.approvals = [];
    });
    // Started ahead of the first deploy with a low history limit, so a few operations cross it.
    const handle = await stack.sg.client.workflow.start('environmentWorkflow', {
      workflowId: environmentWorkflowId('hello', 'production'),
      taskQueue: DEFAULT_TASK_QUEUE,
      args: [{ app: 'hello', env: 'production', historyLimit: 60 }],
    });
    firstRunId = handle.firstExecutionRunId;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('keeps the ledger, the serving version and rollback targets across runs', async () => {
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await ship(v);
    const rb = await run(
      'rollback',
      'hello',
      'production',
      '--as',
      'alice',
      '--reason',
      'across runs',
      '--wait',
    );
    expect(rb.code, rb.stderr).toBe(0);
    const described = await stack.sg.environment('hello', 'production').describe();
    expect(described.runId).not.toBe(firstRunId);
    const state = await stack.sg.environmentState('hello', 'production');
    expect(state?.ledger.map((e) => `${e.action} ${e.version}`)).toEqual([
      'deploy 1.0.0',
      'deploy 1.1.0',
      'deploy 1.2.0',
      'rollback 1.1.0',
    ]);
    expect(state?.current?.version).toBe('1.1.0');
    // A version from the first run is still a valid rollback target.
    const back = await run(
      'rollback',
      'hello',
      'production',
      '--to',
      '1.0.0',
      '--as',
      'bob',
      '--reason',
      'oldest',
      '--wait',
    );
    expect(back.code, back.stderr).toBe(0);
    expect(await getVersion(stack.ports.production)).toBe('1.0.0');
    const history = (await run('history', 'hello', 'production', '--json')).json as {
      action: string;
      version: string;
    }[];
    expect(history).toHaveLength(5);
  });
});
