import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/fixture.js';

/**
 * `shipgate adopt` through the CLI, signed, on a real dev server and worker process. The local target runs only
 * what shipgate starts, so there is never drift to adopt there: what these show is the command's input checks,
 * its authorisation and how each refusal reaches the caller. Adopting on a cluster is in the fast tier
 * (test/workflows/environment-drift.test.ts) and in the Kubernetes suites.
 */
describe('adopt on a real dev server, worker process and local target', () => {
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

  it('needs a reason and a known environment (exit 2), refuses who may not roll back (exit 3), and a local target has nothing to adopt (exit 2)', async () => {
    const app = await stack.addApp('adopt', (c) => {
      c.apps.hello.environments.production.approvals = [];
    });
    await app.ship('1.0.0');

    const noReason = await app.run('adopt', app.name, 'production', '--as', 'alice');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('--reason is required');
    const unknownEnv = await app.run(
      ...['--config', stack.configFile, 'adopt', app.name, 'qa', '--as', 'alice', '--reason', 'x'],
    );
    expect(unknownEnv.code).toBe(2);
    expect(unknownEnv.stderr).toContain('unknown environment "qa"');

    const denied = await app.run('adopt', app.name, 'production', '--as', 'mallory', '--reason', 'mine');
    expect(denied.code).toBe(3);
    expect(denied.stderr).toContain('mallory may not adopt the live state of');

    const local = await app.run(
      ...['adopt', app.name, 'production', '--as', 'alice', '--reason', 'keep it', '--json'],
    );
    expect(local.code).toBe(2);
    expect(local.json).toMatchObject({ exitCode: 2 });
    expect((local.json as { error: string }).error).toContain('which runs only what shipgate starts');

    // Nothing changed: the ledger holds the deploy alone, and history is still a plain array of rows.
    const history = await app.run('history', app.name, 'production', '--json');
    expect(history.code).toBe(0);
    expect(
      (history.json as { action: string; version: string }[]).map((r) => `${r.action} ${r.version}`),
    ).toEqual(['deploy 1.0.0']);
  });
});
