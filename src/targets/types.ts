/** What a deployment target must do. The local target is the first; Kubernetes comes later. */
export interface ActivateRequest {
  app: string;
  env: string;
  /** The environment's public port (the proxy listens here). */
  port: number;
  version: string;
  /** Folder holding the built artifact; the process starts with it as its working directory. */
  artifactDir: string;
  /** Command run in artifactDir; PORT and APP_VERSION are set in its environment. */
  command: string[];
  strategy: 'blue-green' | 'canary' | 'recreate';
  /** Canary traffic steps in percent, e.g. [10, 50, 100]. */
  canarySteps?: number[];
  /** Pause between canary steps, in ms. */
  canaryPauseMs?: number;
  /** How long the previous version stays warm, in ms. */
  keepPreviousMs: number;
  /** Readiness deadline for the new process, in ms. */
  readyTimeoutMs?: number;
}

export interface ActivateHooks {
  /** Called often during long waits, so the caller can heartbeat. */
  progress?: (message: string) => void;
  /** Aborts the activation; the target then returns all traffic to what served before. */
  signal?: AbortSignal;
  /** Called between canary steps; a rejection aborts the canary. */
  checkStep?: (percent: number, canaryPort: number) => Promise<void>;
}

export interface ActivateResult {
  serving: string;
  previous: string | null;
  /** True when the version was already serving and nothing changed (an idempotent retry). */
  alreadyServing: boolean;
  /** True when a warm process was reused (a pointer switch). */
  warm: boolean;
}

export interface TargetProcess {
  version: string;
  pid: number;
  port: number;
  alive: boolean;
  startedAt: string;
  /** False while the process has not yet answered its readiness check. */
  ready?: boolean;
  /** Share of the environment's traffic, in percent; 0 for a warm standby. */
  weight?: number;
  /** For a warm previous version: when reap() may stop it. */
  keepUntil?: string | null;
}

export interface TargetStatus {
  app: string;
  env: string;
  port: number;
  proxyAlive: boolean;
  serving: string | null;
  processes: TargetProcess[];
}

export interface DeploymentTarget {
  activate(req: ActivateRequest, hooks?: ActivateHooks): Promise<ActivateResult>;
  status(app: string, env: string): Promise<TargetStatus | null>;
  /** Stops warm processes whose keepPrevious has passed. */
  reap(app: string, env: string, at?: Date): Promise<void>;
  /** Stops every process recorded under the home folder (`shipgate down`). */
  stopAll(): Promise<{ stopped: number }>;
  /**
   * Brings an environment's data plane back to what its state records (e.g. restarts a dead proxy with its
   * route) and returns its status; null when nothing was ever deployed there. A worker may call it at start.
   */
  ensure?(app: string, env: string): Promise<TargetStatus | null>;
}
