import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, CanaryFailedError, NotReadyError } from '../../src/targets/errors.js';
import { createLocalTarget, type LocalTarget } from '../../src/targets/local/local-target.js';
import { freePortAvoiding, isAlive, sleep } from '../../src/targets/local/processes.js';
import { envDir, loadState, saveState } from '../../src/targets/local/state.js';
import type { LocalRequest } from '../../src/targets/local/types.js';
import type { DeploymentTarget } from '../../src/targets/types.js';
import { freePort } from '../../src/temporal/ports.js';
import { steadyTraffic } from '../helpers/traffic.js';

const SERVICE = fileURLToPath(new URL('../../examples/hello-service', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/activate-child.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const homes: string[] = [];
const started: ChildProcess[] = [];

afterEach(async () => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const home of homes.splice(0)) {
    await createLocalTarget({ home, stopGraceMs: 1000 }).stopAll();
    rmSync(home, { recursive: true, force: true });
  }
});

/** Requests sent in all by the clients of a test under load, at least: the load spans the switches. */
const MIN_REQUESTS = 200;

type MakeRequest = (over: Partial<LocalRequest>) => LocalRequest;

interface Fixture {
  home: string;
  port: number;
  target: LocalTarget;
  req: MakeRequest;
  /** hello/staging opened through the generic interface, as the activities open it. */
  staging: DeploymentTarget;
}

