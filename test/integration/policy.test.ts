import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startStack, type App, type ExampleConfig, type Stack } from '../helpers/fixture.js';

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
  let statusPageUrl = '';
  // Per app: whether its status page reports an incident.
  const incidents = new Map<string, boolean>();

  /** Production gates on the app's own page of the status-page stand-in. */
  const gated = (name: string) => (c: ExampleConfig) => {
    c.apps.hello.environments.production.gates = [
      {
        name: 'statuspage',
        url: `${statusPageUrl}/${name}/api/v2/status.json`,
        field: 'status.indicator',
        equals: 'none',
        interval: '1s',
        timeout: '10m',
      },
    ];
  };

  /** An app of the test's own, gated on its own page of the status-page stand-in. */
  const newApp = (name: string, tweak: (c: ExampleConfig) => void = () => {}) =>
    stack.addApp(name, (c) => {
      gated(name)(c);
      tweak(c);
    });

  const windowsJson = async (app: App) =>
    (await app.run('--config', stack.configFile, 'windows', app.name, 'production', '--json')).json as {
      allowed: boolean;
      blockedBy: string | null;
    };

  beforeAll(async () => {
    // A status page stand-in over real HTTP, in the shape of a hosted status page's JSON.
    statusPage = http.createServer((req, res) => {
      const app = (req.url ?? '/').split('/')[1] ?? '';
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: { indicator: incidents.get(app) ? 'major' : 'none' } }));
    });
    await new Promise<void>((r) => statusPage.listen(0, '127.0.0.1', r));
    statusPageUrl = `http://127.0.0.1:${(statusPage.address() as AddressInfo).port}`;
    stack = await startStack();
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await stack?.stop();
    statusPage?.close();
  });

  it('freeze holds an approved release in awaiting-window; unfreeze lets it proceed', async () => {
    const app = await newApp('freeze');
    await app.shipApproved('1.0.0');
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const frozen = await app.run(
      ...['freeze', app.name, 'production', '--until', until, '--as', 'carol'],
      ...['--reason', 'quarter close', '--json'],
    );
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(frozen.json).toMatchObject({ by: 'carol', reason: 'quarter close' });
    const windows = await windowsJson(app);
    expect(windows).toMatchObject({ allowed: false });
    expect(String(windows.blockedBy)).toContain('carol');
    await app.toGate('1.1.0');
    await app.approve('1.1.0', 'alice', 'bob');
    const held = await app.waitFor('1.1.0', (s) => s.stage === 'awaiting-window');
    expect(held.blockedBy).toContain('carol');
    expect(await app.serving()).toBe('1.0.0');
    expect((await app.run('unfreeze', app.name, 'production', '--as', 'alice')).code).toBe(0);
    const done = await app.ended('1.1.0');
    expect(done.state).toBe('succeeded');
    expect(await app.serving()).toBe('1.1.0');
  });

  it('refuses a freeze until a past or non-ISO time or without a reason (exit 2), and an unfreeze of an unfrozen environment (exit 3)', async () => {
    const app = await newApp('freeze-refusals');
    const freeze = (until: string, ...rest: string[]) =>
      app.run('freeze', app.name, 'production', '--until', until, '--as', 'alice', ...rest);
    const past = await freeze('2020-01-01T00:00:00Z', '--reason', 'x');
    expect(past.code).toBe(2);
    expect(past.stderr).toContain('in the past');
    const notIso = await freeze('next tuesday', '--reason', 'x');
    expect(notIso.code).toBe(2);
    expect(notIso.stderr).toContain('ISO-8601');
    expect((await freeze('2099-01-01T00:00:00Z')).code).toBe(2);
    expect((await windowsJson(app)).allowed).toBe(true);
    // A real freeze, lifted once; lifting it again is refused.
    expect((await freeze('2099-01-01T00:00:00Z', '--reason', 'audit')).code).toBe(0);
    const unfreeze = () => app.run('unfreeze', app.name, 'production', '--as', 'alice');
    expect((await unfreeze()).code).toBe(0);
    const again = await unfreeze();
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('is not frozen');
  });

  it('a window added to the config while a release waits for approval applies to it; break-glass override lets it go', async () => {
    const app = await newApp('window-added');
    await app.toGate('1.2.0');
    await app.writeConfig((c) => {
      gated(app.name)(c);
      c.apps.hello.environments.production.windows = [openNowWindow('emergency-maintenance')];
    });
    const notWaiting = await app.run('override', app.name, '1.2.0', '--as', 'dave', '--reason', 'hotfix');
    expect(notWaiting.code).toBe(3);
    expect(notWaiting.stderr).toContain('waiting for approval');
    await app.approve('1.2.0', 'alice', 'bob');
    const held = await app.waitFor('1.2.0', (s) => s.stage === 'awaiting-window');
    expect(held.blockedBy).toBe('emergency-maintenance');
    expect(await windowsJson(app)).toMatchObject({ allowed: false, blockedBy: 'emergency-maintenance' });
    const outsider = await app.run('override', app.name, '1.2.0', '--as', 'alice', '--reason', 'please');
    expect(outsider.code).toBe(3);
    expect(outsider.stderr).toContain('release-managers');
    expect((await app.run('override', app.name, '1.2.0', '--as', 'dave')).code).toBe(2);
    const ok = await app.run(
      ...['override', app.name, '1.2.0', '--as', 'dave', '--reason', 'payment outage hotfix'],
    );
    expect(ok.code, ok.stderr).toBe(0);
    const done = await app.ended('1.2.0');
    expect(done.state).toBe('succeeded');
    expect(done.override).toMatchObject({ by: 'dave', reason: 'payment outage hotfix' });
    expect(await app.serving()).toBe('1.2.0');
  });

  it('an external gate that fails holds the release in awaiting-gate, fails closed, and passes once healthy', async () => {
    const app = await newApp('gate');
    await app.shipApproved('1.0.0');
    incidents.set(app.name, true);
    await app.toGate('1.3.0');
    await app.approve('1.3.0', 'alice', 'bob');
    const held = await app.waitFor('1.3.0', (s) => s.stage === 'awaiting-gate');
    expect(held.blockedBy).toBe('gate statuspage');
    const override = await app.run('override', app.name, '1.3.0', '--as', 'dave', '--reason', 'try');
    expect(override.code).toBe(3);
    expect(override.stderr).toContain('external gate');
    expect(await app.serving()).toBe('1.0.0');
    incidents.set(app.name, false);
    const done = await app.ended('1.3.0');
    expect(done.state).toBe('succeeded');
    expect(await app.serving()).toBe('1.3.0');
  });

  it('a newer release reaching the approval gate supersedes an older one waiting there', async () => {
    const app = await newApp('supersede');
    await app.toGate('1.4.0');
    await app.toGate('1.5.0');
    const old = await app.ended('1.4.0');
    expect(old.state).toBe('superseded');
    expect(old.reason).toContain('1.5.0');
    expect((await app.run('approve', app.name, '1.4.0', '--as', 'alice')).code).toBe(3);
    expect((await app.run('reject', app.name, '1.4.0', '--as', 'alice', '--reason', 'x')).code).toBe(3);
    await app.approve('1.5.0', 'alice', 'bob');
    expect((await app.ended('1.5.0')).state).toBe('succeeded');
    expect(await app.serving()).toBe('1.5.0');
  });

  it('approvalChannels refuses approvals through other channels and records them', async () => {
    const app = await newApp('channels', (c) => {
      c.apps.hello.environments.production.approvalChannels = ['slack'];
    });
    await app.toGate('1.6.0');
    const r = await app.run('approve', app.name, '1.6.0', '--as', 'alice');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('slack');
    const s = await app.status('1.6.0');
    expect(s.approvals.given).toEqual([]);
    // The signature held, so the refusal names alice and the channel her proof came through.
    expect(s.approvals.refused.at(-1)).toMatchObject({ by: 'alice', via: 'ssh' });
  });
});
