/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, against a real dev server, a
 * real worker, `shipgate ui` as a process and a real OpenID provider (oidc-provider on loopback, its own keys).
 * Each test clicks, types and reads the page the way a person does, and checks what it shows against the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort } from '../../src/temporal/ports.js';
import { startStack, type App, type Stack } from '../helpers/fixture.js';
import { startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { startUi, type UiProcess } from '../dashboard/ui-process.js';
import { launchChromium } from './chromium.js';

const SECRET_ENV = 'SHIPGATE_TEST_OIDC_SECRET';
const WAIT = { timeout: 90_000, interval: 200 };

let provider: OidcProvider;
let stack: Stack;
let ui: UiProcess;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  // The provider must know the dashboard's redirect URI before either starts: choose its port first.
  const port = await freePort();
  provider = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/auth/callback`] });
  stack = await startStack((c) => {
    const config = c as unknown as Record<string, unknown>;
    config.ui = {
      oidc: { issuer: provider.issuer, clientId: provider.clientId, clientSecretEnv: SECRET_ENV },
    };
    config.people = {
      alice: { oidc: 'alice@example.com' },
      bob: { oidc: 'b0b-subject-42' },
      mallory: { oidc: 'mallory@example.com' },
    };
  });
  // `shipgate ui` reads the client secret from the variable the config names, as in production.
  process.env[SECRET_ENV] = provider.clientSecret;
  ui = await startUi(stack, ['--port', String(port), '--temporal-ui-url', stack.server.uiUrl]);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await ui?.stop();
  await stack?.stop();
  await provider?.close();
});

async function newPage(options: Parameters<Browser['newContext']>[0] = {}): Promise<Page> {
  const context = await browser.newContext(options);
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${ui.url}/`);
  await waitText(page, '#live', 'live');
  return page;
}

/** Signs in as a person does: the page's Sign in link, the provider's own form, back on the dashboard. */
async function signedIn(user: string): Promise<Page> {
  const page = await newPage();
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${provider.issuer}/interaction/`));
  await page.getByLabel('Account').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${ui.url}/`);
  await waitText(page, '#who', `signed in as ${user}`);
  await waitText(page, '#live', 'live');
  return page;
}

const textOf = async (page: Page, selector: string) =>
  (await page
    .locator(selector)
    .first()
    .textContent({ timeout: 5000 })
    .catch(() => null)) ?? '';

function waitText(page: Page, selector: string, text: string): Promise<void> {
  return expect.poll(() => textOf(page, selector), WAIT).toContain(text);
}

const card = (app: App, version: string) => `article[data-release="release/${app.name}/${version}"]`;
const gridCell = (app: App, env: string) => `td[data-cell="${app.name}/${env}"]`;

