/**
 * (g) The dashboard in a real browser (Debian's Chromium through playwright-core) with 100 apps × 3
 *     environments: how soon a fresh page paints and shows the whole grid, and how soon an approval made with
 *     the CLI shows on an open page.
 *
 * The config has --apps apps (100), each with `dev` → `staging` → `production`. Every one of the 300
 * environments gets a real environment workflow without deploying anything (300 app processes would not fit
 * on the machine): each is frozen and unfrozen once, signed like the CLI does, so the grid has 300 cells read
 * from 300 running environment workflows, showing "nothing deployed". Ten apps have a release waiting at
 * `dev`'s approval gate (it needs more approvals than the benchmark gives), so the page also shows ten cards.
 * `shipgate ui` runs as its own process (read-only), as a person would start it.
 *
 * First paint: --loads fresh page loads (a new browser context each, so nothing is cached): the Performance
 * API's `first-contentful-paint`, and the time from navigation start until the grid's 300 cells are in the
 * DOM (a MutationObserver installed before the page's script runs). The skeleton paints before any data, so the
 * second figure is the one a person waits for.
 *
 * Live update: on one open page, --approvals approvals of the same release by different people, each with the
 * CLI as a separate process; a MutationObserver on the page stamps the moment the approver's line appears in
 * the release's card. Latency is counted from the CLI process's exit (what a person sees as "done") and from
 * its start.
 */
import { spawn } from 'node:child_process';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/browser/chromium.js';
import { freePort } from '../src/temporal/ports.js';
import {
  BIN,
  cliEnv,
  HELLO_SOURCE,
  pool,
  sleep,
  startStack,
  until,
  type Cleanup,
  type Stack,
} from './lib/stack.js';
import { ms, percentile, summarize, type ResultRow } from './lib/stats.js';

const GOAL_MS = 1000;
const ENVS = ['dev', 'staging', 'production'] as const;
const WAITING_APPS = 10;
const RELEASER = 'dave';
const FREEZER = 'dave';
const FIRST_PORT = 43_000;

const appName = (i: number) => `svc-${String(i).padStart(3, '0')}`;
const approver = (i: number) => `approver-${i}`;

export interface DashboardBenchOptions {
  apps: number;
  loads: number;
  approvals: number;
  log: (line: string) => void;
}

export function dashboardConfig(apps: number, approvers: number) {
  const reviewers = Array.from({ length: approvers + 1 }, (_, i) => approver(i));
  return {
    groups: { reviewers, 'release-managers': [RELEASER] },
    apps: Object.fromEntries(
      Array.from({ length: apps }, (_, i) => [
        appName(i),
        {
          build: { kind: 'local', source: HELLO_SOURCE },
          environments: Object.fromEntries(
            ENVS.map((env, e) => [
              env,
              {
                ...(e > 0 ? { after: ENVS[e - 1] } : {}),
                target: { kind: 'local', port: FIRST_PORT + i * ENVS.length + e },
                // One approval more than the benchmark gives: a release waits at dev's gate throughout.
                approvals: [{ group: 'reviewers', count: reviewers.length }],
              },
            ]),
          ),
        },
      ]),
    ),
  };
}

/** Runs the compiled CLI as a person would; resolves with its exit time and code. */
function runCli(
  stack: Stack,
  args: string[],
): Promise<{ startedAt: number; exitedAt: number; code: number; err: string }> {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [BIN, ...args, '--address', stack.server.address], {
    env: { ...process.env, ...cliEnv(stack.home) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve({ startedAt, exitedAt: Date.now(), code: code ?? -1, err }));
  });
}

