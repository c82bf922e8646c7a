import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { eventually, getVersion, startStack, type App, type Stack } from '../helpers/fixture.js';
import { startWorker } from '../helpers/processes.js';
import { startSlackApiStandin, STANDIN_TOKEN, type SlackApiStandin } from '../helpers/slack-api-standin.js';
import { steadyTraffic } from '../helpers/traffic.js';
import { healthSignal } from '../../src/workflows/messages.js';
import type { EnvState } from '../../src/targets/local/state.js';

/**
 * The data plane heals itself: on a real dev server and `shipgate worker` process, production's proxy (or the
 * serving version's process) is killed with SIGKILL under steady load, and the worker brings it back on its
 * recorded route without a deploy or rollback. `history` and `status` show DOWN while it lasts (the test holds
 * the port so the outage lasts until it lets go), Slack hears of it once, and the ledger gets no entry.
 */
describe('a local data plane that heals itself', () => {
  let stack: Stack;
  let standin: SlackApiStandin;
  let app: App;

  const dir = () => path.join(stack.home, 'targets', app.name, 'production');
  const state = () => JSON.parse(readFileSync(path.join(dir(), 'state.json'), 'utf8')) as EnvState;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  /** Pids of every running proxy process of production (from /proc: its argv names the environment's folder). */
  const proxies = () =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          return argv.some((a) => a.includes('proxy-main')) && argv.includes(dir());
        } catch {
          return false;
        }
      })
      .map(Number);
  const history = async () => {
    const r = await app.run('history', app.name, 'production');
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const servesAgain = (version: string) =>
    eventually(`production serves ${version} again`, async () =>
      (await getVersion(app.ports.production).catch(() => null)) === version ? true : undefined,
    );
  const slackSaid = (text: string, from: number) =>
    standin.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.body.text).includes(text),
      60_000,
      standin.calls.slice(from),
    );

  beforeAll(async () => {
    standin = await startSlackApiStandin();
    stack = await startStack(
      (c) => Object.assign(c, { slack: { channel: 'C0DEPLOYS', apiUrl: standin.apiUrl } }),
      { workerEnv: { SLACK_BOT_TOKEN: STANDIN_TOKEN } },
    );
    app = await stack.addApp('heal', (c) => {
      c.apps.hello.environments.production.approvals = [];
    });
    await app.ship('1.0.0');
    await app.ship('1.1.0');
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await stack?.stop();
    await standin?.close();
  });

  it('a proxy killed with SIGKILL under load serves the same version again, with no deploy, one proxy and one notice', async () => {
    const ledger = await app.ledger();
    const calls = standin.calls.length;
    const traffic = steadyTraffic(app.ports.production);
    await traffic.answers(20);
    const killed = state().proxy!.pid;
    process.kill(killed, 'SIGKILL');

    await servesAgain('1.1.0');
    const mark = traffic.mark();
    await traffic.answers(20);
    expect(new Set(await traffic.versionsSince(mark))).toEqual(new Set(['1.1.0']));
    await traffic.stop();

    const now = state().proxy!.pid;
    expect(now).not.toBe(killed);
    expect(proxies()).toEqual([now]);
    expect(await app.ledger()).toEqual(ledger);
    // The outage is on record once it is over: history shows no DOWN, and the last outage with what was done.
    const text = await eventually('history shows the last outage', async () => {
      const h = await history();
      return h.includes('last outage') ? h : undefined;
    });
    expect(text).not.toContain('DOWN since');
    expect(text).toContain(`proxy ${killed} is gone; restarted the proxy (pid ${now})`);
    const notice = await slackSaid(`${app.name}/production (1.1.0) serves again`, calls);
    expect(String(notice.body.text)).toContain(`proxy ${killed} is gone`);
    expect(stack.worker.logs()).toContain(
      `${app.name}/production: down: proxy ${killed} is gone; restarting`,
    );
    expect(stack.worker.logs()).toContain(`${app.name}/production: serving again`);
  });

  it('while the proxy cannot come back, history and status say DOWN and Slack hears it once; then it heals', async () => {
    const ledger = await app.ledger();
    const calls = standin.calls.length;
    // Kill the proxy and take its port before the worker restarts it (if the worker wins, kill its proxy too).
    const holder = net.createServer((s) => s.destroy());
    let killed = 0;
    for (let attempt = 0; attempt < 20 && !holder.listening; attempt++) {
      killed = state().proxy!.pid;
      process.kill(killed, 'SIGKILL');
      for (let i = 0; i < 200 && !holder.listening; i++) {
        const bound = await new Promise<boolean>((resolve) => {
          holder.once('error', () => resolve(false));
          holder.listen(app.ports.production, '127.0.0.1', () => resolve(true));
        });
        if (bound) break;
        const p = state().proxy?.pid;
        if (p && p !== killed && alive(p)) break; // the worker was first: kill its new proxy
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    expect(holder.listening).toBe(true);
    try {
      const down = await eventually('history says DOWN', async () => {
        const h = await history();
        return h.includes('DOWN since') ? h : undefined;
      });
      expect(down).toMatch(
        new RegExp(
          `${app.name}/production — serving 1\\.1\\.0 — DOWN since \\S+ \\(proxy ${killed} is gone; restarting\\)`,
        ),
      );
      const status = await app.run('status', app.name, '1.1.0', '--json');
      expect(status.code, status.stderr).toBe(0);
      const envs = (status.json as { environments: Record<string, { state: string; down?: unknown }> })
        .environments;
      expect(envs.production).toMatchObject({
        state: 'succeeded',
        down: { detail: `proxy ${killed} is gone; restarting` },
      });
      expect(envs.staging!.down).toBeUndefined();
      const text = await app.run('status', app.name, '1.1.0');
      expect(text.stdout).toMatch(/production\s+succeeded\s+\S+\s+— DOWN since/);
      const notice = await slackSaid(`${app.name}/production (1.1.0) is DOWN`, calls);
      expect(String(notice.body.text)).toContain('could not restart');
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }

    await servesAgain('1.1.0');
    await eventually('history no longer says DOWN', async () =>
      (await history()).includes('DOWN since') ? undefined : true,
    );
    const status = await app.run('status', app.name, '1.1.0', '--json');
    expect(
      (status.json as { environments: Record<string, object> }).environments.production,
    ).not.toHaveProperty('down');
    await slackSaid(`${app.name}/production (1.1.0) serves again`, calls);
    const downs = standin.calls
      .slice(calls)
      .filter((c) => c.method === 'chat.postMessage' && String(c.body.text).includes('is DOWN'));
    expect(downs).toHaveLength(1);
    expect(proxies()).toEqual([state().proxy!.pid]);
    expect(await app.ledger()).toEqual(ledger);
  });

  it('a killed serving process is started again from its artifact on its port; the route and ledger stay', async () => {
    const ledger = await app.ledger();
    const before = state();
    const port = before.route.find((e) => e.weight === 100)!.port;
    const dead = before.processes.find((p) => p.version === '1.1.0' && p.port === port)!;
    const traffic = steadyTraffic(app.ports.production);
    await traffic.answers(20);
    process.kill(dead.pid, 'SIGKILL');

    const revived = await eventually('1.1.0 runs again', async () => {
      const rec = state().processes.find((p) => p.version === '1.1.0' && p.pid !== dead.pid && p.ready);
      return rec && alive(rec.pid) ? rec : undefined;
    });
    expect(revived.port).toBe(port);
    expect(state().route).toEqual(before.route);
    await servesAgain('1.1.0');
    const mark = traffic.mark();
    await traffic.answers(20);
    expect(new Set(await traffic.versionsSince(mark))).toEqual(new Set(['1.1.0']));
    await traffic.stop();
    expect(await app.ledger()).toEqual(ledger);
    const text = await eventually('history shows the process outage', async () => {
      const h = await history();
      return h.includes(`the process of 1.1.0 (pid ${dead.pid}) exited`) ? h : undefined;
    });
    expect(text).toContain(`restarted 1.1.0 on 127.0.0.1:${port}`);
    expect(text).not.toContain('DOWN since');
  });

  it('two workers on one SHIPGATE_HOME restart a killed proxy once', async () => {
    const second = await startWorker({
      config: stack.configFile,
      address: stack.server.address,
      home: stack.home,
      extraArgs: ['--environments', 'production'],
    });
    try {
      const log = path.join(dir(), 'proxy.log');
      const starts = () =>
        readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => l.includes('listening on')).length;
      const before = starts();
      const logLength = readFileSync(log, 'utf8').length;
      const killed = state().proxy!.pid;
      process.kill(killed, 'SIGKILL');
      await servesAgain('1.1.0');
      // Both workers have looked again since (each logs nothing more, and neither starts a second proxy).
      await eventually('both workers saw it serve', async () =>
        [stack.worker.logs(), second.logs()].some((l) => l.includes(`down: proxy ${killed} is gone`))
          ? true
          : undefined,
      );
      expect(starts()).toBe(before + 1);
      expect(readFileSync(log, 'utf8').slice(logLength)).not.toContain('cannot start');
      expect(proxies()).toEqual([state().proxy!.pid]);
      const repaired = [stack.worker.logs(), second.logs()].filter((l) =>
        l.includes(`down: proxy ${killed} is gone`),
      );
      expect(repaired).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });

  it('a forged health report shows at most a wrong badge for a while: what runs and the ledger stay', async () => {
    const ledger = await app.ledger();
    const proxy = state().proxy!.pid;
    const handle = stack.sg.environment(app.name, 'production');
    const at = new Date().toISOString();
    // About a version that does not serve here: ignored.
    await handle.signal(healthSignal, { state: 'down', version: '1.0.0', at, detail: 'forged' });
    await handle.signal(healthSignal, {
      state: 'down',
      version: '1.1.0',
      at: 'not a time',
      detail: 'forged',
    });
    expect((await app.environment())?.health?.state ?? 'serving').toBe('serving');
    // About the version that serves: the badge says DOWN until the worker's next comparison corrects it.
    await handle.signal(healthSignal, { state: 'down', version: '1.1.0', at, detail: 'forged' });
    expect((await app.environment())?.health).toMatchObject({ state: 'down', detail: 'forged' });
    await eventually('the worker corrects the badge', async () =>
      (await app.environment())?.health?.state === 'serving' ? true : undefined,
    );
    expect(state().proxy!.pid).toBe(proxy);
    expect(await app.ledger()).toEqual(ledger);
    expect(await getVersion(app.ports.production)).toBe('1.1.0');
  });
});