async function statusJson(app: App, version: string) {
  const r = await app.run('status', app.name, version, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as {
    state: string;
    stage: string;
    approvals: {
      given: { by: string; via: string; comment?: string }[];
      refused: { by: string; via: string; reason: string }[];
    };
  };
}

async function historyJson(app: App, env: string) {
  const r = await app.run('history', app.name, env, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as {
    version: string;
    action: string;
    actor: string;
    approvers: string[];
    reason: string | null;
  }[];
}

/** Opens the environment's timeline and DORA section by choosing its cell in the grid. */
async function openCell(page: Page, app: App, env: string): Promise<void> {
  await page.locator(`${gridCell(app, env)} button.cell`).click();
  await waitText(page, '#env-title', `${app.name} / ${env}`);
}

describe('the dashboard in Chromium', () => {
  it('the grid and the waiting release show what history and status show; signed out, each action is a CLI command', async () => {
    const app = await stack.addApp('grid');
    await app.shipApproved('1.0.0');
    await app.toGate('1.1.0');
    const page = await newPage();

    const [row] = await historyJson(app, 'production');
    await waitText(page, gridCell(app, 'production'), row!.version);
    const prod = await textOf(page, gridCell(app, 'production'));
    expect(prod).toContain(`by ${row!.actor}`);
    expect(prod).toContain(`approved by ${row!.approvers.join(', ')}`);
    expect(prod).toContain('serving');
    expect(prod).toContain('1 waiting at the gate');
    await waitText(page, gridCell(app, 'staging'), '1.1.0');
    expect(await textOf(page, gridCell(app, 'staging'))).toContain('serving');

    const s = await statusJson(app, '1.1.0');
    expect(s.stage).toBe('awaiting-approval');
    await waitText(page, card(app, '1.1.0'), 'awaiting-approval');
    const c = await textOf(page, card(app, '1.1.0'));
    expect(c).toContain('started by dave');
    expect(c).toContain('Rules: team-leads 0/2');
    expect(c).toContain('Can still approve: alice, bob, carol (not dave, who started it)');
    // Signed out: the command to run, not a button.
    expect(c).toContain(`Run: shipgate approve ${app.name} 1.1.0 --as <you> --comment '<comment>'`);
    expect(await page.locator(card(app, '1.1.0')).getByRole('button').count()).toBe(0);
    await expect.poll(() => textOf(page, '#who')).toContain('Sign in to approve, reject and roll back here');
    // The release links to the Temporal UI.
    const href = await page
      .locator(card(app, '1.1.0'))
      .getByRole('link', { name: 'Open in the Temporal UI' })
      .getAttribute('href');
    expect(href).toBe(`${stack.server.uiUrl}/namespaces/default/workflows/release%2F${app.name}%2F1.1.0`);
  }, 240_000);

  it('signs in through the OpenID provider in the browser (code + PKCE); the session cookie is out of reach of scripts', async () => {
    const page = await newPage();
    const visited: string[] = [];
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) visited.push(f.url());
    });
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.href.startsWith(`${provider.issuer}/interaction/`));
    await page.getByLabel('Account').fill('alice');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${ui.url}/`);
    await waitText(page, '#who', 'signed in as alice');
    expect(visited.some((u) => u.startsWith(`${provider.issuer}/interaction/`))).toBe(true);
    const cookies = await page.context().cookies(ui.url);
    const session = cookies.find((k) => k.name === 'sg_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('sg_session');
  }, 120_000);

  it('approves from the page as alice and then bob (button, comment dialog): status says via web-oidc and the release goes on', async () => {
    const app = await stack.addApp('pageok');
    await app.toGate('1.0.0');
    for (const [user, comment] of [
      ['alice', 'checked the canary'],
      ['bob', ''],
    ] as const) {
      const page = await signedIn(user);
      const box = page.locator(card(app, '1.0.0'));
      await box.getByRole('button', { name: 'Approve 1.0.0' }).click();
      const dialog = page.getByRole('dialog', { name: `Approve ${app.name} 1.0.0` });
      await dialog.getByRole('textbox', { name: 'Comment (optional)' }).fill(comment);
      await dialog.getByRole('button', { name: 'Send' }).click();
      await expect.poll(() => dialog.isVisible(), WAIT).toBe(false);
      if (user === 'alice') await waitText(page, card(app, '1.0.0'), 'alice via web-oidc');
    }
    expect((await app.ended('1.0.0')).state).toBe('succeeded');
    const s = await statusJson(app, '1.0.0');
    expect(s.approvals.given.map((g) => [g.by, g.via, g.comment ?? null])).toEqual([
      ['alice', 'web-oidc', 'checked the canary'],
      ['bob', 'web-oidc', null],
    ]);
  }, 240_000);

  it('rolls back from the page with the reason dialog: the grid and the timeline show the restored version, history names alice', async () => {
    const app = await stack.addApp('pageroll');
    await app.shipApproved('1.0.0');
    await app.shipApproved('1.1.0');
    const page = await signedIn('alice');
    await openCell(page, app, 'production');
    await page.getByRole('button', { name: `Roll back ${app.name}/production` }).click();
    const dialog = page.getByRole('dialog', { name: `Roll back ${app.name}/production (now 1.1.0)` });
    // The reason is required: with none, the browser keeps the dialog open and nothing is sent.
    const reason = dialog.getByRole('textbox', { name: 'Reason' });
    const ledgerBefore = (await app.ledger()).length;
    await dialog.getByRole('button', { name: 'Send' }).click();
    expect(await reason.evaluate((el) => (el as HTMLTextAreaElement).validity.valueMissing)).toBe(true);
    expect(await dialog.isVisible()).toBe(true);
    expect((await app.ledger()).length).toBe(ledgerBefore);
    await reason.fill('checkout latency');
    await dialog.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => dialog.isVisible(), WAIT).toBe(false);

    await expect.poll(() => app.serving('production'), WAIT).toBe('1.0.0');
    await waitText(page, '#timeline li:first-child', 'ROLLBACK 1.1.0 → 1.0.0');
    expect(await textOf(page, '#timeline li:first-child')).toContain('checkout latency');
    expect(await textOf(page, '#timeline li:first-child')).toContain('by alice');
    await waitText(page, `${gridCell(app, 'production')} .version`, '1.0.0');
    const [row] = await historyJson(app, 'production');
    expect(row).toMatchObject({
      action: 'rollback',
      version: '1.0.0',
      actor: 'alice',
      reason: 'checkout latency',
    });
  }, 300_000);

  it('mallory, signed in but in no approving group, is refused on the page with the reason the CLI gives', async () => {
    const app = await stack.addApp('refused');
    await app.toGate('1.0.0');
    const page = await signedIn('mallory');
    await page.locator(card(app, '1.0.0')).getByRole('button', { name: 'Approve 1.0.0' }).click();
    const dialog = page.getByRole('dialog', { name: `Approve ${app.name} 1.0.0` });
    await dialog.getByRole('button', { name: 'Send' }).click();
    const alert = dialog.getByRole('alert');
    await expect.poll(() => alert.textContent(), WAIT).toMatch(/team-leads/);
    // Still open, so the person reads why.
    expect(await dialog.isVisible()).toBe(true);
    const onPage = (await alert.textContent())!;
    const cli = await app.run('approve', app.name, '1.0.0', '--as', 'mallory');
    expect(cli.code).toBe(3);
    expect(cli.stderr).toContain(onPage.split(':')[0]);
    // The refusal is recorded (through web-oidc) and shown on the card; nothing was given.
    const s = await statusJson(app, '1.0.0');
    expect(s.approvals.given).toEqual([]);
    expect(s.approvals.refused.some((r) => r.by === 'mallory' && r.via === 'web-oidc')).toBe(true);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await waitText(page, card(app, '1.0.0'), 'refused: mallory (approve)');
  }, 240_000);

  it('updates live when the CLI approves: the approval shows on the open page without a reload', async () => {
    const app = await stack.addApp('live');
    await app.toGate('1.0.0');
    const page = await signedIn('alice');
    await waitText(page, card(app, '1.0.0'), 'Rules: team-leads 0/2');
    await page.evaluate(() => ((window as unknown as { __sameLoad: number }).__sameLoad = 42));
    const r = await app.run(
      'approve',
      app.name,
      '1.0.0',
      '--as',
      'bob',
      '--comment',
      'lgtm from the terminal',
    );
    expect(r.code, r.stderr).toBe(0);
    await waitText(page, card(app, '1.0.0'), 'bob via ssh');
    const c = await textOf(page, card(app, '1.0.0'));
    expect(c).toContain('lgtm from the terminal');
    expect(c).toContain('Rules: team-leads 1/2');
    expect(c).toContain('Can still approve: alice, carol');
    expect(await page.evaluate(() => (window as unknown as { __sameLoad?: number }).__sameLoad)).toBe(42);
  }, 240_000);
});

describe('bad input in the browser', () => {
  /**
   * Each payload would, if parsed as HTML, create an element with a marked id and (where scripts may run) set
   * window.__pwned. The page's CSP alone would stop the scripts, so the check also runs with the CSP bypassed:
   * what keeps them inert must be the rendering (text, never markup).
   */
  const payload = (where: string) =>
    `<img id="pwned-${where}" src=x onerror="window.__pwned='${where}'">` +
    `<script>window.__pwned='${where}'</script><b id="pwned-b-${where}">`;
  const COMMIT = payload('commit');
  const COMMENT = payload('comment');
  const ROLLBACK = payload('rollback');
  const FREEZE = payload('freeze');
  const MALLORY = payload('mallory');

  it('XSS in every free text shown (commit, approval comment, rollback reason, freeze reason) is shown as text and never runs, even with the CSP bypassed; a refused approval carrying one adds nothing that runs; a version with markup is refused at the CLI', async () => {
    const app = await stack.addApp('xss');
    await app.shipApproved('1.0.0');
    await app.shipApproved('1.1.0');
    let r = await app.run(
      'rollback',
      app.name,
      'production',
      '--as',
      'alice',
      '--reason',
      ROLLBACK,
      '--wait',
    );
    expect(r.code, r.stderr).toBe(0);
    r = await app.run(
      'release',
      app.name,
      '1.2.0',
      '--commit',
      COMMIT,
      '--branch',
      'main',
      '--actor',
      'dave',
    );
    expect(r.code, r.stderr).toBe(0);
    await app.waitFor('1.2.0', (s) => s.stage === 'awaiting-approval');
    // One approval of the two needed, so the release stays at the gate with its card on the page.
    r = await app.run('approve', app.name, '1.2.0', '--as', 'carol', '--comment', COMMENT);
    expect(r.code, r.stderr).toBe(0);
    r = await app.run('approve', app.name, '1.2.0', '--as', 'mallory', '--comment', MALLORY);
    expect(r.code).toBe(3);
    const until = new Date(Date.now() + 3_600_000).toISOString();
    r = await app.run('freeze', app.name, 'staging', '--as', 'dave', '--until', until, '--reason', FREEZE);
    expect(r.code, r.stderr).toBe(0);
    // Versions cannot carry markup: the CLI refuses it before anything starts.
    r = await app.run(...app.releaseArgs('1.3.0<img src=x onerror=alert(1)>'));
    expect(r.code).toBe(2);

    for (const bypassCSP of [false, true]) {
      const page = await newPage({ bypassCSP });
      await openCell(page, app, 'production');
      await waitText(page, '#timeline', 'ROLLBACK 1.1.0 → 1.0.0');
      // Each text, verbatim, as text where it belongs.
      await waitText(page, '#timeline', ROLLBACK);
      await waitText(page, gridCell(app, 'staging'), FREEZE);
      await waitText(page, card(app, '1.2.0'), COMMIT);
      await waitText(page, card(app, '1.2.0'), COMMENT);
      await waitText(page, card(app, '1.2.0'), 'refused: mallory (approve)');
      // Nothing ran and no element was made from any of them.
      const found = await page.evaluate(() => ({
        pwned: (window as unknown as { __pwned?: string }).__pwned ?? null,
        marked: [...document.querySelectorAll('[id^="pwned"]')].map((e) => e.id),
        images: document.querySelectorAll('img').length,
        scripts: [...document.scripts].map((s) => s.src),
        handlers: [...document.querySelectorAll('*')].filter((e) =>
          [...e.attributes].some((a) => a.name.startsWith('on')),
        ).length,
      }));
      expect(found, `bypassCSP: ${bypassCSP}`).toEqual({
        pwned: null,
        marked: [],
        images: 0,
        scripts: [`${ui.url}/app.js`],
        handlers: 0,
      });
      expect(await textOf(page, 'body')).not.toContain('1.3.0<img');
    }
  }, 420_000);
});

describe('accessibility', () => {
  it('keyboard: Tab reaches the grid cells, then Approve and Reject; the focus survives a live update; Enter opens the labelled comment dialog and Escape closes it with nothing sent', async () => {
    const app = await stack.addApp('keys');
    await app.toGate('1.0.0');
    const page = await signedIn('alice');
    await waitText(page, card(app, '1.0.0'), 'Approve 1.0.0');
    await page.locator('body').focus();
    const order: string[] = [];
    for (let i = 0; i < 200; i++) {
      await page.keyboard.press('Tab');
      const name = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el || el === document.body) return '';
        const card = el.closest('article')?.getAttribute('data-release') ?? '';
        return `${card}|${el.getAttribute('aria-label') ?? el.textContent ?? ''}`;
      });
      order.push(name);
      if (name === `release/${app.name}/1.0.0|Approve 1.0.0`) break;
    }
    const approveAt = order.indexOf(`release/${app.name}/1.0.0|Approve 1.0.0`);
    expect(approveAt, order.join('\n')).toBeGreaterThan(0);
    // The grid's cells come first, each a button named for what it shows.
    const cellAt = order.indexOf(`|${app.name} production: nothing deployed. Show timeline`);
    expect(cellAt, order.join('\n')).toBeGreaterThanOrEqual(0);
    expect(cellAt).toBeLessThan(approveAt);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Reject 1.0.0');
    await page.keyboard.press('Shift+Tab');
    // A live update rebuilds the card (bob approves with the CLI): the focus stays on its Approve button.
    const r = await app.run('approve', app.name, '1.0.0', '--as', 'bob');
    expect(r.code, r.stderr).toBe(0);
    await waitText(page, card(app, '1.0.0'), 'bob via ssh');
    const focused = await page.evaluate(() => ({
      text: document.activeElement?.textContent,
      card: document.activeElement?.closest('article')?.getAttribute('data-release'),
    }));
    expect(focused).toEqual({ text: 'Approve 1.0.0', card: `release/${app.name}/1.0.0` });

    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: `Approve ${app.name} 1.0.0` });
    await expect.poll(() => dialog.isVisible(), WAIT).toBe(true);
    const comment = dialog.getByRole('textbox', { name: 'Comment (optional)' });
    expect(await comment.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.type('typed, not sent');
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible(), WAIT).toBe(false);
    expect((await statusJson(app, '1.0.0')).approvals.given.map((g) => g.by)).toEqual(['bob']);

    // A cell chosen with the keyboard opens its section: every control there is labelled too.
    await page.locator(`${gridCell(app, 'staging')} button.cell`).focus();
    await page.keyboard.press('Enter');
    await waitText(page, '#env-title', `${app.name} / staging`);
    expect(await page.getByRole('combobox', { name: 'Period' }).count()).toBe(1);
    await expect.poll(() => page.getByRole('img', { name: 'Deploys per interval' }).count(), WAIT).toBe(1);
    expect(await page.getByRole('button', { name: `Roll back ${app.name}/staging` }).count()).toBe(1);
    expect(await page.getByRole('table', { name: /What serves where/ }).count()).toBe(1);
  }, 240_000);

  it('text has at least 4.5:1 contrast against its background (badges, notes, buttons, links)', async () => {
    const page = await signedIn('alice');
    const app = await stack.addApp('contrast');
    await app.toGate('1.0.0');
    await waitText(page, card(app, '1.0.0'), 'Approve 1.0.0');
    const low = await page.evaluate(() => {
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
      const lum = ([r, g, b]: number[]) => {
        const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
      };
      const background = (el: Element | null): number[] => {
        for (; el; el = el.parentElement) {
          const c = rgb(getComputedStyle(el).backgroundColor);
          if (c.length === 3 || (c.length === 4 && c[3]! > 0)) return c.slice(0, 3);
        }
        return [255, 255, 255];
      };
      const out: string[] = [];
      for (const el of document.querySelectorAll(
        '.badge, .meta, button, a, caption, th, .error, code, #live',
      )) {
        if (!(el as HTMLElement).offsetParent || !el.textContent?.trim()) continue;
        const fg = lum(rgb(getComputedStyle(el).color));
        const bg = lum(background(el));
        const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        if (ratio < 4.5)
          out.push(
            `${el.className || el.tagName} "${el.textContent.trim().slice(0, 30)}": ${ratio.toFixed(2)}`,
          );
      }
      return out;
    });
    expect(low).toEqual([]);
  }, 240_000);

  it('on a 375 px wide screen nothing overflows the page sideways, a long unbroken comment included: the grid scrolls in its own box', async () => {
    const app = await stack.addApp('narrow');
    await app.toGate('1.0.0');
    // Free text with no place to break (a long link) must wrap too.
    const link = `https://ci.example.com/runs/${'0123456789'.repeat(12)}`;
    const r = await app.run('approve', app.name, '1.0.0', '--as', 'carol', '--comment', link);
    expect(r.code, r.stderr).toBe(0);
    const page = await newPage({ viewport: { width: 375, height: 800 } });
    await waitText(page, card(app, '1.0.0'), link);
    await openCell(page, app, 'staging');
    await expect.poll(() => page.getByRole('img', { name: 'Deploys per interval' }).count(), WAIT).toBe(1);
    const sizes = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      view: document.documentElement.clientWidth,
      wider: [...document.querySelectorAll('main *')]
        .filter(
          (e) =>
            !e.closest('.scroll') &&
            e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5,
        )
        .map((e) => `${e.tagName}.${e.className}`),
      scrollBox: getComputedStyle(document.querySelector('.scroll')!).overflowX,
    }));
    expect(sizes.view).toBe(375);
    expect(sizes.wider).toEqual([]);
    expect(sizes.page).toBeLessThanOrEqual(sizes.view);
    expect(sizes.scrollBox).toBe('auto');
  }, 240_000);
});
