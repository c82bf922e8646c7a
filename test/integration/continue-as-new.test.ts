import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type App, type Stack } from '../helpers/fixture.js';
import {
  DEFAULT_TASK_QUEUE,
  enqueueDeployUpdate,
  environmentWorkflowId,
} from '../../src/workflows/messages.js';
import type { DeployOp } from '../../src/workflows/types.js';
import type { LedgerEntry } from '../../src/policy/ledger.js';

describe('the environment workflow continues-as-new and carries its ledger (dev server, worker process)', () => {
  let stack: Stack;

  /**
   * An app whose production needs no approvals, with its production environment workflow started ahead of
   * the first deploy with a low history limit, so a few operations cross it. Returns the first run's id.
   */
  const appWithLowHistoryLimit = async (name: string): Promise<{ app: App; firstRunId: string }> => {
    const app = await stack.addApp(name, (c) => {
      c.apps.hello.environments.production.approvals = [];
    });
    const handle = await stack.sg.client.workflow.start('environmentWorkflow', {
      workflowId: environmentWorkflowId(app.name, 'production'),
      taskQueue: DEFAULT_TASK_QUEUE,
      args: [{ app: app.name, env: 'production', historyLimit: 60 }],
    });
    return { app, firstRunId: handle.firstExecutionRunId };
  };
  const runId = async (app: App) => (await stack.sg.environment(app.name, 'production').describe()).runId;

  beforeAll(async () => {
    stack = await startStack();
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('keeps the ledger, the serving version and rollback targets across runs', async () => {
    const { app, firstRunId } = await appWithLowHistoryLimit('carried');
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await app.ship(v);
    const rb = await app.run(
      ...['rollback', app.name, 'production', '--as', 'alice', '--reason', 'across runs', '--wait'],
    );
    expect(rb.code, rb.stderr).toBe(0);
    expect(await runId(app)).not.toBe(firstRunId);
    const state = await app.environment();
    expect(state?.ledger.map((e) => `${e.action} ${e.version}`)).toEqual([
      'deploy 1.0.0',
      'deploy 1.1.0',
      'deploy 1.2.0',
      'rollback 1.1.0',
    ]);
    expect(state?.current?.version).toBe('1.1.0');
    // A version from the first run is still a valid rollback target.
    const back = await app.run(
      ...['rollback', app.name, 'production', '--to', '1.0.0', '--as', 'bob', '--reason', 'oldest', '--wait'],
    );
    expect(back.code, back.stderr).toBe(0);
    expect(await app.serving()).toBe('1.0.0');
    const history = (await app.run('history', app.name, 'production', '--json')).json as unknown[];
    expect(history).toHaveLength(5);
  });

  it('ignores a repeated operation id, within a run and after continue-as-new: no second rollback or deploy', async () => {
    const { app } = await appWithLowHistoryLimit('dedupe');
    await app.ship('1.0.0');
    await app.ship('1.1.0');
    const env = stack.sg.environment(app.name, 'production');
    // A rollback request as a client that retries sends it: the same request id each time (Slack uses its view
    // id), each time with a fresh signature (a proof is never sent twice).
    const rollback = () =>
      stack.sg.rollback({
        app: app.name,
        env: 'production',
        to: '1.0.0',
        reason: 'retried',
        requestId: 'view-123',
        prove: stack.prove('alice'),
      });
    /** A deploy request carrying the op id of one the environment already ran, as a retried submit would. */
    const replayOf = (entry: LedgerEntry): DeployOp => ({
      kind: 'deploy',
      opId: entry.opId,
      releaseId: entry.releaseId!,
      version: '9.9.9',
      commit: 'c-9.9.9',
      artifact: entry.artifact,
      actor: 'dave',
      approvers: [],
      spec: {
        port: app.ports.production,
        command: ['node', 'server.js'],
        strategy: 'blue-green',
        canarySteps: [100],
        keepPreviousMs: 60_000,
        verify: { checks: [], durationMs: 0, intervalMs: 1000, failureLimit: 0 },
        autoRollback: false,
      },
      gated: false,
      overridden: false,
      requestedAt: new Date().toISOString(),
    });
    const deployOf110 = (await app.ledger()).find((e) => e.version === '1.1.0')!;

    const first = await rollback();
    const again = await rollback();
    expect(again.opId).toBe(first.opId);
    expect((await stack.sg.waitForOperation(app.name, 'production', first.opId)).outcome).toBe('succeeded');
    expect(await app.serving()).toBe('1.0.0');
    expect((await env.executeUpdate(enqueueDeployUpdate, { args: [replayOf(deployOf110)] })).position).toBe(
      -1,
    );
    const runOfFirstRequests = await runId(app);

    // Ship on until the environment has continued as new (at least once more, so something newer serves).
    let shipped = '1.1.0';
    for (let minor = 2; minor === 2 || (await runId(app)) === runOfFirstRequests; minor++) {
      expect(minor, 'the environment never continued as new').toBeLessThan(8);
      shipped = `1.${minor}.0`;
      await app.ship(shipped);
    }
    // The same requests again, in the new run: neither rolls back nor deploys anything.
    const afterRun = await rollback();
    expect(afterRun.opId).toBe(first.opId);
    expect((await env.executeUpdate(enqueueDeployUpdate, { args: [replayOf(deployOf110)] })).position).toBe(
      -1,
    );
    // A new request runs after anything queued before it, so once it is done the queue held nothing else.
    const last = await app.run(
      ...['rollback', app.name, 'production', '--as', 'bob', '--reason', 'new request', '--wait'],
    );
    expect(last.code, last.stderr).toBe(0);
    const ledger = await app.ledger();
    expect(ledger.filter((e) => e.opId === first.opId)).toHaveLength(1);
    expect(ledger.filter((e) => e.opId === deployOf110.opId)).toHaveLength(1);
    expect(ledger.some((e) => e.version === '9.9.9')).toBe(false);
    expect(ledger.at(-1)).toMatchObject({ action: 'rollback', reason: 'new request', outcome: 'succeeded' });
    expect(ledger.at(-2)).toMatchObject({ action: 'deploy', version: shipped });
  });
});
