import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import { freePort } from '../../src/temporal/ports.js';
import { eventually, startStack, type App, type ExampleConfig, type Stack } from '../helpers/fixture.js';

interface StatusJson {
  state: string;
  reason: string | null;
  environments: Record<string, { state: string }>;
}

/** What a status page stand-in answers on one path: healthy JSON, an error status, or a page that is not JSON. */
type PageMode = 'healthy' | 'error-503' | 'html';

describe('design notes: release policy (dev server, worker process, local target)', () => {
  let stack: Stack;
  let statusPage: http.Server;
  let statusPageUrl = '';
  const modes = new Map<string, PageMode>();

  const audit = (app: App) =>
    createJsonlAuditStore(path.join(stack.home, 'audit', 'audit.jsonl')).read({ app: app.name });

  /** A status page stand-in over real HTTP; each path answers as its mode says. */
  const answer = (mode: PageMode, res: http.ServerResponse) => {
    if (mode === 'html') {
      res.setHeader('content-type', 'text/html');
      return res.end('<html><body>All systems operational: none</body></html>');
    }
    res.statusCode = mode === 'error-503' ? 503 : 200;
    res.setHeader('content-type', 'application/json');
    // The error answer carries a healthy-looking body: only its status may count.
    res.end(JSON.stringify({ status: { indicator: 'none' } }));
  };

  const gatedOn = (url: string) => (c: ExampleConfig) => {
    c.apps.hello.environments.production.approvals = [];
    c.apps.hello.environments.production.gates = [
      { name: 'statuspage', url, field: 'status.indicator', equals: 'none', interval: '1s', timeout: '10m' },
    ];
  };

  beforeAll(async () => {
    statusPage = http.createServer((req, res) => answer(modes.get(req.url ?? '') ?? 'healthy', res));
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

  /**
   * Releases 1.0.0 of `app`, whose production gate fails as `problem` describes, and checks the release is
   * held in awaiting-gate with that reason on record and nothing deployed; then `heal()` and it goes ahead.
   */
  const heldByGate = async (app: App, problem: RegExp, heal: () => Promise<void> | void) => {
    const r = await app.run(...app.releaseArgs('1.0.0'));
    expect(r.code, r.stderr).toBe(0);
    const held = await app.waitFor('1.0.0', (s) => s.stage === 'awaiting-gate');
    expect(held.blockedBy).toBe('gate statuspage');
    // The release records why it is held in the audit log (written in the background, so wait for it).
    const record = await eventually('the hold is in the audit log', async () =>
      (await audit(app)).find((e) => e.type === 'held'),
    );
    expect(record.reason).toMatch(problem);
    expect(await app.ledger()).toEqual([]);
    await heal();
    const done = await app.ended('1.0.0');
    expect(done.state).toBe('succeeded');
    expect(await app.serving()).toBe('1.0.0');
  };

  it('an external gate fails closed when its URL is unreachable (real closed port), and passes once it answers', async () => {
    const port = await freePort();
    const app = await stack.addApp('gate-unreachable', gatedOn(`http://127.0.0.1:${port}/status.json`));
    let late: http.Server | undefined;
    await heldByGate(app, /unreachable/, async () => {
      late = http.createServer((_req, res) => answer('healthy', res));
      await new Promise<void>((r) => late!.listen(port, '127.0.0.1', r));
    });
    late?.close();
  });

  it('an external gate fails closed on a non-2xx answer, even with a healthy-looking body (real HTTP stand-in)', async () => {
    const route = '/error/status.json';
    modes.set(route, 'error-503');
    const app = await stack.addApp('gate-error', gatedOn(`${statusPageUrl}${route}`));
    await heldByGate(app, /answered 503/, () => void modes.set(route, 'healthy'));
  });

  it('an external gate fails closed on an answer that is not JSON (real HTTP stand-in)', async () => {
    const route = '/html/status.json';
    modes.set(route, 'html');
    const app = await stack.addApp('gate-html', gatedOn(`${statusPageUrl}${route}`));
    await heldByGate(app, /did not answer JSON/, () => void modes.set(route, 'healthy'));
  });

  it('a config change does not alter a running release: its approval rules are the snapshot taken at its start', async () => {
    const app = await stack.addApp('snapshot');
    await app.toGate('1.0.0');
    // From now on production needs one team lead instead of two.
    await app.writeConfig((c) => {
      c.apps.hello.environments.production.approvals = [{ group: 'team-leads', count: 1 }];
    });
    const first = await app.run('approve', app.name, '1.0.0', '--as', 'alice', '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(first.json).toMatchObject({ met: false, tally: [{ group: 'team-leads', count: 2, have: 1 }] });
    const s = await app.status('1.0.0');
    expect(s.stage).toBe('awaiting-approval');
    expect(s.approvals.required).toEqual([{ group: 'team-leads', count: 2 }]);
    await app.approve('1.0.0', 'bob');
    expect((await app.ended('1.0.0')).state).toBe('succeeded');
    // A release started after the change takes the new rule: one approval is enough.
    await app.toGate('1.1.0');
    expect((await app.status('1.1.0')).approvals.required).toEqual([{ group: 'team-leads', count: 1 }]);
    const only = await app.run('approve', app.name, '1.1.0', '--as', 'carol', '--json');
    expect(only.json).toMatchObject({ met: true });
    expect((await app.ended('1.1.0')).state).toBe('succeeded');
    expect(await app.serving()).toBe('1.1.0');
  });

  it('a failed smoke test on staging rolls staging back automatically: the release fails and staging serves the previous version', async () => {
    const app = await stack.addApp('staging-rollback', (c) => {
      c.apps.hello.environments.production.approvals = [];
      // Staging smoke-tests /smoke too, so a `-bad` build fails there.
      c.apps.hello.environments.staging.smoke = [{ path: '/smoke', status: 200 }];
    });
    await app.ship('1.0.0');
    const r = await app.run(...app.releaseArgs('1.1.0-bad', '--wait', 'staging', '--json'));
    expect(r.code, r.stderr).toBe(1);
    const final = r.json as StatusJson;
    expect(final.state).toBe('failed');
    expect(final.environments.staging!.state).toBe('rolled-back');
    expect(final.environments.production!.state).toBe('pending');
    expect(final.reason).toContain('rolled back to 1.0.0');
    expect(await app.serving('staging')).toBe('1.0.0');
    expect(await app.serving('production')).toBe('1.0.0');
    const history = (await app.run('history', app.name, 'staging', '--json')).json as {
      action: string;
      version: string;
      outcome: string;
      fromVersion: string | null;
      reason: string | null;
    }[];
    expect(history[0]).toMatchObject({
      action: 'rollback',
      version: '1.0.0',
      fromVersion: '1.1.0-bad',
      outcome: 'succeeded',
    });
    expect(history[0]!.reason).toContain('automatic');
    expect(history[1]).toMatchObject({ action: 'deploy', version: '1.1.0-bad', outcome: 'rolled-back' });
    expect((await app.ledger('production')).map((e) => e.version)).toEqual(['1.0.0']);
  });
});
