/**
 * Writes the README's dashboard pictures (docs/images/dashboard-grid.png, -timeline.png, -dora.png) from a real
 * run: a dev server, a worker, `shipgate ui` and Debian's Chromium (playwright-core), signed in as alice through
 * a real OpenID provider on loopback (the browser tests' oidc-provider). Nothing on the page is staged: three
 * apps are released, approved, rolled back by hand and automatically (a `-bad` build fails production's smoke
 * check), one release waits at production's gate, and an environment is frozen.
 *
 *   npx tsx scripts/screenshots.ts [--out docs/images]
 *
 * Needs a current build (`npm run build`) and chromium (scripts/setup.sh). Takes a few minutes.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '../test/browser/chromium.js';
import { startUiProcess } from '../bench/dashboard.js';
import { startOidcProvider } from '../test/helpers/oidc-provider.js';
import { freePort } from '../src/temporal/ports.js';
import type { ShipgateClient } from '../src/client.js';
import { Cleanup, HELLO_SOURCE, ROOT, startStack, until } from '../bench/lib/stack.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/images' } } });
const OUT = path.resolve(ROOT, values.out);
const SECRET_ENV = 'SHIPGATE_SCREENSHOT_OIDC_SECRET';
const APPS = ['checkout', 'payments', 'search'] as const;

const log = (line: string) => process.stderr.write(`screenshots: ${line}\n`);

async function main(cleanup: Cleanup): Promise<void> {
  const uiPort = await freePort();
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  const provider = await startOidcProvider({ redirectUris: [`${uiUrl}/auth/callback`] });
  cleanup.add('stop the OpenID provider', () => provider.close());

  const ports = new Set<number>();
  const port = async () => {
    for (;;) {
      const p = await freePort();
      if (!ports.has(p)) return (ports.add(p), p);
    }
  };
  const apps: Record<string, unknown> = {};
  for (const app of APPS)
    apps[app] = {
      build: { kind: 'local', source: HELLO_SOURCE },
      environments: {
        staging: {
          branches: ['main'],
          target: { kind: 'local', port: await port() },
          smoke: [{ path: '/version', json: { version: '{{version}}' } }],
        },
        production: {
          after: 'staging',
          branches: ['main'],
          target: { kind: 'local', port: await port() },
          approvals: [{ group: 'team-leads', count: 2 }],
          windowOverride: { group: 'release-managers' },
          smoke: [{ path: '/smoke', status: 200 }],
        },
      },
    };
  const config = {
    groups: { 'team-leads': ['alice', 'bob', 'carol'], 'release-managers': ['dave'] },
    ui: { oidc: { issuer: provider.issuer, clientId: provider.clientId, clientSecretEnv: SECRET_ENV } },
    people: { alice: { oidc: 'alice@example.com' } },
    apps,
  };
  log('starting a dev server and a worker');
  const stack = await startStack(cleanup, 'screenshots', config, ['alice', 'bob', 'carol', 'dave']);
  const sg = stack.sg;

  const release = async (app: string, version: string, approvers: [string, string?][]) => {
    log(`${app} ${version}`);
    await sg.release({ app, version, commit: commitOf(version), branch: 'main', prove: stack.prove('dave') });
    await waitFor(sg, app, version, (s) => s.stage === 'awaiting-approval' || s.state !== 'running');
    for (const [by, comment] of approvers)
      await sg.approve({ app, version, prove: stack.prove(by), ...(comment ? { comment } : {}) });
  };
  const ship = async (app: string, version: string, comment?: string) => {
    await release(app, version, [['alice', comment], ['bob']]);
    await waitFor(sg, app, version, (s) => s.state !== 'running');
  };
  const rollback = async (app: string, by: string, reason: string) => {
    log(`${app}: rollback by ${by}`);
    const before = (await sg.environmentState(app, 'production'))?.ledger.length ?? 0;
    await sg.rollback({ app, env: 'production', reason, prove: stack.prove(by) });
    await until(
      `${app} rolled back`,
      async () => {
        const ledger = (await sg.environmentState(app, 'production'))?.ledger ?? [];
        return ledger.length > before && ledger.every((e) => e.outcome !== 'running');
      },
      120_000,
      250,
    );
  };

  await ship('checkout', '1.4.0', 'release notes reviewed');
  await ship('checkout', '1.5.0');
  await rollback('checkout', 'carol', 'p99 checkout latency doubled after 1.5.0');
  await ship('checkout', '1.5.1', 'fixes the connection pool size');
  await ship('checkout', '1.6.0-bad'); // fails production's smoke check: rolled back automatically
  await ship('payments', '2.3.0');
  await ship('payments', '2.3.1');
  await ship('search', '0.9.0');
  await release('search', '0.9.1', [['carol', 'canary looks clean']]);
  const until2d = new Date(Date.now() + 2 * 86_400_000).toISOString();
  await sg.freeze({
    app: 'payments',
    env: 'production',
    until: until2d,
    reason: 'quarter-end close',
    prove: stack.prove('dave'),
  });

  process.env[SECRET_ENV] = provider.clientSecret;
  const ui = (await startUiProcess(cleanup, stack, uiPort)).url;
  log(`shipgate ui at ${ui}`);
  const browser = await launchChromium();
  cleanup.add('close Chromium', () => browser.close());
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(`${ui}/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Account').fill('alice');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${ui}/`);
  await page.waitForSelector('article[data-release="release/search/0.9.1"]');
  await page.waitForFunction(() => document.querySelectorAll('td[data-cell]').length === 6);

  // The grid with the waiting release under it.
  const grid = await page.locator('main > section').nth(0).boundingBox();
  const waiting = await page.locator('main > section').nth(1).boundingBox();
  await page.screenshot({
    path: path.join(OUT, 'dashboard-grid.png'),
    clip: { x: 0, y: 0, width: 1100, height: waiting!.y + waiting!.height - 0 + 8 },
  });
  log(`wrote dashboard-grid.png (grid at ${Math.round(grid!.y)} px)`);

  await page.locator('td[data-cell="checkout/production"] button.cell').click();
  await page.waitForSelector('#timeline li.rolled-back, #timeline li.rollback');
  await page.waitForFunction(() => document.querySelectorAll('#timeline li').length >= 6);
  await page.locator('#env-section').scrollIntoViewIfNeeded();
  await page.locator('#timeline').screenshot({ path: path.join(OUT, 'dashboard-timeline.png') });
  log('wrote dashboard-timeline.png');
  await page.getByRole('combobox', { name: 'Period' }).selectOption('24h');
  await page.waitForFunction(() => document.querySelectorAll('#dora figure').length === 4);
  await page.locator('#timeline').click({ position: { x: 1, y: 1 } }); // the select's focus ring off the picture
  await page.waitForTimeout(500);
  await page.locator('#dora').screenshot({ path: path.join(OUT, 'dashboard-dora.png') });
  log('wrote dashboard-dora.png');
}

const commitOf = (version: string) => Buffer.from(version).toString('hex').padEnd(12, '0').slice(0, 12);

async function waitFor(
  sg: ShipgateClient,
  app: string,
  version: string,
  pred: (s: Awaited<ReturnType<ShipgateClient['status']>>) => boolean,
): Promise<void> {
  await until(`${app} ${version}`, async () => pred(await sg.status(app, version)), 300_000, 250);
}

const cleanup = new Cleanup();
let code = 0;
try {
  await main(cleanup);
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  code = 1;
} finally {
  await cleanup.run(log);
}
process.exit(code);
