import type {
  ActivateHooks,
  ActivateRequest,
  ActivateResult,
  DeploymentTarget,
  TargetStatus,
} from '../types.js';
import { activate } from './activate.js';
import { LocalEnv, type EnvOptions } from './environment.js';
import { withLock } from './mutex.js';
import { checkVersion, envDir, listEnvDirs, loadState } from './state.js';

export interface LocalTargetOptions {
  /** SHIPGATE_HOME: state lives in <home>/targets/<app>/<env>/. */
  home: string;
  /** Between SIGTERM and SIGKILL when stopping a process; default 5000 ms. */
  stopGraceMs?: number;
  /** Diagnostics, e.g. a pino logger's info bound to it. */
  log?: (message: string) => void;
}

export interface LocalTarget extends DeploymentTarget {
  ensure(app: string, env: string): Promise<TargetStatus | null>;
}

function checkRequest(req: ActivateRequest): void {
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

/**
 * The local deployment target: per environment, one proxy process on 127.0.0.1:<port> and one process per
 * version, all detached from the caller. Everything needed to adopt them is in state under home, so any
 * LocalTarget over the same home (in a new worker, after a crash) picks up where the last one stopped.
 */
export function createLocalTarget(options: LocalTargetOptions): LocalTarget {
  const { home } = options;
  const opts: EnvOptions = { stopGraceMs: options.stopGraceMs ?? 5000, log: options.log ?? (() => {}) };

  return {
    activate(req: ActivateRequest, hooks: ActivateHooks = {}): Promise<ActivateResult> {
      const dir = envDir(home, req.app, req.env);
      checkRequest(req);
      return withLock(dir, async () => {
        const env = await LocalEnv.openOrCreate(home, req.app, req.env, req.port, opts);
        return activate(env, req, hooks);
      });
    },

    // Read-only and lock-free so it stays fast during a long canary; state files are replaced atomically.
    async status(app: string, envName: string): Promise<TargetStatus | null> {
      const env = LocalEnv.open(home, app, envName, opts);
      return env ? env.status() : null;
    },

    reap(app: string, envName: string, at: Date = new Date()): Promise<void> {
      return withLock(envDir(home, app, envName), async () => {
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
      });
    },

    ensure(app: string, envName: string): Promise<TargetStatus | null> {
      return withLock(envDir(home, app, envName), async () => {
        const env = LocalEnv.open(home, app, envName, opts);
        if (!env) return null;
        await env.ensureProxy();
        env.prune();
        return env.status();
      });
    },

    async stopAll(): Promise<{ stopped: number }> {
      const counts = await Promise.all(
        listEnvDirs(home).map((dir) =>
          withLock(dir, async () => {
            const st = loadState(dir);
            const env = st && LocalEnv.open(home, st.app, st.env, opts);
            return env ? env.teardown() : 0;
          }),
        ),
      );
      return { stopped: counts.reduce((a, b) => a + b, 0) };
    },
  };
}
