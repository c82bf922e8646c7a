/**
 * The dashboard end to end, read-only: a real dev server, worker and `shipgate ui` process, the CLI doing the
 * work, and the page's JSON API, event stream and /metrics read over real HTTP. Each check compares the
 * dashboard with what the CLI (history, status) or the environment's own ledger says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import parsePrometheus, { type PromFamily } from 'parse-prometheus-text-format';
import { eventually, startStack, type Stack } from '../helpers/fixture.js';
import { ROOT } from '../helpers/processes.js';
import { doraKeys } from '../../src/policy/dora.js';
import type { Cell, DashboardState, ReleaseView, TimelineRow } from '../../src/dashboard/view.js';
import type { StatePatch } from '../../src/dashboard/collector.js';
import { EventStream, startUi, type UiProcess } from './ui-process.js';

const XSS_COMMENT = '<script>alert("comment")</script>';
const XSS_REASON = '"><img src=x onerror=alert(1)>';

let stack: Stack;
let ui: UiProcess;

const get = async <T>(p: string): Promise<T> => {
  const res = await fetch(`${ui.url}${p}`);
  expect(res.status, p).toBe(200);
  return (await res.json()) as T;
};
const state = () => get<DashboardState>('/api/state');
const cell = async (env: string) => (await state()).cells[`hello/${env}`]!;
/** Polls the API until the cell satisfies `pred` (the collector reads Temporal every 500 ms). */
const cellWhen = (env: string, what: string, pred: (c: Cell) => boolean) =>
  eventually(what, async () => {
    const c = await cell(env);
    return pred(c) ? c : undefined;
  });
/**
 * /metrics through the parser: the families with their types, and every sample with its labels. The parser
 * folds a histogram's series into one sample, losing their labels (it handles unlabelled histograms only), so
 * the samples are parsed a second time with the histograms' TYPE lines left out: each `_bucket`, `_sum` and
 * `_count` series then parses as a labelled sample of its own.
 */
