import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startControl, startStack, type Stack, type StartControl } from '../helpers/fixture.js';
import { steadyTraffic } from '../helpers/traffic.js';
import type { LedgerEntry } from '../../src/policy/ledger.js';

describe('rollback on a real dev server, worker process and local target', () => {
  let stack: Stack;
  let control: StartControl;

  /** An app of the test's own whose production needs no approvals and whose processes start through `control`. */
  const newApp = (name: string) =>
    stack.addApp(name, (c) => {
      c.apps.hello.build.command = control.command;
      c.apps.hello.environments.production.approvals = [];
    });

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

  it('a rollback requested during a deploy preempts it: the deploy is cancelled, the target restored, no request fails', async () => {
    const app = await newApp('preempt');
    await app.ship('1.0.0');
    await app.ship('1.1.0');
    // 2.0.0 starts on staging at once; on production its process starts but is held not ready, so the
    // rollback below always finds the deploy in flight.
    const held = control.hold('2.0.0');
    const traffic = steadyTraffic(app.ports.production);
    const started = app.run(...app.releaseArgs('2.0.0', '--wait', 'production', '--json'));
    (await held.next()).release();
    const inProduction = await held.next();
    expect((await app.status('2.0.0')).stage).toBe('deploying-production');
    const rb = await app.run(
      ...['rollback', app.name, 'production', '--to', '1.0.0', '--as', 'carol'],
      ...['--reason', 'stop the rollout', '--wait', '--json'],
    );
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.json).toMatchObject({ from: '2.0.0', to: '1.0.0', outcome: 'succeeded' });
    const released = await started;
    expect(released.code, released.stderr).toBe(1);
    expect(released.json).toMatchObject({ state: 'failed' });
    const final = await app.status('2.0.0');
    expect(final.state).toBe('failed');
    expect(final.reason).toContain('preempted');
    expect(await app.serving()).toBe('1.0.0');
    const seen = await traffic.stop(200);
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect(seen.versions).not.toContain('2.0.0');
    // The held process never became ready: the cancelled deploy stopped it.
    expect(isRunning(inProduction.pid)).toBe(false);
    held.stop();
    const entries = await app.ledger();
    expect(entries.find((e) => e.version === '2.0.0')).toMatchObject({ action: 'deploy', outcome: 'failed' });
    expect(entries.at(-1)).toMatchObject({
      action: 'rollback',
      version: '1.0.0',
      actor: 'carol',
      outcome: 'succeeded',
    });
  });

  it('two concurrent rollback requests run one after the other, never interleaved', async () => {
    const app = await newApp('concurrent');
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await app.ship(v);
    const [a, b] = await Promise.all([
      app.run('rollback', app.name, 'production', '--to', '1.1.0', '--as', 'alice', '--reason', 'first'),
      app.run('rollback', app.name, 'production', '--to', '1.0.0', '--as', 'bob', '--reason', 'second'),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    let entries: LedgerEntry[] = [];
    for (let i = 0; i < 300; i++) {
      entries = (await app.ledger()).filter(
        (e) => e.action === 'rollback' && (e.reason === 'first' || e.reason === 'second'),
      );
      if (entries.length === 2 && entries.every((e) => e.outcome !== 'running')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Both restored and passed verification; the first then counts as rolled back from, by the second.
    expect(entries.map((e) => e.verifiedAt !== null)).toEqual([true, true]);
    expect(entries.map((e) => e.outcome)).toEqual(['rolled-back', 'succeeded']);
    const [first, second] = entries as [LedgerEntry, LedgerEntry];
    expect(Date.parse(second.startedAt!)).toBeGreaterThanOrEqual(Date.parse(first.endedAt!));
    expect(second.fromVersion).toBe(first.version);
    expect(await app.serving()).toBe(second.version);
  });

  it('a worker SIGKILLed in the middle of a cold rollback: the environment ends on the target, serving, with one ledger entry', async () => {
    const app = await newApp('cold-kill');
    // After 1.2.0, only 1.1.0 stays warm: a rollback to 1.0.0 must start its process again (cold).
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await app.ship(v);
    const held = control.hold('1.0.0');
    const traffic = steadyTraffic(app.ports.production);
    const rb = await app.run(
      ...['rollback', app.name, 'production', '--to', '1.0.0', '--as', 'bob'],
      ...['--reason', 'kill test', '--json'],
    );
    expect(rb.code, rb.stderr).toBe(0);
    const opId = (rb.json as { opId: string }).opId;
    const starting = await held.next(); // 1.0.0's process runs but is not ready yet
    await stack.worker.kill();
    // With no worker, nothing switches: production keeps serving 1.2.0, and answering.
    await traffic.answers(50);
    expect(await app.serving()).toBe('1.2.0');
    await stack.restartWorker();
    starting.release();
    const entry = await stack.sg.waitForOperation(app.name, 'production', opId);
    held.stop();
    expect(entry.outcome).toBe('succeeded');
    expect(await app.serving()).toBe('1.0.0');
    const seen = await traffic.stop(200);
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect((await app.ledger()).filter((e) => e.reason === 'kill test')).toHaveLength(1);
    // The new worker resumed the process the killed one had started instead of starting a second one.
    expect(control.pids('1.0.0').filter((pid) => pid === starting.pid)).toHaveLength(1);
    expect(control.pids('1.0.0').at(-1)).toBe(starting.pid);
  });

  it('refuses a rollback when no version older than the current one succeeded there', async () => {
    const app = await newApp('nothing-older');
    await app.ship('1.0.0');
    const r = await app.run('rollback', app.name, 'production', '--as', 'alice', '--reason', 'x');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no version older than 1.0.0');
    expect(r.stderr).toContain('There is no version it could roll back to');
    expect((await app.ledger()).map((e) => e.action)).toEqual(['deploy']);
    expect(await app.serving()).toBe('1.0.0');
  });

  it('refuses a rollback to a version that never succeeded there, listing the versions it could go to', async () => {
    const app = await newApp('never-deployed');
    await app.ship('1.0.0');
    await app.ship('1.1.0');
    const r = await app.run(
      ...['rollback', app.name, 'production', '--to', '9.9.9', '--as', 'alice', '--reason', 'x'],
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/could roll back to: 1\.0\.0\./);
    expect(await app.serving()).toBe('1.1.0');
  });

  it('refuses a rollback where nothing was ever deployed (exit 3), without a reason or of an unknown environment (exit 2)', async () => {
    const app = await newApp('refusals');
    const nothing = await app.run('rollback', app.name, 'production', '--as', 'alice', '--reason', 'x');
    expect(nothing.code).toBe(3);
    expect(nothing.stderr).toContain('nothing has been deployed there');
    const noReason = await app.run('rollback', app.name, 'production', '--as', 'alice');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('--reason');
    const unknownEnv = await app.run(
      ...['--config', stack.configFile, 'rollback', app.name, 'qa', '--as', 'alice', '--reason', 'x'],
    );
    expect(unknownEnv.code).toBe(2);
    expect(unknownEnv.stderr).toContain('unknown environment "qa"');
  });
});

/** Whether `pid` is a live process (a zombie, exited but not yet reaped, counts as gone). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!);
  } catch {
    return false;
  }
}
