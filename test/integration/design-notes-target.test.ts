import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startControl, startStack, type Stack, type StartControl } from '../helpers/fixture.js';

/** Variables the worker holds that are none of a deployed app's business. */
const WORKER_SECRETS = {
  SLACK_BOT_TOKEN: 'xoxb-worker-only',
  SLACK_SIGNING_SECRET: 'worker-only-signing-secret',
  SHIPGATE_TEST_CREDENTIAL: 'worker-only-credential',
};
/** What the local target passes through from the worker's environment (and nothing else). */
const PASSED_THROUGH = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

/** A process's environment at its start, from /proc. */
function environOf(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

describe('design notes: what the local target gives deployed apps (dev server, worker process, real app processes)', () => {
  let stack: Stack;
  let control: StartControl;

  beforeAll(async () => {
    control = await startControl();
    stack = await startStack(undefined, { workerEnv: WORKER_SECRETS });
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await stack?.stop();
    await control?.close();
  });

  it("deployed apps get a clean environment: none of the worker's own variables or credentials reach them", async () => {
    const app = await stack.addApp('clean-env', (c) => {
      c.apps.hello.build.command = control.command;
      c.apps.hello.environments.production.approvals = [];
    });
    await app.ship('1.0.0');
    const pid = control.pids('1.0.0').at(-1)!;
    const env = environOf(pid);
    expect(env).toMatchObject({ APP_VERSION: '1.0.0', PORT: expect.stringMatching(/^\d+$/) });
    for (const name of Object.keys(WORKER_SECRETS)) expect(env, name).not.toHaveProperty(name);
    expect(env).not.toHaveProperty('SHIPGATE_HOME');
    // Nothing else of the worker's (which inherits this test process's environment) came along either.
    const worker: Record<string, string | undefined> = { ...process.env, ...WORKER_SECRETS };
    const leaked = Object.keys(env).filter(
      (k) => !PASSED_THROUGH.includes(k) && worker[k] !== undefined && worker[k] === env[k],
    );
    expect(leaked).toEqual([]);
  });

  it('a soak checks each round that the version’s process is alive: one that exits fails verification, though the proxy keeps the checks answered', async () => {
    const app = await stack.addApp('soak-alive', (c) => {
      c.apps.hello.build.command = control.command;
      c.apps.hello.environments.production.approvals = [];
    });
    await app.ship('1.0.0');
    // From 1.1.0 on, production soaks for 20 s. When 1.1.0's process dies, the proxy retries its requests
    // on the warm 1.0.0, so every HTTP check still passes: only the liveness check can fail the soak.
    await app.writeConfig((c) => {
      c.apps.hello.build.command = control.command;
      c.apps.hello.environments.production.approvals = [];
      c.apps.hello.environments.production.verify = {
        checks: [{ path: '/smoke', status: 200 }],
        duration: '20s',
        interval: '1s',
        failureLimit: 0,
      };
    });
    const r = await app.run(...app.releaseArgs('1.1.0'));
    expect(r.code, r.stderr).toBe(0);
    await app.waitFor('1.1.0', (s) => s.stage === 'verifying-production');
    // Staging's 1.1.0 started first; production's is the newest.
    const pid = control.pids('1.1.0').at(-1)!;
    process.kill(pid, 'SIGKILL');
    const final = await app.ended('1.1.0');
    expect(final.state).toBe('rolled-back');
    expect(final.reason).toContain('the process of 1.1.0 exited during verification');
    expect(await app.serving()).toBe('1.0.0');
    const ledger = await app.ledger();
    expect(ledger.at(-2)).toMatchObject({ action: 'deploy', version: '1.1.0', outcome: 'rolled-back' });
    expect(ledger.at(-1)).toMatchObject({ action: 'rollback', version: '1.0.0', outcome: 'succeeded' });
  });

  it('a process that exits during a soak fails it at once, whatever the failureLimit', async () => {
    const app = await stack.addApp('soak-dead-limit', (c) => {
      c.apps.hello.build.command = control.command;
      c.apps.hello.environments.production.approvals = [];
    });
    await app.ship('1.0.0');
    // As above, but 100 failed rounds are allowed: a soak that counted the dead process as one failed round
    // would pass after 20 s while the proxy quietly served 1.0.0.
    await app.writeConfig((c) => {
      c.apps.hello.build.command = control.command;
      c.apps.hello.environments.production.approvals = [];
      c.apps.hello.environments.production.verify = {
        checks: [{ path: '/smoke', status: 200 }],
        duration: '20s',
        interval: '1s',
        failureLimit: 100,
      };
    });
    const r = await app.run(...app.releaseArgs('1.1.0'));
    expect(r.code, r.stderr).toBe(0);
    await app.waitFor('1.1.0', (s) => s.stage === 'verifying-production');
    // Staging's 1.1.0 started first; production's is the newest.
    const pid = control.pids('1.1.0').at(-1)!;
    process.kill(pid, 'SIGKILL');
    const final = await app.ended('1.1.0');
    expect(final.state).toBe('rolled-back');
    expect(final.reason).toContain('the process of 1.1.0 exited during verification');
    expect(await app.serving()).toBe('1.0.0');
    const ledger = await app.ledger();
    expect(ledger.at(-2)).toMatchObject({ action: 'deploy', version: '1.1.0', outcome: 'rolled-back' });
    expect(ledger.at(-1)).toMatchObject({ action: 'rollback', version: '1.0.0', outcome: 'succeeded' });
  });
});
