import { randomBytes, randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import type { ActivateHooks } from '../types.js';
import type { LocalRequest, LocalStatus } from './types.js';
import { readJson, writeJsonAtomic } from './json-file.js';
import {
  baseEnv,
  findByEnvMarker,
  freePortAvoiding,
  isAlive,
  spawnDetached,
  startTicksOf,
  stopProcess,
} from './processes.js';
import { launchProxy, ProxyControl } from './proxy-control.js';
import { waitReady } from './readiness.js';
import { sameRoute, soleVersion, type RouteEntry } from './route.js';
import {
  appLogPath,
  clearState,
  envDir,
  loadState,
  routePath,
  saveState,
  type EnvState,
  type ProcessRecord,
} from './state.js';

export interface EnvOptions {
  stopGraceMs: number;
  log: (message: string) => void;
}

const DEFAULT_READY_TIMEOUT_MS = 30_000;

function artifactProblem(dir: string): string | null {
  try {
    return statSync(dir).isDirectory() ? null : `${dir} is not a folder`;
  } catch {
    return `${dir} does not exist`;
  }
}

/** One environment's data plane as recorded under home, and the operations on it. Callers hold its lock. */
export class LocalEnv {
  private constructor(
    readonly dir: string,
    public st: EnvState,
    private readonly opts: EnvOptions,
  ) {}

  static open(home: string, app: string, env: string, opts: EnvOptions): LocalEnv | null {
    const dir = envDir(home, app, env);
    const st = loadState(dir);
    return st ? new LocalEnv(dir, st, opts) : null;
  }

  static async openOrCreate(home: string, app: string, env: string, port: number, opts: EnvOptions) {
    const found = LocalEnv.open(home, app, env, opts);
    if (found) {
      if (found.st.port !== port) await found.movePort(port);
      return found;
    }
    const st: EnvState = {
      schema: 1,
      app,
      env,
      port,
      token: randomBytes(24).toString('hex'),
      proxy: null,
      route: [],
      serving: null,
      previous: null,
      processes: [],
      updatedAt: new Date().toISOString(),
    };
    const created = new LocalEnv(envDir(home, app, env), st, opts);
    created.save();
    return created;
  }

  get label(): string {
    return `${this.st.app}/${this.st.env}`;
  }

  save(): void {
    saveState(this.dir, this.st);
  }

  private control(): ProxyControl {
    if (!this.st.proxy) throw new Error(`the proxy of ${this.label} is not running`);
    return new ProxyControl(this.st.proxy.adminPort, this.st.token);
  }

  /** Our proxy answering on its admin API; a few tries so a busy proxy is not taken for a hung one. */
  async proxyAnswers(tries: number): Promise<boolean> {
    const p = this.st.proxy;
    for (let i = 0; i < tries && p && isAlive(p.pid, p.startTicks); i++) {
      const h = await this.control().health();
      if (h?.pid === p.pid && h.port === this.st.port) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  }

  /** Adopts the running proxy, or starts one on the environment's port with the last route it acknowledged. */
  async ensureProxy(): Promise<void> {
    const p = this.st.proxy;
    if (p && (await this.proxyAnswers(3))) return this.pullRoute();
    if (p && isAlive(p.pid, p.startTicks)) {
      this.opts.log(`${this.label}: proxy ${p.pid} is not answering; replacing it`);
      await stopProcess(p.pid, p.startTicks, this.opts.stopGraceMs);
    } else if (p) {
      this.opts.log(`${this.label}: proxy ${p.pid} is gone; restarting it on 127.0.0.1:${this.st.port}`);
    }
    // The proxy's own route.json is at least as new as state (it is written before the proxy acknowledges a
    // change); seed it from state only when the proxy never wrote one.
    if (readJson(routePath(this.dir)) === null && this.st.route.length > 0) {
      writeJsonAtomic(routePath(this.dir), { route: this.st.route, updatedAt: new Date().toISOString() });
    }
    // A caller killed between spawning a proxy and recording it leaves that proxy holding the port, unrecorded:
    // found by the environment's token in its environment, it is stopped so the new one can bind.
    const orphan = findByEnvMarker(`SHIPGATE_PROXY_TOKEN=${this.st.token}`);
    if (orphan !== null && orphan !== p?.pid) {
      this.opts.log(
        `${this.label}: stopping unrecorded proxy ${orphan} that holds 127.0.0.1:${this.st.port}`,
      );
      await stopProcess(orphan, startTicksOf(orphan), this.opts.stopGraceMs);
    }
    this.st.proxy = await launchProxy({
      dir: this.dir,
      label: this.label,
      port: this.st.port,
      token: this.st.token,
    });
    this.save();
    this.opts.log(`${this.label}: proxy ${this.st.proxy.pid} listening on 127.0.0.1:${this.st.port}`);
    await this.pullRoute();
  }

  // A caller killed after the proxy acknowledged a route but before saving state leaves state behind; the
  // proxy is the truth about where traffic goes.
  private async pullRoute(): Promise<void> {
    const live = await this.control().getRoute();
    if (!sameRoute(live, this.st.route)) {
      this.applyRoute(live);
      this.save();
    }
  }

  private applyRoute(route: RouteEntry[]): void {
    const before = this.st.serving;
    this.st.route = route;
    this.st.serving = route.length === 0 ? null : (soleVersion(route)?.version ?? this.st.serving);
    if (before !== null && this.st.serving !== before) this.st.previous = before;
  }

  /** Replaces the whole route in one call, so traffic is never half-switched. */
  async setRoute(route: RouteEntry[]): Promise<void> {
    await this.control().setRoute(route);
    this.applyRoute(route);
    this.save();
  }

  private async movePort(port: number): Promise<void> {
    const p = this.st.proxy;
    if (p) await stopProcess(p.pid, p.startTicks, this.opts.stopGraceMs);
    this.st.proxy = null;
    this.st.port = port;
    this.save();
  }

  /**
   * Forgets processes that are gone, except one the route still sends traffic to (the reconciler restarts it
   * from its record); recovers the pid of one whose spawner died before recording it.
   */
  prune(): void {
    const before = this.st.processes.length;
    let changed = false;
    for (const r of this.st.processes) {
      if (r.pid !== 0) continue;
      const pid = findByEnvMarker(`SHIPGATE_INSTANCE=${r.instance}`);
      if (pid !== null) {
        r.pid = pid;
        r.startTicks = startTicksOf(pid);
        changed = true;
      }
    }
    this.st.processes = this.st.processes.filter(
      (r) => (r.pid !== 0 && isAlive(r.pid, r.startTicks)) || (r.ready && this.weightOf(r) > 0),
    );
    if (changed || this.st.processes.length !== before) this.save();
  }

  find(version: string): ProcessRecord | undefined {
    return this.st.processes.find((r) => r.version === version && isAlive(r.pid, r.startTicks));
  }

  weightOf(rec: ProcessRecord): number {
    return this.st.route.find((e) => e.port === rec.port)?.weight ?? 0;
  }

  /** The live, ready process of the stable version, unless that version is `except`. */
  stable(except: string): ProcessRecord | undefined {
    const s = this.st.serving;
    if (s === null || s === except) return undefined;
    const rec = this.find(s);
    return rec?.ready ? rec : undefined;
  }

  /** The live, ready process of the version that served before the stable one, unless that is `except`. */
  warmPrevious(except: string): ProcessRecord | undefined {
    const p = this.st.previous;
    if (p === null || p === except) return undefined;
    const rec = this.find(p);
    return rec?.ready ? rec : undefined;
  }

  /**
   * A ready process for req.version: the live one if there is one (fresh: false), else one it starts, or one
   * an interrupted attempt started, waiting for readiness (fresh: true). Never two for one version.
   */
  async start(req: LocalRequest, hooks: ActivateHooks): Promise<{ rec: ProcessRecord; fresh: boolean }> {
    const label = `${this.label} ${req.version}`;
    let rec = this.find(req.version);
    if (rec?.ready) return { rec, fresh: false };
    let child: ChildProcess | undefined;
    if (rec) {
      hooks.progress?.(`resuming the start of ${label} (pid ${rec.pid}) that an interrupted attempt began`);
    } else {
      const problem = artifactProblem(req.artifact);
      if (problem) throw new Error(`cannot start ${label}: artifact folder ${problem}`);
      const port = await freePortAvoiding([this.st.port, ...this.st.processes.map((r) => r.port)]);
      rec = {
        version: req.version,
        pid: 0,
        instance: randomUUID(),
        port,
        startedAt: new Date().toISOString(),
        startTicks: null,
        ready: false,
        keepUntil: null,
        artifactDir: req.artifact,
        command: req.command,
      };
      // Recorded before spawning, and the pid right after, so a caller killed at any point leaves a record
      // that a retry resumes instead of starting a second process for this version.
      this.st.processes.push(rec);
      this.save();
      try {
        child = await this.spawnRecorded(rec);
      } catch (err) {
        this.drop(rec);
        throw err;
      }
      hooks.progress?.(`started ${label} as pid ${rec.pid} on 127.0.0.1:${port}`);
    }
    try {
      await waitReady({
        label,
        port: rec.port,
        pid: rec.pid,
        startTicks: rec.startTicks,
        child,
        logFile: appLogPath(this.dir, req.version),
        timeoutMs: req.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
        signal: hooks.signal,
        progress: hooks.progress,
      });
    } catch (err) {
      await this.stop(rec);
      throw err;
    }
    rec.ready = true;
    this.save();
    return { rec, fresh: true };
  }

  /** Spawns the process `rec` records (its artifact, command and port) and records its pid. */
  private async spawnRecorded(rec: ProcessRecord): Promise<ChildProcess> {
    const child = spawnDetached(rec.command, {
      cwd: rec.artifactDir,
      env: {
        ...baseEnv(),
        PORT: String(rec.port),
        APP_VERSION: rec.version,
        SHIPGATE_INSTANCE: rec.instance,
      },
      logFile: appLogPath(this.dir, rec.version),
    });
    if (child.pid === undefined) {
      const err = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new Error(
        `cannot start ${this.label} ${rec.version}: ${JSON.stringify(rec.command)} failed in ${rec.artifactDir}: ${err.message}`,
      );
    }
    rec.pid = child.pid;
    rec.startTicks = startTicksOf(child.pid);
    this.save();
    return child;
  }

  /**
   * Starts the version of `dead` again from its recorded artifact and command, on the same port, so the route
   * stays as it is. On failure the dead record stays (a later pass tries again) and the error says why.
   */
  async revive(dead: ProcessRecord, timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
    const label = `${this.label} ${dead.version}`;
    const problem = artifactProblem(dead.artifactDir);
    if (problem) throw new Error(`cannot restart ${label}: artifact folder ${problem}`);
    const rec: ProcessRecord = {
      ...dead,
      pid: 0,
      instance: randomUUID(),
      startedAt: new Date().toISOString(),
      startTicks: null,
      ready: false,
    };
    const put = (from: ProcessRecord, to: ProcessRecord) => {
      this.st.processes = this.st.processes.map((r) => (r === from ? to : r));
      this.save();
    };
    put(dead, rec);
    let child: ChildProcess;
    try {
      child = await this.spawnRecorded(rec);
    } catch (err) {
      put(rec, dead);
      throw err;
    }
    this.opts.log(`${label}: restarted as pid ${rec.pid} on 127.0.0.1:${rec.port}`);
    try {
      await waitReady({
        label,
        port: rec.port,
        pid: rec.pid,
        startTicks: rec.startTicks,
        child,
        logFile: appLogPath(this.dir, rec.version),
        timeoutMs,
      });
    } catch (err) {
      await stopProcess(rec.pid, rec.startTicks, this.opts.stopGraceMs);
      put(rec, dead);
      throw err;
    }
    rec.ready = true;
    this.save();
  }

  private drop(rec: ProcessRecord): void {
    this.st.processes = this.st.processes.filter((r) => r !== rec);
    this.save();
  }

  /** Takes the process out of the route (if it is there), then stops it and forgets it. */
  async stop(rec: ProcessRecord): Promise<void> {
    if (this.st.route.some((e) => e.port === rec.port)) {
      const rest = this.st.route.filter((e) => e.port !== rec.port);
      await this.setRoute(rest.some((e) => e.weight > 0) ? rest : []);
    }
    if (rec.pid !== 0) await stopProcess(rec.pid, rec.startTicks, this.opts.stopGraceMs);
    this.drop(rec);
  }

  async stopAllExcept(keep: (ProcessRecord | undefined)[]): Promise<void> {
    const doomed = this.st.processes.filter((r) => !keep.includes(r));
    for (const r of doomed) await this.stop(r);
  }

  /** Stops the proxy and every process without touching the route, and forgets the environment. */
  async teardown(): Promise<number> {
    const all = [
      ...(this.st.proxy ? [{ pid: this.st.proxy.pid, startTicks: this.st.proxy.startTicks }] : []),
      ...this.st.processes.filter((r) => r.pid !== 0),
    ];
    const stopped = await Promise.all(
      all.map((p) => stopProcess(p.pid, p.startTicks, this.opts.stopGraceMs)),
    );
    clearState(this.dir);
    return stopped.filter(Boolean).length;
  }

  async status(): Promise<LocalStatus> {
    const p = this.st.proxy;
    let route = this.st.route;
    let proxyAlive = false;
    if (p && isAlive(p.pid, p.startTicks)) {
      const h = await this.control().health();
      proxyAlive = h?.pid === p.pid;
      if (proxyAlive)
        route = await this.control()
          .getRoute()
          .catch(() => route);
    }
    return {
      app: this.st.app,
      env: this.st.env,
      port: this.st.port,
      proxyAlive,
      serving: route.length === 0 ? null : (soleVersion(route)?.version ?? this.st.serving),
      processes: this.st.processes.map((r) => ({
        version: r.version,
        pid: r.pid,
        port: r.port,
        alive: r.pid !== 0 && isAlive(r.pid, r.startTicks),
        startedAt: r.startedAt,
        ready: r.ready,
        weight: route.find((e) => e.port === r.port)?.weight ?? 0,
        keepUntil: r.keepUntil,
      })),
    };
  }
}
