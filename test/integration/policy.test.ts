import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  getVersion,
  startStack,
  type ExampleConfig,
  type Stack,
  waitForRelease,
  releaseToApprovalGate,
} from '../helpers/fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A deny window that is open right now: it opens at the top of the current UTC hour and lasts 2 h. */
const openNowWindow = (name: string) => ({
  name,
  kind: 'deny',
  schedule: `0 ${new Date().getUTCHours()} * * *`,
  duration: '2h',
  timezone: 'UTC',
});

describe('approval and window policy on a real dev server and worker', () => {
  let stack: Stack;
  let statusPage: http.Server;
  let incident = true;
  let statusUrl = '';
  const run = (...args: string[]) => stack.run(args);

  const base = (c: ExampleConfig) => {
    c.apps.hello.environments.production.gates = [
      {
        name: 'statuspage',
        url: statusUrl,
        field: 'status.indicator',
        equals: 'none',
        interval: '1s',
        timeout: '10m',
      },
    ];
  };

  const waitFor = (version: string, pred: Parameters<typeof waitForRelease>[2]) =>
    waitForRelease(stack.sg, version, pred);

  const toGate = (version: string) => releaseToApprovalGate(stack, version);
  const approve = async (version: string) => {
    expect((await run('approve', 'hello', version, '--as', 'alice')).code).toBe(0);
    expect((await run('approve', 'hello', version, '--as', 'bob')).code).toBe(0);
  };

  beforeAll(async () => {
    // A status page stand-in over real HTTP, in the shape of a hosted status page's JSON.
    statusPage = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: { indicator: incident ? 'major' : 'none' } }));
    });
    await new Promise<void>((r) => statusPage.listen(0, '127.0.0.1', r));
    statusUrl = `http://127.0.0.1:${(statusPage.address() as AddressInfo).port}/api/v2/status.json`;
    incident = false;
    stack = await startStack(base);
    // Production gets a first version so later tests can tell whether a deploy happened.
    await toGate('1.0.0');
    await approve('1.0.0');
    await waitFor('1.0.0', (s) => s.stage === 'done');
  });
  afterAll(async () => {
    await stack?.stop();
    statusPage?.close();
  });

  it('freeze holds an approved release in awaiting-window; unfreeze lets it proceed', async () => {
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const frozen = await run(
      'freeze',
      'hello',
      'production',
      '--until',
      until,
      '--as',
      'carol',
      '--reason',
      'quarter close',
      '--json',
    );
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(frozen.json).toMatchObject({ by: 'carol', reason: 'quarter close' });
    const windows = await run('--config', stack.configFile, 'windows', 'hello', 'production', '--json');
    expect(windows.json).toMatchObject({ allowed: false });
    expect(String((windows.json as { blockedBy: string }).blockedBy)).toContain('carol');
    await toGate('1.1.0');
    await approve('1.1.0');
    const held = await waitFor('1.1.0', (s) => s.stage === 'awaiting-window');
    expect(held.blockedBy).toContain('carol');
    await sleep(1500);
    expect(await getVersion(stack.ports.production)).toBe('1.0.0');
    expect((await run('unfreeze', 'hello', 'production', '--as', 'alice')).code).toBe(0);
    const done = await waitFor('1.1.0', (s) => s.stage === 'done');
    expect(done.state).toBe('succeeded');
    expect(await getVersion(stack.ports.production)).toBe('1.1.0');
  });

  it('refuses a freeze until a past or non-ISO time (exit 2) and an unfreeze of an unfrozen environment (exit 3)', async () => {
    const past = await run(
      'freeze',
      'hello',
      'production',
      '--until',
      '2020-01-01T00:00:00Z',
      '--as',
      'alice',
      '--reason',
      'x',
    );
    expect(past.code).toBe(2);
    expect(past.stderr).toContain('in the past');
    const notIso = await run(
      'freeze',
      'hello',
      'production',
      '--until',
      'next tuesday',
      '--as',
      'alice',
      '--reason',
      'x',
    );
    expect(notIso.code).toBe(2);
    expect(notIso.stderr).toContain('ISO-8601');
    expect(
      (await run('freeze', 'hello', 'production', '--until', '2099-01-01T00:00:00Z', '--as', 'alice')).code,
    ).toBe(2);
    expect((await run('unfreeze', 'hello', 'production', '--as', 'alice')).code).toBe(3);
  });

  it('a window added to the config while a release waits for approval applies to it; break-glass override lets it go', async () => {
    await toGate('1.2.0');
    await stack.writeConfig((c) => {
      base(c);
      c.apps.hello.environments.production.windows = [openNowWindow('emergency-maintenance')];
    });
    const notWaiting = await run('override', 'hello', '1.2.0', '--as', 'dave', '--reason', 'hotfix');
    expect(notWaiting.code).toBe(3);
    expect(notWaiting.stderr).toContain('waiting for approval');
    await approve('1.2.0');
    const held = await waitFor('1.2.0', (s) => s.stage === 'awaiting-window');
    expect(held.blockedBy).toBe('emergency-maintenance');
    const windows = await run('--config', stack.configFile, 'windows', 'hello', 'production', '--json');
    expect(windows.json).toMatchObject({ allowed: false, blockedBy: 'emergency-maintenance' });
    const outsider = await run('override', 'hello', '1.2.0', '--as', 'alice', '--reason', 'please');
    expect(outsider.code).toBe(3);
    expect(outsider.stderr).toContain('release-managers');
    expect((await run('override', 'hello', '1.2.0', '--as', 'dave')).code).toBe(2);
    const ok = await run('override', 'hello', '1.2.0', '--as', 'dave', '--reason', 'payment outage hotfix');
    expect(ok.code, ok.stderr).toBe(0);
    const done = await waitFor('1.2.0', (s) => s.stage === 'done');
    expect(done.state).toBe('succeeded');
    expect(done.override).toMatchObject({ by: 'dave', reason: 'payment outage hotfix' });
    await stack.writeConfig(base);
  });

  it('an external gate that fails holds the release in awaiting-gate, fails closed, and passes once healthy', async () => {
    incident = true;
    await toGate('1.3.0');
    await approve('1.3.0');
    const held = await waitFor('1.3.0', (s) => s.stage === 'awaiting-gate');
    expect(held.blockedBy).toBe('gate statuspage');
    const override = await run('override', 'hello', '1.3.0', '--as', 'dave', '--reason', 'try');
    expect(override.code).toBe(3);
    expect(override.stderr).toContain('external gate');
    incident = false;
    const done = await waitFor('1.3.0', (s) => s.stage === 'done');
    expect(done.state).toBe('succeeded');
  });

  it('a newer release reaching the approval gate supersedes an older one waiting there', async () => {
    await toGate('1.4.0');
    await toGate('1.5.0');
    const old = await waitFor('1.4.0', (s) => s.state !== 'running');
    expect(old.state).toBe('superseded');
    expect(old.reason).toContain('1.5.0');
    const late = await run('approve', 'hello', '1.4.0', '--as', 'alice');
    expect(late.code).toBe(3);
    expect((await run('reject', 'hello', '1.4.0', '--as', 'alice', '--reason', 'x')).code).toBe(3);
    await approve('1.5.0');
    expect((await waitFor('1.5.0', (s) => s.stage === 'done')).state).toBe('succeeded');
  });

  it('approvalChannels refuses approvals through other channels and records them', async () => {
    await stack.writeConfig((c) => {
      base(c);
      c.apps.hello.environments.production.approvalChannels = ['slack'];
    });
    await toGate('1.6.0');
    const r = await run('approve', 'hello', '1.6.0', '--as', 'alice');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('slack');
    const s = await stack.sg.status('hello', '1.6.0');
    expect(s.approvals.refused.at(-1)).toMatchObject({ by: 'alice', via: 'cli' });
    expect(
      (await run('reject', 'hello', '1.6.0', '--as', 'alice', '--reason', 'wrong channel test')).code,
    ).toBe(0);
    await stack.writeConfig(base);
  });
});