async function fixture(): Promise<Fixture> {
  const home = mkdtempSync(join(tmpdir(), 'shipgate-local-'));
  homes.push(home);
  const port = await freePort();
  const target = createLocalTarget({ home, stopGraceMs: 2000 });
  const command = [process.execPath, 'server.js'];
  const req: MakeRequest = (over) => ({
    app: 'hello',
    env: 'staging',
    port,
    version: '1.0.0',
    artifact: SERVICE,
    command,
    strategy: 'blue-green',
    keepPreviousMs: 60_000,
    readyTimeoutMs: 10_000,
    ...over,
  });
  const staging = target.open({
    app: 'hello',
    env: 'staging',
    config: { kind: 'local', port },
    build: { command },
  });
  return { home, port, target, req, staging };
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

async function pidOf(target: LocalTarget, version: string): Promise<number | undefined> {
  return (await target.status('hello', 'staging'))?.processes.find((p) => p.version === version)?.pid;
}

describe('examples/hello-service', () => {
  async function serve(version: string) {
    const port = await freePort();
    const child = spawn(process.execPath, ['server.js'], {
      cwd: SERVICE,
      env: { PATH: process.env.PATH, PORT: String(port), APP_VERSION: version },
      stdio: 'ignore',
    });
    started.push(child);
    for (let i = 0; i < 100; i++) {
      if ((await get(port, '/health').catch(() => null))?.status === 200) break;
      await sleep(50);
    }
    return { port, child };
  }

  it('answers /health, /version, /smoke and any other path, and exits cleanly on SIGTERM', async () => {
    const { port, child } = await serve('1.2.0');
    expect(await get(port, '/health')).toEqual({ status: 200, body: 'ok' });
    expect(JSON.parse((await get(port, '/version')).body)).toEqual({ version: '1.2.0' });
    expect(await get(port, '/smoke')).toEqual({ status: 200, body: 'ok' });
    const other = await get(port, '/anything');
    expect(other.status).toBe(200);
    expect(other.body).toContain('1.2.0');
    const exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('fails /smoke, and only /smoke, for a version whose prerelease tag is bad', async () => {
    for (const version of ['1.2.0-bad', '2.0.0-bad.1']) {
      const { port } = await serve(version);
      expect((await get(port, '/health')).status).toBe(200);
      expect((await get(port, '/smoke')).status).toBe(500);
    }
    const { port } = await serve('1.2.0-badger');
    expect((await get(port, '/smoke')).status).toBe(200);
  });
});

describe('local target', () => {
  it('switches blue-green under steady traffic with no failed request, and switches back warm', async () => {
    const { port, target, req } = await fixture();
    expect(await target.activate(req({ version: '1.0.0' }))).toEqual({
      serving: '1.0.0',
      previous: null,
      alreadyServing: false,
      warm: false,
    });
    const traffic = steadyTraffic(port);
    await traffic.reached('1.0.0');
    const progress: string[] = [];
    const r2 = await target.activate(req({ version: '2.0.0' }), { progress: (m) => progress.push(m) });
    expect(r2).toEqual({ serving: '2.0.0', previous: '1.0.0', alreadyServing: false, warm: false });
    expect(progress.length).toBeGreaterThan(0);
    const after2 = traffic.mark();
    await traffic.answers(20);
    expect(new Set(await traffic.versionsSince(after2))).toEqual(new Set(['2.0.0']));

    const status = await target.status('hello', 'staging');
    expect(status).toMatchObject({ port, proxyAlive: true, serving: '2.0.0' });
    const v1 = status?.processes.find((p) => p.version === '1.0.0');
    expect(v1).toMatchObject({ alive: true, weight: 0 });
    expect(Date.parse(v1?.keepUntil ?? '')).toBeGreaterThan(Date.now());

    const r3 = await target.activate(req({ version: '1.0.0' }));
    expect(r3).toEqual({ serving: '1.0.0', previous: '2.0.0', alreadyServing: false, warm: true });
    expect(await pidOf(target, '1.0.0')).toBe(v1?.pid);
    const after3 = traffic.mark();
    await traffic.answers(20);
    expect(new Set(await traffic.versionsSince(after3))).toEqual(new Set(['1.0.0']));

    const seen = await traffic.stop(MIN_REQUESTS);
    expect(seen.failures).toEqual([]);
    expect(seen.ok).toBeGreaterThanOrEqual(MIN_REQUESTS);
  });

  it('treats activating the serving version again as an idempotent retry', async () => {
    const { target, req } = await fixture();
    await target.activate(req({ version: '1.0.0' }));
    const pid = await pidOf(target, '1.0.0');
    expect(await target.activate(req({ version: '1.0.0' }))).toMatchObject({
      serving: '1.0.0',
      alreadyServing: true,
    });
    expect(await pidOf(target, '1.0.0')).toBe(pid);
    expect((await target.status('hello', 'staging'))?.processes).toHaveLength(1);
  });

  it('reports a version that never becomes ready and keeps the old one serving', async () => {
    const { port, target, req } = await fixture();
    await target.activate(req({ version: '1.0.0' }));

    const crash = req({
      version: '2.0.0',
      command: [process.execPath, '-e', 'console.error("boom"); process.exit(3)'],
    });
    const crashed = target.activate(crash);
    await expect(crashed).rejects.toBeInstanceOf(NotReadyError);
    await expect(crashed).rejects.toThrow(/2\.0\.0 exited with code 3 before it became ready[\s\S]*boom/);

    const silent = req({
      version: '2.0.1',
      command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
    });
    silent.readyTimeoutMs = 800;
    await expect(target.activate(silent)).rejects.toThrow(/did not answer 200 on GET \/health .* within 1 s/);

    const status = await target.status('hello', 'staging');
    expect(status?.serving).toBe('1.0.0');
    expect(status?.processes.map((p) => p.version)).toEqual(['1.0.0']);
    expect(JSON.parse((await get(port, '/version')).body)).toEqual({ version: '1.0.0' });
  });

  it('keeps serving when the deploying process group is SIGKILLed, and a new target adopts and resumes', async () => {
    const { home, port, req } = await fixture();
    const child = spawn(process.execPath, ['--import', TSX, CHILD, home, String(port), SERVICE], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    /** Resolves when the child has printed `text` (it fails the test by its timeout otherwise). */
    const waitFor = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!out.includes(text)) return;
          child.stdout?.off('data', check);
          resolve();
        };
        child.stdout?.on('data', check);
        check();
      });

    await waitFor('ACTIVATED 1.0.0');
    const traffic = steadyTraffic(port);
    await waitFor('started hello/staging 2.0.0 as pid');
    const exited = new Promise((resolve) => child.on('exit', resolve));
    process.kill(-(child.pid ?? 0), 'SIGKILL');
    await exited;
    // Traffic keeps flowing with nothing but the data plane left.
    await traffic.answers(20);

    const adopter = createLocalTarget({ home, stopGraceMs: 2000 });
    const status = await adopter.status('hello', 'staging');
    expect(status).toMatchObject({ proxyAlive: true, serving: '1.0.0' });
    const v2 = status?.processes.find((p) => p.version === '2.0.0');
    expect(v2).toMatchObject({ alive: true, ready: false });

    // The retry resumes the 2.0.0 the killed caller started rather than starting a second one.
    const slow = req({
      version: '2.0.0',
      command: ['sh', '-c', `sleep 2; exec "${process.execPath}" server.js`],
    });
    expect(await adopter.activate(slow)).toMatchObject({
      serving: '2.0.0',
      previous: '1.0.0',
      alreadyServing: false,
    });
    const after = await adopter.status('hello', 'staging');
    expect(after?.processes.filter((p) => p.version === '2.0.0').map((p) => p.pid)).toEqual([v2?.pid]);
    expect(await adopter.activate(slow)).toMatchObject({ serving: '2.0.0', alreadyServing: true });
    const switched = traffic.mark();
    await traffic.answers(20);
    expect(new Set(await traffic.versionsSince(switched))).toEqual(new Set(['2.0.0']));

    const seen = await traffic.stop(MIN_REQUESTS);
    expect(seen.failures).toEqual([]);
    expect(new Set(seen.versions)).toEqual(new Set(['1.0.0', '2.0.0']));
  });

  it('finds a process whose pid a killed caller never recorded, instead of starting a second one', async () => {
    const { home, target, req } = await fixture();
    await target.activate(req({ version: '1.0.0' }));
    // What a caller killed between recording its intent and spawn() returning leaves behind.
    const dir = envDir(home, 'hello', 'staging');
    const st = loadState(dir);
    if (!st) throw new Error('no state');
    const port = await freePortAvoiding([st.port, ...st.processes.map((p) => p.port)]);
    const instance = randomUUID();
    const orphan = spawn(process.execPath, ['server.js'], {
      cwd: SERVICE,
      env: { PATH: process.env.PATH, PORT: String(port), APP_VERSION: '2.0.0', SHIPGATE_INSTANCE: instance },
      detached: true,
      stdio: 'ignore',
    });
    started.push(orphan);
    st.processes.push({
      version: '2.0.0',
      pid: 0,
      instance,
      port,
      startedAt: new Date().toISOString(),
      startTicks: null,
      ready: false,
      keepUntil: null,
      artifactDir: SERVICE,
      command: [process.execPath, 'server.js'],
    });
    saveState(dir, st);

    expect(await target.activate(req({ version: '2.0.0' }))).toMatchObject({
      serving: '2.0.0',
      alreadyServing: false,
    });
    const v2 = (await target.status('hello', 'staging'))?.processes.filter((p) => p.version === '2.0.0');
    expect(v2?.map((p) => p.pid)).toEqual([orphan.pid]);
  });

  it('retries a request that the serving upstream refuses on the warm standby', async () => {
    const { port, target, req } = await fixture();
    await target.activate(req({ version: '1.0.0' }));
    await target.activate(req({ version: '2.0.0' }));
    const v2 = await pidOf(target, '2.0.0');
    process.kill(v2 ?? 0, 'SIGKILL');
    for (let i = 0; i < 100 && isAlive(v2 ?? 0, null); i++) await sleep(20);
    for (let i = 0; i < 5; i++)
      expect(await get(port, '/version')).toMatchObject({
        status: 200,
        body: expect.stringContaining('1.0.0'),
      });
  });

  it('restarts a dead proxy on the same port with its recorded route', async () => {
    const { home, port, target, req } = await fixture();
    await target.activate(req({ version: '1.0.0' }));
    await target.activate(req({ version: '2.0.0' }));
    const proxy = loadState(envDir(home, 'hello', 'staging'))?.proxy;
    expect(proxy).toBeTruthy();
    process.kill(proxy?.pid ?? 0, 'SIGKILL');
    for (let i = 0; i < 100 && isAlive(proxy?.pid ?? 0, null); i++) await sleep(20);
    await expect(get(port, '/version')).rejects.toThrow();
    expect((await target.status('hello', 'staging'))?.proxyAlive).toBe(false);

    const fresh = createLocalTarget({ home });
    const status = await fresh.ensure('hello', 'staging');
    expect(status).toMatchObject({ proxyAlive: true, serving: '2.0.0' });
    expect(status?.processes.find((p) => p.version === '1.0.0')?.weight).toBe(0);
    expect(loadState(envDir(home, 'hello', 'staging'))?.proxy?.pid).not.toBe(proxy?.pid);
    expect(JSON.parse((await get(port, '/version')).body)).toEqual({ version: '2.0.0' });
    expect(await fresh.activate(req({ version: '2.0.0' }))).toMatchObject({ alreadyServing: true });
  });

  it('moves a canary through its steps, and sends everything back to stable when a check fails', async () => {
    const { port, target, req } = await fixture();
    await target.activate(req({ version: '1.0.0' }));

    const shares: Record<number, number> = {};
    const steps: number[] = [];
    const canary = req({
      version: '2.0.0',
      strategy: 'canary',
      canarySteps: [25, 50, 100],
      canaryPauseMs: 100,
    });
    const result = await target.activate(canary, {
      checkStep: async (percent) => {
        steps.push(percent);
        let hits = 0;
        for (let i = 0; i < 20; i++) if ((await get(port, '/version')).body.includes('2.0.0')) hits++;
        shares[percent] = hits;
      },
    });
    expect(result).toMatchObject({ serving: '2.0.0', previous: '1.0.0', warm: false });
    expect(steps).toEqual([25, 50]);
    // Smooth weighted round-robin gives exact shares, not random ones.
    expect(shares).toEqual({ 25: 5, 50: 10 });

    const traffic = steadyTraffic(port);
    const bad = req({ version: '3.0.0-bad', strategy: 'canary', canarySteps: [50], canaryPauseMs: 100 });
    const failed = target.activate(bad, {
      // The probe the target hands over reaches the canary alone; through the environment's port, stable
      // would answer half the time and the check would pass by luck.
      checkStep: async (_percent, canary) => {
        const versions = await Promise.all([1, 2, 3, 4].map(() => canary('/version', 2000)));
        expect(versions.map((r) => JSON.parse(r.body) as unknown)).toEqual(
          Array(4).fill({ version: '3.0.0-bad' }),
        );
        if ((await canary('/smoke', 2000)).status === 200) return;
        throw new Error('smoke failed');
      },
    });
    await expect(failed).rejects.toBeInstanceOf(CanaryFailedError);
    await expect(failed).rejects.toThrow(/at 50%: smoke failed/);
    const back = traffic.mark();
    await traffic.answers(10);
    expect(new Set(await traffic.versionsSince(back))).toEqual(new Set(['2.0.0']));
    const seen = await traffic.stop(MIN_REQUESTS);
    expect(seen.failures).toEqual([]);
    const status = await target.status('hello', 'staging');
    expect(status?.serving).toBe('2.0.0');
    expect(status?.processes.map((p) => p.version).sort()).toEqual(['1.0.0', '2.0.0']);
  });

  it('aborts a canary mid-way: all traffic back on stable, canary stopped, no failed request', async () => {
    const { port, target, req } = await fixture();
    await target.activate(req({ version: '1.0.0' }));
    const traffic = steadyTraffic(port);
    const ac = new AbortController();
    let canaryPid: number | undefined;
    // A long pause, so the canary is mid-step when the abort comes; the abort ends the pause at once.
    const canary = req({ version: '2.0.0', strategy: 'canary', canarySteps: [50], canaryPauseMs: 60_000 });
    const run = target.activate(canary, {
      signal: ac.signal,
      progress: (m) => {
        if (!m.includes('takes 50%')) return;
        // Abort once the canary has really taken traffic.
        void pidOf(target, '2.0.0')
          .then((pid) => (canaryPid = pid))
          .then(() => traffic.reached('2.0.0'))
          .then(() => ac.abort());
      },
    });
    await expect(run).rejects.toBeInstanceOf(AbortError);
    await expect(run).rejects.toThrow(/back on 1\.0\.0/);
    const back = traffic.mark();
    await traffic.answers(10);
    expect(new Set(await traffic.versionsSince(back))).toEqual(new Set(['1.0.0']));
    const seen = await traffic.stop(MIN_REQUESTS);

    expect(seen.failures).toEqual([]);
    expect(seen.versions).toContain('2.0.0');
    expect(canaryPid).toBeDefined();
    expect(isAlive(canaryPid ?? 0, null)).toBe(false);
    const status = await target.status('hello', 'staging');
    expect(status?.serving).toBe('1.0.0');
    expect(status?.processes.map((p) => p.version)).toEqual(['1.0.0']);
  });

  it('recreates: stops the old version before starting the new one', async () => {
    const { port, target, req } = await fixture();
    await target.activate(req({ version: '1.0.0', strategy: 'recreate' }));
    const v1 = await pidOf(target, '1.0.0');
    const result = await target.activate(req({ version: '2.0.0', strategy: 'recreate' }));
    expect(result).toEqual({ serving: '2.0.0', previous: '1.0.0', alreadyServing: false, warm: false });
    expect(isAlive(v1 ?? 0, null)).toBe(false);
    expect((await target.status('hello', 'staging'))?.processes.map((p) => p.version)).toEqual(['2.0.0']);
    expect(JSON.parse((await get(port, '/version')).body)).toEqual({ version: '2.0.0' });
  });

  it('stops warm previous versions once keepPrevious has passed, by the clock reap is given', async () => {
    const { port, target, staging } = await fixture();
    const deploy = (version: string) =>
      staging.activate({ version, artifact: SERVICE, strategy: 'blue-green', keepPreviousMs: 60_000 });
    await deploy('1.0.0');
    await deploy('2.0.0');
    const traffic = steadyTraffic(port);
    await traffic.reached('2.0.0');
    const v1 = await pidOf(target, '1.0.0');
    const keepUntil = Date.parse(
      (await staging.status())?.versions.find((v) => v.version === '1.0.0')?.keepUntil ?? '',
    );
    expect(keepUntil).toBeGreaterThan(Date.now());

    await staging.reap(new Date(keepUntil - 1));
    expect(isAlive(v1 ?? 0, null)).toBe(true);
    await staging.reap(new Date(keepUntil));
    expect(isAlive(v1 ?? 0, null)).toBe(false);
    await traffic.answers(20);
    const seen = await traffic.stop(MIN_REQUESTS);
    expect(seen.failures).toEqual([]);
    expect(new Set(seen.versions)).toEqual(new Set(['2.0.0']));
    expect((await staging.status())?.versions.map((v) => v.version)).toEqual(['2.0.0']);
  });

  it('opened from its config block: probes reach the environment, liveness follows the process', async () => {
    const { target, staging } = await fixture();
    expect(await staging.status()).toBeNull();
    expect(
      await staging.activate({
        version: '1.0.0',
        artifact: SERVICE,
        strategy: 'blue-green',
        keepPreviousMs: 0,
      }),
    ).toMatchObject({ serving: '1.0.0' });
    const answer = await staging.probe('/version', 2000);
    expect({ status: answer.status, body: JSON.parse(answer.body) as unknown }).toEqual({
      status: 200,
      body: { version: '1.0.0' },
    });
    expect(await staging.status()).toMatchObject({ reachable: true, serving: '1.0.0' });
    expect(await staging.liveness('1.0.0')).toBeNull();
    // A version the target never ran is not reported dead.
    expect(await staging.liveness('9.9.9')).toBeNull();

    const pid = await pidOf(target, '1.0.0');
    process.kill(pid ?? 0, 'SIGKILL');
    for (let i = 0; i < 100 && isAlive(pid ?? 0, null); i++) await sleep(20);
    expect(await staging.liveness('1.0.0')).toBe('the process of 1.0.0 exited');
  });

  it('stopAll stops every proxy and process under home and forgets them', async () => {
    const { home, port, target, req } = await fixture();
    const prodPort = await freePortAvoiding([port]);
    await target.activate(req({ version: '1.0.0' }));
    await target.activate(req({ version: '2.0.0' }));
    await target.activate(req({ env: 'production', port: prodPort, version: '1.0.0' }));
    const pids = ['staging', 'production'].flatMap((env) => {
      const st = loadState(envDir(home, 'hello', env));
      return [st?.proxy?.pid ?? 0, ...(st?.processes.map((p) => p.pid) ?? [])];
    });
    expect(pids.every((pid) => isAlive(pid, null))).toBe(true);

    expect(await target.stopAll()).toEqual({ stopped: 5 });
    expect(pids.filter((pid) => isAlive(pid, null))).toEqual([]);
    expect(await target.status('hello', 'staging')).toBeNull();
    await expect(get(port, '/health')).rejects.toThrow();
    expect(await target.stopAll()).toEqual({ stopped: 0 });
  });

  it('says clearly when the environment port is taken by another program', async () => {
    const { port, target, req } = await fixture();
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      await expect(target.activate(req({ version: '1.0.0' }))).rejects.toThrow(
        /port \d+ on 127\.0\.0\.1 is already in use/,
      );
    } finally {
      squatter.close();
    }
  });
});