/** `shipgate ui` as its own process (stopped by `cleanup`); resolves with its URL once it listens. */
export async function startUiProcess(
  cleanup: Cleanup,
  stack: Stack,
  port?: number,
): Promise<{ url: string; pid: number }> {
  port ??= await freePort();
  const child = spawn(
    process.execPath,
    [BIN, 'ui', '--config', stack.configFile, '--address', stack.server.address, '--port', String(port)],
    { env: { ...process.env, ...cliEnv(stack.home) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanup.add('stop shipgate ui', async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  await until(
    'shipgate ui to listen',
    () => /shipgate ui: http/.test(out) || child.exitCode !== null,
    60_000,
    50,
  );
  const m = /shipgate ui: (http:\/\/\S+)/.exec(out);
  if (!m) throw new Error(`shipgate ui did not start:\n${out}`);
  return { url: m[1]!, pid: child.pid! };
}

/** The dashboard's own figure for its last read of Temporal (GET /metrics). */
async function passSeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^shipgate_dashboard_pass_seconds (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/**
 * Installed before the page's own script: the moment the grid holds `cells` cells, on the page's clock. A string,
 * not a function: tsx would wrap a function's inner helpers in a `__name` call the page does not have.
 */
const gridWatch = (cells: number) => `
  new MutationObserver(() => {
    if (window.__gridAt === undefined && document.querySelectorAll('td[data-cell]').length >= ${cells})
      window.__gridAt = performance.now();
  }).observe(document, { childList: true, subtree: true });
`;

export async function dashboardBenchmark(
  cleanup: Cleanup,
  opts: DashboardBenchOptions,
): Promise<ResultRow[]> {
  const { log, apps } = opts;
  const cells = apps * ENVS.length;
  const people = [RELEASER, ...Array.from({ length: opts.approvals + 1 }, (_, i) => approver(i))];
  log(`dashboard: dev server and worker with ${apps} apps × ${ENVS.length} environments`);
  const stack = await startStack(cleanup, 'dashboard', dashboardConfig(apps, opts.approvals), people);

  log(`dashboard: ${cells} environment workflows (freeze and unfreeze each)`);
  const until1h = new Date(Date.now() + 3_600_000).toISOString();
  const envs = Array.from({ length: apps }, (_, i) => ENVS.map((env) => ({ app: appName(i), env }))).flat();
  await pool(envs, 8, async ({ app, env }) => {
    await stack.sg.freeze({ app, env, until: until1h, reason: 'bench', prove: stack.prove(FREEZER) });
    await stack.sg.unfreeze({ app, env, prove: stack.prove(FREEZER) });
  });
  log(`dashboard: ${WAITING_APPS} releases to dev's approval gate`);
  await pool(
    Array.from({ length: Math.min(WAITING_APPS, apps) }, (_, i) => appName(i)),
    5,
    (app) =>
      stack.sg.release({
        app,
        version: '1.0.0',
        commit: 'bench',
        branch: 'main',
        prove: stack.prove(RELEASER),
      }),
  );
  const waitingQuery = `WorkflowType = 'releaseWorkflow' AND ExecutionStatus = 'Running' AND ShipgateStage = 'awaiting-approval'`;
  await until(
    'the releases at the gate',
    async () => (await stack.client.workflow.count(waitingQuery)).count >= Math.min(WAITING_APPS, apps),
    120_000,
    250,
  );

  const ui = await startUiProcess(cleanup, stack);
  log(`dashboard: shipgate ui at ${ui.url}`);
  const browser = await launchChromium();
  cleanup.add('close Chromium', () => browser.close());
  // The first load warms the server's state (its first read of Temporal happens before it listens).
  const warm = await browser.newContext();
  await (await warm.newPage()).goto(ui.url);
  await warm.close();

  log(`dashboard: ${opts.loads} fresh page loads`);
  const fcp: number[] = [];
  const grid: number[] = [];
  for (let i = 0; i < opts.loads; i++) {
    const context = await browser.newContext();
    await context.addInitScript({ content: gridWatch(cells) });
    const page = await context.newPage();
    await page.goto(ui.url);
    await page.waitForFunction(
      () => (window as unknown as { __gridAt?: number }).__gridAt !== undefined,
      null,
      {
        timeout: 60_000,
      },
    );
    const t = await page.evaluate(() => ({
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
      grid: (window as unknown as { __gridAt: number }).__gridAt,
    }));
    fcp.push(t.fcp);
    grid.push(t.grid);
    await context.close();
  }

  log(`dashboard: ${opts.approvals} CLI approvals seen on an open page`);
  const context = await browser.newContext();
  const page: Page = await context.newPage();
  await page.goto(ui.url);
  const release = `release/${appName(0)}/1.0.0`;
  await page.waitForSelector(`article[data-release="${release}"]`, { timeout: 60_000 });
  await page.evaluate((id) => {
    const w = window as unknown as { __expect: string | null; __seenAt: number | null };
    w.__expect = null;
    w.__seenAt = null;
    new MutationObserver(() => {
      if (!w.__expect || w.__seenAt !== null) return;
      const card = document.querySelector(`article[data-release="${id}"]`);
      if (card?.textContent?.includes(w.__expect)) w.__seenAt = Date.now();
    }).observe(document.getElementById('waiting')!, { childList: true, subtree: true, characterData: true });
  }, release);
  const fromExit: number[] = [];
  const fromStart: number[] = [];
  const passes: number[] = [];
  for (let i = 0; i < opts.approvals; i++) {
    const who = approver(i);
    await page.evaluate((text) => {
      const w = window as unknown as { __expect: string | null; __seenAt: number | null };
      w.__seenAt = null;
      w.__expect = text;
    }, `${who} via ssh`);
    const key = stack.keys[who]!.file;
    const r = await runCli(stack, ['approve', appName(0), '1.0.0', '--as', who, '--key', key]);
    if (r.code !== 0) throw new Error(`approve as ${who} exited ${r.code}: ${r.err}`);
    await page.waitForFunction(
      () => (window as unknown as { __seenAt: number | null }).__seenAt !== null,
      null,
      {
        timeout: 60_000,
        polling: 50,
      },
    );
    const seenAt = await page.evaluate(() => (window as unknown as { __seenAt: number }).__seenAt);
    fromExit.push(seenAt - r.exitedAt);
    fromStart.push(seenAt - r.startedAt);
    passes.push((await passSeconds(ui.url)) * 1000);
    // Spread the approvals over the collector's interval, as people's clicks are.
    await sleep(300 + ((i * 137) % 500));
  }
  await context.close();

  const row = (figure: string, samples: number[], goal: string | null, note = ''): ResultRow => {
    const s = summarize(samples);
    const met = goal === null ? '' : s.median < GOAL_MS ? `goal ${goal}: met` : `goal ${goal}: MISSED`;
    return {
      bench: 'dashboard',
      figure,
      n: s.n,
      median: ms(s.median),
      p95: ms(s.p95),
      ratio: [met, note].filter(Boolean).join('; '),
      data: { median: s.median, p95: s.p95, p50: percentile(samples, 50) },
    };
  };
  const where = `${apps} apps × ${ENVS.length} envs`;
  return [
    row(`first contentful paint (${where})`, fcp, '< 1 s (p50)'),
    row(`all ${cells} grid cells in the DOM`, grid, '< 1 s (p50)', 'from navigation start'),
    row('approval on the page, from the CLI exit', fromExit, '< 1 s (p50)', 'MutationObserver'),
    row('approval on the page, from the CLI start', fromStart, null, 'includes the CLI run'),
    row("dashboard's environment pass", passes, null, 'shipgate_dashboard_pass_seconds'),
  ];
}
