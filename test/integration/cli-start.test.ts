/**
 * The bundled CLI, rollback --wait by Update, and release starts that retry, on a real dev server and worker
 * process: the bundle answers as the compiled modules do (help included), the await-operation Update returns an
 * operation's entry, a worker without the Update is told apart, and a release start whose first answer is lost
 * to a timeout is sent again and taken once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InterceptingCall, Metadata, status, type Interceptor } from '@grpc/grpc-js';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { ShipgateClient } from '../../src/client.js';
import { isUnknownUpdate, OperationFailedError } from '../../src/client/errors.js';
import { awaitOperationUpdate } from '../../src/workflows/messages.js';
import { releaseWorkflowId } from '../../src/protocol/ids.js';
import { startStack, type Stack } from '../helpers/fixture.js';
import { cli, ROOT } from '../helpers/processes.js';

const UNBUNDLED = { SHIPGATE_CLI_UNBUNDLED: '1' };

/**
 * Lets the first call of `method` reach the server and be processed, then replaces its answer with the
 * DEADLINE_EXCEEDED "context deadline exceeded" a busy server sends: the client never learns it was taken.
 */
function loseFirstAnswer(method: string): { interceptor: Interceptor; lost: () => number } {
  let lost = 0;
  const interceptor: Interceptor = (options, nextCall) => {
    if (lost > 0 || !options.method_definition.path.endsWith(`/${method}`))
      return new InterceptingCall(nextCall(options));
    lost++;
    return new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        next(metadata, {
          onReceiveMetadata: () => {},
          onReceiveMessage: () => {},
          onReceiveStatus: () =>
            listener.onReceiveStatus({
              code: status.DEADLINE_EXCEEDED,
              details: 'context deadline exceeded',
              metadata: new Metadata(),
            }),
        });
      },
    });
  };
  return { interceptor, lost: () => lost };
}

describe('CLI bundle, rollback --wait by Update, release start retries (dev server, worker process)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('the bundle prints the same help as the compiled modules, delegated commands included', async () => {
    expect(existsSync(path.join(ROOT, 'build', 'cli', 'shipgate.mjs'))).toBe(true);
    for (const args of [['--help'], ['help', 'worker'], ['rollback', '--help'], ['slack', '--help']]) {
      const [bundled, compiled] = await Promise.all([cli(args), cli(args, UNBUNDLED)]);
      expect(bundled.code, bundled.stderr).toBe(0);
      expect(bundled.stdout).toBe(compiled.stdout);
    }
    expect((await cli(['--help'])).stdout).toMatch(/^ {2}worker \[options\] +run a worker/m);
    const typo = await cli(['wroker']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('Did you mean worker?');
  });

  it('rollback --wait returns once the rollback is done, and says how it ended', async () => {
    const app = await stack.addApp('await-rollback', (c) => {
      c.apps.hello.environments.production.approvals = [];
    });
    await app.ship('1.0.0');
    await app.ship('1.1.0');
    const rb = await app.run(
      ...['rollback', app.name, 'production', '--as', 'alice', '--reason', 'by update', '--wait', '--json'],
    );
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.json).toMatchObject({ from: '1.1.0', to: '1.0.0', outcome: 'succeeded' });
    // Returned when done, not merely queued: the ledger has settled and production serves 1.0.0.
    expect(await app.serving()).toBe('1.0.0');
    const opId = (rb.json as { opId: string }).opId;
    const entry = (await app.ledger()).find((e) => e.opId === opId);
    expect(entry).toMatchObject({ action: 'rollback', version: '1.0.0', outcome: 'succeeded' });
    // The same Update, in process, for an operation long settled and for one the environment never saw.
    expect(await stack.sg.awaitOperation(app.name, 'production', opId)).toEqual(entry);
    await expect(stack.sg.awaitOperation(app.name, 'production', 'rollback:never')).rejects.toThrow(
      OperationFailedError,
    );
  });

  it('a workflow without the await-operation Update rejects it in the way the client falls back on', async () => {
    const app = await stack.addApp('unknown-update');
    await app.toGate('1.0.0');
    // A release workflow has no such handler, as an environment workflow on a worker from before it had none.
    const handle = stack.sg.client.workflow.getHandle(releaseWorkflowId(app.name, '1.0.0'));
    const err = await handle.executeUpdate(awaitOperationUpdate, { args: [{ opId: 'x' }] }).catch((e) => e);
    expect(isUnknownUpdate(err)).toBe(true);
    expect((await app.status('1.0.0')).stage).toBe('awaiting-approval');
  });

  it('a release start whose first answer is lost to a deadline is sent again and taken once', async () => {
    const app = await stack.addApp('start-retry');
    const lose = loseFirstAnswer('ExecuteMultiOperation');
    const connection = await Connection.connect({
      address: stack.server.address,
      // Outermost, so it sees the answer the SDK's own retry interceptor passes up.
      interceptors: [lose.interceptor, makeGrpcRetryInterceptor(defaultGrpcRetryOptions())],
    });
    try {
      const sg = new ShipgateClient(new Client({ connection }));
      const started = await sg.release({
        app: app.name,
        version: '1.0.0',
        commit: 'c-1.0.0',
        branch: 'main',
        prove: stack.prove('dave'),
      });
      expect(lose.lost()).toBe(1);
      // The retry reached the run the lost attempt started, and got that admission's answer, not a second one.
      expect(started.attached).toBe(false);
      const workflowId = releaseWorkflowId(app.name, '1.0.0');
      const runs = [];
      for await (const wf of stack.sg.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
        runs.push(wf.runId);
      expect(runs).toEqual([started.runId]);
      const history = await stack.sg.client.workflow.getHandle(workflowId).fetchHistory();
      const admits = (history.events ?? []).filter(
        (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'admit',
      );
      expect(admits).toHaveLength(1);
      expect((await app.waitFor('1.0.0', (s) => s.stage === 'awaiting-approval')).state).toBe('running');
    } finally {
      await connection.close();
    }
  });
});
