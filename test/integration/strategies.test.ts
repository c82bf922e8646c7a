import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalTarget } from '../../src/targets/local/local-target.js';
import type { RouteEntry } from '../../src/targets/local/route.js';
import { envDir, proxyLogPath } from '../../src/targets/local/state.js';
import { getVersion, startStack, type ExampleConfig, type Stack } from '../helpers/fixture.js';
import { steadyTraffic } from '../helpers/traffic.js';

type Strategy = 'blue-green' | 'canary' | 'recreate';

/** Requests sent in all during each test's deploys, at least, over several concurrent connections. */
const MIN_REQUESTS = 200;

/** Production without approvals, so each release runs straight through; the strategy varies per test. */
const withStrategy = (strategy: Strategy) => (c: ExampleConfig) => {
  const prod = c.apps.hello.environments.production;
  prod.approvals = [];
  prod.strategy = strategy;
  prod.canarySteps = [25, 50, 100];
  prod.canaryPause = '1s';
};

/** Every route the production proxy acknowledged, in order, read from its own log. */
function routesSet(home: string): RouteEntry[][] {
  const log = readFileSync(proxyLogPath(envDir(home, 'hello', 'production')), 'utf8');
  return [...log.matchAll(/route set: (\[.*\])$/gm)].map((m) => JSON.parse(m[1]!) as RouteEntry[]);
}

const weights = (route: RouteEntry[]) => Object.fromEntries(route.map((e) => [e.version, e.weight]));

describe('deployment strategies on the local target under concurrent load (dev server, real processes)', () => {
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
  const production = () => createLocalTarget({ home: stack.home }).status('hello', 'production');
  const pidOf = async (version: string) =>
    (await production())?.processes.find((p) => p.version === version && p.alive)?.pid;
  /** Each test starts from its own serving version, deployed blue-green, whatever ran before it. */
  const baseline = async (version: string) => {
    await stack.writeConfig(withStrategy('blue-green'));
    const r = await release(version);
    expect(r.code, r.stderr).toBe(0);
    expect(await getVersion(stack.ports.production)).toBe(version);
  };

  beforeAll(async () => {
    stack = await startStack(withStrategy('blue-green'));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('blue-green: no failed request, the previous version stays warm, and a warm rollback fails none either', async () => {
    await baseline('1.0.0');
    const traffic = steadyTraffic(stack.ports.production);
    await traffic.reached('1.0.0');
    const r = await release('1.1.0');
    expect(r.code, r.stderr).toBe(0);

    // The previous version stays warm: its process runs, takes no traffic, and is kept for a while.
    const warm = (await production())?.processes.find((p) => p.version === '1.0.0');
    expect(warm).toMatchObject({ alive: true, ready: true, weight: 0 });
    expect(Date.parse(warm?.keepUntil ?? '')).toBeGreaterThan(Date.now());

    const rb = await run('rollback', 'hello', 'production', '--as', 'alice', '--reason', 'warm', '--wait');
    expect(rb.code, rb.stderr).toBe(0);
    // Warm: the rollback switched to the process that was already running instead of starting one.
    expect(await pidOf('1.0.0')).toBe(warm?.pid);
    const after = traffic.mark();
    await traffic.answers(20);
    expect(new Set(await traffic.versionsSince(after))).toEqual(new Set(['1.0.0']));

    const seen = await traffic.stop(MIN_REQUESTS);
    expect(seen.failures).toEqual([]);
    expect(new Set(seen.versions)).toEqual(new Set(['1.0.0', '1.1.0']));
  });

  it('canary: traffic moves in its configured steps, checked against the canary, with no failed request', async () => {
    await baseline('1.2.0');
    await stack.writeConfig(withStrategy('canary'));
    const before = routesSet(stack.home).length;
    const traffic = steadyTraffic(stack.ports.production);
    await traffic.reached('1.2.0');
    const r = await release('1.3.0');
    expect(r.code, r.stderr).toBe(0);
    const seen = await traffic.stop(MIN_REQUESTS);
    expect(seen.failures).toEqual([]);
    expect(new Set(seen.versions)).toEqual(new Set(['1.2.0', '1.3.0']));
    expect(await getVersion(stack.ports.production)).toBe('1.3.0');

    // 25%, then 50%, then all of it, with the stable version kept warm at the end.
    expect(routesSet(stack.home).slice(before).map(weights)).toEqual([
      { '1.3.0': 25, '1.2.0': 75 },
      { '1.3.0': 50, '1.2.0': 50 },
      { '1.3.0': 100, '1.2.0': 0 },
    ]);
  });

  it('canary: a bad canary fails its first step check and all traffic returns to stable, no failed request', async () => {
    await baseline('1.4.0');
    await stack.writeConfig(withStrategy('canary'));
    const before = routesSet(stack.home).length;
    const traffic = steadyTraffic(stack.ports.production);
    await traffic.reached('1.4.0');
    const r = await release('1.5.0-bad');
    expect(r.code).toBe(1);
    const status = await stack.sg.status('hello', '1.5.0-bad');
    expect(status.state).toBe('failed');
    expect(status.reason).toContain('canary');
    const after = traffic.mark();
    await traffic.answers(20);
    expect(new Set(await traffic.versionsSince(after))).toEqual(new Set(['1.4.0']));
    const seen = await traffic.stop(MIN_REQUESTS);
    expect(seen.failures).toEqual([]);

    // It never got past its first step, and the bad version no longer runs.
    expect(routesSet(stack.home).slice(before).map(weights)).toEqual([
      { '1.5.0-bad': 25, '1.4.0': 75 },
      { '1.4.0': 100 },
    ]);
    expect((await production())?.processes.map((p) => p.version)).not.toContain('1.5.0-bad');
  });

  it('recreate: the old version leaves the route before the new one starts, and requests meanwhile get 503', async () => {
    await baseline('1.6.0');
    await stack.writeConfig(withStrategy('recreate'));
    const before = routesSet(stack.home).length;
    const traffic = steadyTraffic(stack.ports.production);
    await traffic.reached('1.6.0');
    const r = await release('1.7.0');
    expect(r.code, r.stderr).toBe(0);
    const seen = await traffic.stop(MIN_REQUESTS);
    expect(await getVersion(stack.ports.production)).toBe('1.7.0');
    expect((await stack.sg.environmentState('hello', 'production'))?.current?.version).toBe('1.7.0');

    // Never two versions at once: the route empties, then holds the new version alone.
    expect(routesSet(stack.home).slice(before)).toEqual([
      [],
      [expect.objectContaining({ version: '1.7.0' })],
    ]);
    expect((await production())?.processes.map((p) => p.version)).toEqual(['1.7.0']);
    // The downtime is real (a process start takes far longer than the clients' few ms between requests), and
    // it is the proxy saying so, not broken connections; how long it lasts is for the benchmark.
    expect(seen.failed).toBeGreaterThan(0);
    expect(seen.failures.filter((f) => !f.startsWith('503 no version is deployed'))).toEqual([]);
    expect(new Set(seen.versions)).toEqual(new Set(['1.6.0', '1.7.0']));
  });
});
