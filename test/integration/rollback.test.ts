import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getVersion, startStack, type Stack, waitForRelease, shipToProduction } from '../helpers/fixture.js';
import { steadyTraffic } from '../helpers/traffic.js';
import type { LedgerEntry } from '../../src/policy/ledger.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rollback on a real dev server, worker process and local target', () => {
  let stack: Stack;
  const run = (...args: string[]) => stack.run(args);
  const ledger = async (): Promise<LedgerEntry[]> =>
    (await stack.sg.environmentState('hello', 'production'))?.ledger ?? [];

  const waitFor = (version: string, pred: Parameters<typeof waitForRelease>[2]) =>
    waitForRelease(stack.sg, version, pred);

  /** Production needs no approvals here, so each release goes straight through. */
  const ship = (version: string) => shipToProduction(stack, version);

  beforeAll(async () => {
    stack = await startStack((c) => {
      c.apps.hello.environments.production.approvals = [];
    });
    await ship('1.0.0-slow');
    await ship('1.1.0');
    await ship('1.2.0');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a rollback requested during a deploy preempts it: the deploy is cancelled, the target restored, no request fails', async () => {
    const traffic = steadyTraffic(stack.ports.production);
    const started = run(
      'release',
      'hello',
      '2.0.0-slow',
      '--commit',
      'c-2',
      '--branch',
      'main',
      '--actor',
      'dave',
      '--wait',
      'production',
    );
    await waitFor('2.0.0-slow', (s) => s.stage === 'deploying-production');
    await sleep(800);
    const rb = await run(
      'rollback',
      'hello',
      'production',
      '--to',
      '1.1.0',
      '--as',
      'carol',
      '--reason',
      'stop the rollout',
      '--wait',
      '--json',
    );
    expect(rb.code, rb.stderr).toBe(0);
    const released = await started;
    expect(released.code).toBe(1);
    const final = await stack.sg.status('hello', '2.0.0-slow');
    expect(final.state).toBe('failed');
    expect(final.reason).toContain('preempted');
    expect(await getVersion(stack.ports.production)).toBe('1.1.0');
    const seen = await traffic.stop();
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect(seen.versions.has('2.0.0-slow')).toBe(false);
    const entries = await ledger();
    const deploy = entries.find((e) => e.version === '2.0.0-slow')!;
    expect(deploy).toMatchObject({ action: 'deploy', outcome: 'failed' });
    expect(entries.at(-1)).toMatchObject({
      action: 'rollback',
      version: '1.1.0',
      actor: 'carol',
      outcome: 'succeeded',
    });
  });

  it('two concurrent rollback requests run one after the other, never interleaved', async () => {
    const [a, b] = await Promise.all([
      run('rollback', 'hello', 'production', '--to', '1.2.0', '--as', 'alice', '--reason', 'first'),
      run('rollback', 'hello', 'production', '--to', '1.0.0-slow', '--as', 'bob', '--reason', 'second'),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    let entries: LedgerEntry[] = [];
    for (let i = 0; i < 300; i++) {
      entries = (await ledger()).filter(
        (e) => e.action === 'rollback' && (e.reason === 'first' || e.reason === 'second'),
      );
      if (entries.length === 2 && entries.every((e) => e.outcome !== 'running')) break;
      await sleep(100);
    }
    // Both restored and passed verification; the first then counts as rolled back from, by the second.
    expect(entries.map((e) => e.verifiedAt !== null)).toEqual([true, true]);
    expect(entries.map((e) => e.outcome)).toEqual(['rolled-back', 'succeeded']);
    const [first, second] = entries as [LedgerEntry, LedgerEntry];
    expect(Date.parse(second.startedAt!)).toBeGreaterThanOrEqual(Date.parse(first.endedAt!));
    expect(second.fromVersion).toBe(first.version);
    expect(await getVersion(stack.ports.production)).toBe(second.version);
  });

  it('a worker SIGKILLed in the middle of a cold rollback: the environment ends on the target, serving, with one ledger entry', async () => {
    // Make 1.0.0-slow cold: two other versions have served since, so its process is gone.
    await run(
      'rollback',
      'hello',
      'production',
      '--to',
      '1.1.0',
      '--as',
      'alice',
      '--reason',
      'prep',
      '--wait',
    );
    await run(
      'rollback',
      'hello',
      'production',
      '--to',
      '1.2.0',
      '--as',
      'alice',
      '--reason',
      'prep',
      '--wait',
    );
    const traffic = steadyTraffic(stack.ports.production);
    const rb = await run(
      'rollback',
      'hello',
      'production',
      '--to',
      '1.0.0-slow',
      '--as',
      'bob',
      '--reason',
      'kill test',
      '--json',
    );
    expect(rb.code, rb.stderr).toBe(0);
    const opId = (rb.json as { opId: string }).opId;
    await sleep(1500); // the slow version is starting, not yet ready
    await stack.worker.kill();
    await sleep(1000);
    expect(await getVersion(stack.ports.production)).toBe('1.2.0');
    await stack.restartWorker();
    const entry = await stack.sg.waitForOperation('hello', 'production', opId);
    expect(entry.outcome).toBe('succeeded');
    expect(await getVersion(stack.ports.production)).toBe('1.0.0-slow');
    const seen = await traffic.stop();
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect((await ledger()).filter((e) => e.reason === 'kill test')).toHaveLength(1);
  });

  it('refuses a rollback with nothing older to go to, and one without a reason', async () => {
    const fresh = await run(
      'rollback',
      'hello',
      'staging',
      '--as',
      'alice',
      '--reason',
      'x',
      '--to',
      '9.9.9',
    );
    expect(fresh.code).toBe(3);
    expect(fresh.stderr).toMatch(/could roll back to: .*1\.2\.0/);
    expect((await run('rollback', 'hello', 'production', '--as', 'alice')).code).toBe(2);
    expect(
      (await run('--config', stack.configFile, 'rollback', 'hello', 'qa', '--as', 'alice', '--reason', 'x'))
        .code,
    ).toBe(2);
  });
});
