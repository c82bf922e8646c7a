import { httpProbe } from '../http-probe.js';
import type {
  ActivateHooks,
  ActivateResult,
  DeploymentTarget,
  Placement,
  TargetProvider,
  TargetStatus,
} from '../types.js';
import { activate } from './activate.js';
import { LocalEnv, type EnvOptions } from './environment.js';
import { withEnvLock } from './mutex.js';
import { reconcileLocal, type RepairMemory } from './reconcile.js';
import { checkVersion, envDir, listEnvDirs, loadState } from './state.js';
import type { LocalConfig, LocalRequest, LocalStatus } from './types.js';

export interface LocalTargetOptions {
  /** SHIPGATE_HOME: state lives in <home>/targets/<app>/<env>/. */
  home: string;
  /** Between SIGTERM and SIGKILL when stopping a process; default 5000 ms. */
  stopGraceMs?: number;
  /** Diagnostics, e.g. a pino logger's info bound to it. */
  log?: (message: string) => void;
}

/** The local target over one home: opens environments, plus what only a local data plane can do. */
export interface LocalTarget extends TargetProvider {
  open(placement: Placement): DeploymentTarget;
  /** Activates directly, without a placement (benchmarks and tests drive the data plane this way). */
  activate(req: DirectRequest, hooks?: ActivateHooks): Promise<ActivateResult>;
  /** The environment's proxy, port and processes (with pids); null when nothing was ever deployed there. */
  status(app: string, env: string): Promise<LocalStatus | null>;
  /**
   * Brings an environment's data plane back to what its state records (restarts a dead proxy with its route)
   * and returns its status; null when nothing was ever deployed there.
   */
  ensure(app: string, env: string): Promise<LocalStatus | null>;
  /** Stops every proxy and process recorded under home and forgets them (`shipgate down`). */
  stopAll(): Promise<{ stopped: number }>;
}

/**
 * `artifactDir` is the name older callers (bench/pipeline.ts, a test fixture) still use for `artifact`;
 * drop it once they pass `artifact`.
 */
export type DirectRequest =
  LocalRequest | (Omit<LocalRequest, 'artifact'> & { artifact?: undefined; artifactDir: string });

function checkRequest(req: LocalRequest): void {
  checkVersion(req.version);
  if (!Number.isInteger(req.port) || req.port < 1 || req.port > 65535) {
    throw new Error(`invalid port ${req.port} for ${req.app}/${req.env}: expected 1 to 65535`);
  }
  if (!Array.isArray(req.command) || req.command.length === 0) {
    throw new Error(`no command to start ${req.app} ${req.version}`);
  }
  if (!Number.isFinite(req.keepPreviousMs) || req.keepPreviousMs < 0) {
    throw new Error(`invalid keepPreviousMs ${req.keepPreviousMs}: expected 0 or more`);
  }
}

function localConfig(placement: Placement): LocalConfig {
  if (placement.config.kind !== 'local') {
    throw new Error(
      `the local target cannot open ${placement.app}/${placement.env} (kind ${placement.config.kind})`,
    );
  }
  return placement.config;
}

/**
 * The local deployment target: per environment, one proxy process on 127.0.0.1:<port> and one process per
 * version, all detached from the caller. Everything needed to adopt them is in state under home, so any
 * LocalTarget over the same home (in a new worker, after a crash) picks up where the last one stopped.
 */
export function createLocalTarget(options: LocalTargetOptions): LocalTarget {
  const { home } = options;
  const opts: EnvOptions = { stopGraceMs: options.stopGraceMs ?? 5000, log: options.log ?? (() => {}) };

  const activateLocal = (req: LocalRequest, hooks: ActivateHooks = {}): Promise<ActivateResult> => {
    const dir = envDir(home, req.app, req.env);
    checkRequest(req);
    return withEnvLock(
      dir,
      async () => {
        const env = await LocalEnv.openOrCreate(home, req.app, req.env, req.port, opts);
        return activate(env, req, hooks);
      },
      { label: `${req.app}/${req.env}`, waiting: hooks.progress },
    );
  };

  // Read-only and lock-free so it stays fast during a long canary; state files are replaced atomically.
  const status = async (app: string, envName: string): Promise<LocalStatus | null> => {
    const env = LocalEnv.open(home, app, envName, opts);
    return env ? env.status() : null;
  };

  const reap = (app: string, envName: string, at: Date = new Date()): Promise<void> =>
    withEnvLock(
      envDir(home, app, envName),
      async () => {
        const env = LocalEnv.open(home, app, envName, opts);
        if (!env) return;
        await env.ensureProxy();
        env.prune();
        const now = at.getTime();
        const expired = env.st.processes.filter(
          (r) =>
            r.version !== env.st.serving &&
            r.keepUntil !== null &&
            Date.parse(r.keepUntil) <= now &&
            env.weightOf(r) === 0,
        );
        for (const r of expired) {
          opts.log(`${env.label}: stopping ${r.version} (pid ${r.pid}), kept warm until ${r.keepUntil}`);
          await env.stop(r);
        }
      },
      { label: `${app}/${envName}` },
    );

  // Failed repairs per environment folder, so a version that cannot start is retried with a growing pause.
  const repairs = new Map<string, RepairMemory>();

  return {
    open(placement: Placement): DeploymentTarget {
      const { app, env } = placement;
      const { port } = localConfig(placement);
      return {
        kind: 'local',
        activate: (req, hooks) =>
          activateLocal({ ...req, app, env, port, command: placement.build.command ?? [] }, hooks),
        probe: httpProbe(`http://127.0.0.1:${port}`),
        async liveness(version) {
          const procs = (await status(app, env))?.processes.filter((p) => p.version === version) ?? [];
          if (procs.length === 0 || procs.some((p) => p.alive)) return null;
          return `the process of ${version} exited`;
        },
        async status(): Promise<TargetStatus | null> {
          const st = await status(app, env);
          return (
            st && {
              app,
              env,
              reachable: st.proxyAlive,
              serving: st.serving,
              versions: st.processes.map(({ version, alive, ready, weight, keepUntil, startedAt }) => ({
                version,
                alive,
                ready,
                weight,
                keepUntil,
                startedAt,
              })),
            }
          );
        },
        reap: (at) => reap(app, env, at),
        reconcile: (hooks) => reconcileLocal(home, app, env, opts, repairs, hooks),
      };
    },

    activate: (req, hooks) =>
      activateLocal(
        'artifactDir' in req ? { ...req, artifact: req.artifact ?? req.artifactDir } : req,
        hooks,
      ),
    status,

    ensure(app: string, envName: string): Promise<LocalStatus | null> {
      return withEnvLock(
        envDir(home, app, envName),
        async () => {
          const env = LocalEnv.open(home, app, envName, opts);
          if (!env) return null;
          await env.ensureProxy();
          env.prune();
          return env.status();
        },
        { label: `${app}/${envName}` },
      );
    },

    async stopAll(): Promise<{ stopped: number }> {
      const counts = await Promise.all(
        listEnvDirs(home).map((dir) =>
          withEnvLock(
            dir,
            async () => {
              const st = loadState(dir);
              const env = st && LocalEnv.open(home, st.app, st.env, opts);
              return env ? env.teardown() : 0;
            },
            { label: dir },
          ),
        ),
      );
      return { stopped: counts.reduce((a, b) => a + b, 0) };
    },
  };
}