const metrics = async (): Promise<{ families: PromFamily[]; samples: PromFamily[] }> => {
  const res = await fetch(`${ui.url}/metrics`);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return {
    families: parsePrometheus(text),
    samples: parsePrometheus(text.replace(/^# TYPE \S+ histogram\n/gm, '')),
  };
};
const sample = (m: { samples: PromFamily[] }, name: string, labels: Record<string, string>) =>
  // A series interleaved with others (a histogram's, per label set) parses as several families of one name.
  m.samples
    .filter((f) => f.name === name)
    .flatMap((f) => f.metrics)
    .find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
const value = (m: { samples: PromFamily[] }, name: string, labels: Record<string, string>) =>
  Number(sample(m, name, labels)?.value);

beforeAll(async () => {
  stack = await startStack();
  ui = await startUi(stack, ['--temporal-ui-url', stack.server.uiUrl]);
});

afterAll(async () => {
  await ui?.stop();
  await stack?.stop();
});

describe('shipgate ui (read-only)', () => {
  it('serves the page with a strict CSP, on loopback, read-only: /api/me has no login and actions are refused', async () => {
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(`${ui.url}/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    // No inline script: the only script is app.js, served as a file.
    expect(html).toContain('<script type="module" src="/app.js"></script>');
    expect(html.match(/<script/g)).toHaveLength(1);
    const js = await fetch(`${ui.url}/app.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toContain('EventSource');

    expect(await get('/api/me')).toEqual({ login: null, readOnly: true });
    const refused = await fetch(`${ui.url}/api/actions/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ app: 'hello', version: '1.0.0' }),
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toMatch(/read-only/);
  });

  it('the grid shows what history and status show: serving version, since, by whom, approvers, health', async () => {
    await stack.writeConfig(() => {}); // the example config as it is
    const app = { run: (...a: string[]) => stack.run(a) };
    let r = await app.run(
      'release',
      'hello',
      '1.0.0',
      '--commit',
      'c-1.0.0',
      '--branch',
      'main',
      '--actor',
      'dave',
    );
    expect(r.code, r.stderr).toBe(0);
    const waiting = await eventually('1.0.0 waits for approval on the page', async () => {
      const s = await state();
      const rel = s.releases['release/hello/1.0.0'];
      return rel?.stage === 'awaiting-approval' ? { s, rel } : undefined;
    });
    // What waits at production's gate, and who can still approve it (dave started it and is no team lead).
    expect(waiting.rel).toMatchObject({
      env: 'production',
      actor: 'dave',
      rules: [{ group: 'team-leads', count: 2, have: 0 }],
      eligible: ['alice', 'bob', 'carol'],
      commands: { approve: "shipgate approve hello 1.0.0 --as <you> --comment '<comment>'" },
    });
    expect(waiting.rel.link).toBe(
      `${stack.server.uiUrl}/namespaces/default/workflows/release%2Fhello%2F1.0.0`,
    );
    expect(waiting.s.cells['hello/production']!.waiting).toEqual(['release/hello/1.0.0']);
    expect(waiting.s.cells['hello/staging']!).toMatchObject({
      health: 'serving',
      current: { version: '1.0.0' },
    });

    for (const by of ['alice', 'bob']) {
      r = await app.run('approve', 'hello', '1.0.0', '--as', by);
      expect(r.code, r.stderr).toBe(0);
    }
    const prod = await cellWhen(
      'production',
      '1.0.0 serves production',
      (c) => c.current?.version === '1.0.0' && c.health === 'serving',
    );
    const history = await stack.run(['history', 'hello', 'production', '--json']);
    const [row] = history.json as { version: string; actor: string; approvers: string[]; at: string }[];
    expect(prod.current).toMatchObject({ version: row!.version, by: row!.actor, approvers: row!.approvers });
    expect(prod.current!.approvers.sort()).toEqual(['alice', 'bob']);
    const env = await stack.sg.environmentState('hello', 'production');
    expect(prod.current!.since).toBe(env!.current!.since);
    expect(prod.rollbackCommand).toBe("shipgate rollback hello production --as <you> --reason '<why>'");
    // The release ended: it no longer waits anywhere.
    await eventually('1.0.0 leaves the waiting list', async () =>
      (await state()).releases['release/hello/1.0.0'] ? undefined : true,
    );
    const status = await stack.run(['status', 'hello', '1.0.0', '--json']);
    expect((status.json as { state: string }).state).toBe('succeeded');
  });

  it('pushes an approval made with the CLI over the event stream, with who approved through which channel', async () => {
    let r = await stack.run([
      'release',
      'hello',
      '1.1.0',
      '--commit',
      'c-1.1.0',
      '--branch',
      'main',
      '--actor',
      'dave',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const events = await EventStream.open(ui.url);
    try {
      expect(events.headers!.get('content-type')).toMatch(/^text\/event-stream/);
      expect(events.headers!.get('content-security-policy')).toContain("default-src 'none'");
      const atGate = (e: { event: string; data: unknown }) => {
        const rel =
          e.event === 'snapshot'
            ? (e.data as DashboardState).releases['release/hello/1.1.0']
            : (e.data as StatePatch).releases['release/hello/1.1.0'];
        return rel?.stage === 'awaiting-approval';
      };
      await events.next(atGate);
      const before = events.events.length;
      r = await stack.run(['approve', 'hello', '1.1.0', '--as', 'alice', '--comment', XSS_COMMENT]);
      expect(r.code, r.stderr).toBe(0);
      const pushed = await events.next(
        (e) =>
          e.event === 'patch' &&
          ((e.data as StatePatch).releases['release/hello/1.1.0']?.approved.length ?? 0) > 0,
      );
      expect(events.events.indexOf(pushed)).toBeGreaterThanOrEqual(before);
      const rel = (pushed.data as StatePatch).releases['release/hello/1.1.0'] as ReleaseView;
      // As status shows it: alice, through the SSH-signed CLI, with her comment verbatim (it is data, not markup).
      const status = (await stack.run(['status', 'hello', '1.1.0', '--json'])).json as {
        approvals: { given: { by: string; via: string; comment?: string }[] };
      };
      expect(rel.approved).toEqual(
        status.approvals.given.map((g) =>
          expect.objectContaining({ by: g.by, via: g.via, comment: g.comment }),
        ),
      );
      expect(rel.approved[0]).toMatchObject({ by: 'alice', via: 'ssh', comment: XSS_COMMENT });
      expect(rel.rules).toEqual([{ group: 'team-leads', count: 2, have: 1 }]);
      expect(rel.eligible).toEqual(['bob', 'carol']);
    } finally {
      events.close();
    }
  });

  it('renders free text as data: XSS in comments and reasons reaches the JSON verbatim, never the HTML', async () => {
    const raw = await (await fetch(`${ui.url}/api/state`)).text();
    expect(JSON.parse(raw).releases['release/hello/1.1.0'].approved[0].comment).toBe(XSS_COMMENT);
    // JSON escapes nothing a browser would run: the page never parses it as HTML (below).
    const html = await (await fetch(`${ui.url}/`)).text();
    expect(html).not.toContain('alert(');
    const api = await fetch(`${ui.url}/api/state`);
    expect(api.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
    // The page's script builds every node with textContent/setAttribute: no HTML parsing sink at all.
    for (const file of [
      path.join(ROOT, 'src/dashboard/assets/app.ts'),
      path.join(ROOT, 'build/dashboard/assets/app.js'),
    ]) {
      const code = (await readFile(file, 'utf8')).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const sink of [
        'innerHTML',
        'outerHTML',
        'insertAdjacentHTML',
        'document.write',
        'DOMParser',
        'eval(',
        'new Function',
      ])
        expect(code, `${file} uses ${sink}`).not.toContain(sink);
    }
  });

  it('the timeline, /metrics and DORA match the ledger after a manual and an automatic rollback', async () => {
    let r = await stack.run(['approve', 'hello', '1.1.0', '--as', 'bob']);
    expect(r.code, r.stderr).toBe(0);
    await cellWhen(
      'production',
      '1.1.0 serves',
      (c) => c.current?.version === '1.1.0' && c.health === 'serving',
    );
    r = await stack.run([
      'rollback',
      'hello',
      'production',
      '--as',
      'alice',
      '--reason',
      XSS_REASON,
      '--wait',
    ]);
    expect(r.code, r.stderr).toBe(0);
    await cellWhen('production', 'the rollback to 1.0.0 shows', (c) => c.current?.version === '1.0.0');

    // A bad build fails production's verification and rolls back on its own.
    r = await stack.run([
      'release',
      'hello',
      '1.2.0-bad',
      '--commit',
      'c-1.2.0',
      '--branch',
      'main',
      '--actor',
      'dave',
    ]);
    expect(r.code, r.stderr).toBe(0);
    await eventually('1.2.0-bad at the gate', async () =>
      (await state()).releases['release/hello/1.2.0-bad']?.stage === 'awaiting-approval' ? true : undefined,
    );
    for (const by of ['alice', 'carol']) {
      r = await stack.run(['approve', 'hello', '1.2.0-bad', '--as', by]);
      expect(r.code, r.stderr).toBe(0);
    }
    const ledger = await eventually('the automatic rollback settled', async () => {
      const l = (await stack.sg.environmentState('hello', 'production'))?.ledger ?? [];
      return l.some((e) => e.automatic && e.action === 'rollback' && e.outcome !== 'running') ? l : undefined;
    });
    await cellWhen('production', '1.0.0 serves again', (c) => c.current?.version === '1.0.0' && !c.running);

    // Timeline: what history shows, newest first, with the automatic rollback's failed check and the reason.
    const { rows } = await eventually('the timeline has the automatic rollback', async () => {
      const t = await get<{ rows: TimelineRow[] }>('/api/timeline?app=hello&env=production');
      return t.rows.some((x) => x.automatic) ? t : undefined;
    });
    const history = (await stack.run(['history', 'hello', 'production', '--json'])).json as {
      version: string;
      action: string;
      outcome: string;
      reason: string | null;
      at: string;
    }[];
    expect(
      rows.map(({ version, action, outcome, reason, at }) => ({ version, action, outcome, reason, at })),
    ).toEqual(
      history.map(({ version, action, outcome, reason, at }) => ({ version, action, outcome, reason, at })),
    );
    const auto = rows.find((x) => x.automatic)!;
    expect(auto).toMatchObject({
      action: 'rollback',
      fromVersion: '1.2.0-bad',
      version: '1.0.0',
      actor: 'shipgate',
    });
    expect(auto.reason).toMatch(/verification of 1\.2\.0-bad on production failed/);
    expect(auto.link).toBe(`${stack.server.uiUrl}/namespaces/default/workflows/release%2Fhello%2F1.2.0-bad`);
    const manual = rows.find((x) => x.action === 'rollback' && !x.automatic)!;
    expect(manual).toMatchObject({ reason: XSS_REASON, actor: 'alice', fromVersion: '1.1.0' });

    // /metrics, parsed by an independent text-format parser, against the same ledger.
    const fam = await eventually('metrics saw both rollbacks', async () => {
      const f = await metrics();
      return sample(f, 'shipgate_rollbacks_total', { env: 'production', kind: 'automatic' }) ? f : undefined;
    });
    const settled = ledger.filter((e) => e.outcome !== 'running');
    const deploys = settled.filter((e) => e.action === 'deploy');
    // By whether each deploy passed verification: 1.0.0 and 1.1.0 did (1.1.0 was rolled back later), 1.2.0-bad not.
    for (const [outcome, served] of [
      ['succeeded', true],
      ['failed', false],
    ] as const) {
      const mine = deploys.filter((e) => (e.verifiedAt !== null) === served);
      const labels = { app: 'hello', env: 'production', outcome };
      expect(value(fam, 'shipgate_deploy_duration_seconds_count', labels), outcome).toBe(mine.length);
      expect(value(fam, 'shipgate_deploy_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(
        mine.length,
      );
      const seconds = mine.reduce(
        (s, e) => s + (Date.parse(e.endedAt!) - Date.parse(e.startedAt!)) / 1000,
        0,
      );
      expect(value(fam, 'shipgate_deploy_duration_seconds_sum', labels)).toBeCloseTo(seconds, 3);
    }
    expect(deploys.filter((e) => e.verifiedAt !== null).map((e) => e.version)).toEqual(['1.0.0', '1.1.0']);
    expect(value(fam, 'shipgate_rollbacks_total', { env: 'production', kind: 'manual' })).toBe(1);
    expect(value(fam, 'shipgate_rollbacks_total', { env: 'production', kind: 'automatic' })).toBe(1);
    expect(
      value(fam, 'shipgate_rollback_duration_seconds_count', { env: 'production', kind: 'manual' }),
    ).toBe(1);
    expect(value(fam, 'shipgate_environment_up', { app: 'hello', env: 'production', version: '1.0.0' })).toBe(
      1,
    );
    expect(value(fam, 'shipgate_approvals_waiting', { app: 'hello', env: 'production' })).toBe(0);
    expect(
      value(fam, 'shipgate_audit_degraded', { kind: 'environment', app: 'hello', name: 'production' }),
    ).toBe(0);
    const types = Object.fromEntries(fam.families.map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      shipgate_deploy_duration_seconds: 'HISTOGRAM',
      shipgate_rollbacks_total: 'COUNTER',
      shipgate_releases: 'GAUGE',
    });
    // Three releases ended while the dashboard watched: 1.0.0 and 1.1.0 succeeded, 1.2.0-bad rolled back.
    const ended = await eventually('1.2.0-bad ended', async () => {
      const m = await metrics();
      return value(m, 'shipgate_releases', { app: 'hello', state: 'rolled-back' }) === 1 ? m : undefined;
    });
    expect(value(ended, 'shipgate_releases', { app: 'hello', state: 'succeeded' })).toBe(2);

    // DORA over the last day, as the pure computation gives it on the ledger, with release starts from Temporal.
    const dora = await get<ReturnType<typeof doraKeys>>('/api/dora?app=hello&env=production&period=1d');
    // 1.0.0 and 1.1.0 served; 1.1.0 was rolled back by hand and 1.2.0-bad automatically: 2 of 3 changes failed.
    expect(dora).toMatchObject({
      deployments: 2,
      changes: 3,
      failures: 2,
      openIncidents: 0,
      leadTimeBasis: 'release-start',
    });
    expect(dora.changeFailureRate).toBeCloseTo(2 / 3);
    expect(dora.timeToRestoreMs).toBeGreaterThan(0);
    expect(dora.incidents.map((i) => [i.version, i.kind])).toEqual([
      ['1.1.0', 'manual'],
      ['1.2.0-bad', 'automatic'],
    ]);
    const recomputed = doraKeys(ledger, dora.period, {}, 30);
    expect(recomputed).toMatchObject({
      deployments: 2,
      changes: 3,
      failures: 2,
      timeToRestoreMs: dora.timeToRestoreMs,
    });
    expect((await fetch(`${ui.url}/api/dora?app=hello&env=production&period=forever`)).status).toBe(400);
    expect((await fetch(`${ui.url}/api/dora?app=hello&env=nowhere`)).status).toBe(404);
  });
});
