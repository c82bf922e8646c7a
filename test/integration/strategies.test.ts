import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getVersion, startStack, type ExampleConfig, type Stack } from '../helpers/fixture.js';
import { steadyTraffic } from '../helpers/traffic.js';

/** Production without approvals, so each release runs straight through; the strategy varies per test. */
const withStrategy = (strategy: 'blue-green' | 'canary' | 'recreate') => (c: ExampleConfig) => {
  const prod = c.apps.hello.environments.production;
  prod.approvals = [];
  prod.strategy = strategy;
  prod.canarySteps = [25, 50, 100];
  prod.canaryPause = '1s';
};

describe('deployment strategies on the local target under steady load (dev server, real processes)', () => {
  let stack: Stack;
  const run = (...args: string[]) => stack.run(args);
  const release = (version: string) =>
    run(
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
      'production',
    );

  beforeAll(async () => {
    stack = await startStack(withStrategy('blue-green'));
    expect((await release('1.0.0')).code).toBe(0);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('blue-green: no failed request, the previous version stays warm, and a warm rollback fails none either', async () => {
    const traffic = steadyTraffic(stack.ports.production, 5);
    expect((await release('1.1.0')).code).toBe(0);
    expect(
      (await run('rollback', 'hello', 'production', '--as', 'alice', '--reason', 'warm', '--wait')).code,
    ).toBe(0);
    const seen = await traffic.stop();
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect([...seen.versions].sort()).toEqual(['1.0.0', '1.1.0']);
    expect(await getVersion(stack.ports.production)).toBe('1.0.0');
  });

  it('canary: traffic moves in steps with checks against the canary, no failed request', async () => {
    await stack.writeConfig(withStrategy('canary'));
    const traffic = steadyTraffic(stack.ports.production, 5);
    const r = await release('1.2.0');
    const seen = await traffic.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect([...seen.versions].sort()).toEqual(['1.0.0', '1.2.0']);
    expect(await getVersion(stack.ports.production)).toBe('1.2.0');
  });

  it('canary: a bad canary fails its first step check and all traffic returns to stable, no failed request', async () => {
    const traffic = steadyTraffic(stack.ports.production, 5);
    const r = await release('1.3.0-bad');
    const seen = await traffic.stop();
    expect(r.code).toBe(1);
    const status = await stack.sg.status('hello', '1.3.0-bad');
    expect(status.state).toBe('failed');
    expect(status.reason).toContain('canary');
    expect(seen.failed, seen.failures.join('; ')).toBe(0);
    expect(await getVersion(stack.ports.production)).toBe('1.2.0');
  });

  it('recreate: stops the old version, then starts the new one; the downtime is real and measured', async () => {
    await stack.writeConfig(withStrategy('recreate'));
    const traffic = steadyTraffic(stack.ports.production, 5);
    const r = await release('1.4.0');
    const seen = await traffic.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(await getVersion(stack.ports.production)).toBe('1.4.0');
    const target = await stack.sg.environmentState('hello', 'production');
    expect(target?.current?.version).toBe('1.4.0');
    // Recreate trades availability for never running two versions at once: requests may fail meanwhile.
    expect(seen.ok).toBeGreaterThan(0);
    console.log(`recreate: ${seen.failed} of ${seen.ok + seen.failed} requests failed during the switch`);
  });
});
