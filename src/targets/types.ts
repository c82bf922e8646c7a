/**
 * The seam between shipgate and where apps run. A target kind (local processes today, Kubernetes next) lives
 * in its own folder under src/targets/ and is listed once in registry.ts; nothing else names it.
 *
 * A `TargetProvider` (one per worker or CLI command) opens the `DeploymentTarget` of one app's environment
 * from that environment's config block. The generic interface knows nothing of ports, processes or commands:
 * the artifact is an opaque reference the build produced, checks go through the target's own `probe`, and
 * the target says itself whether a version is still running.
 *
 * Workload (starting and stopping versions) and traffic (route weights) stay behind one `activate` call: a
 * target must hold its own lock across both and recover from a crash between them, and some strategies (a
 * Kubernetes rolling update) have no separate traffic step. A target may split them internally.
 */
import type { EnvironmentConfig } from '../config/schema.js';
import type { Strategy } from '../protocol/strategies.js';

/** An environment's `target` block from the config, e.g. `{ kind: 'local', port: 18081 }`. */
export type TargetConfig = EnvironmentConfig['target'];
export type TargetKind = TargetConfig['kind'];

/** Which app's environment, and what the config says about reaching it and running its artifacts. */
export interface Placement<C extends TargetConfig = TargetConfig> {
  app: string;
  env: string;
  /** The environment's target block, as the release (or, for a rollback, the live config) snapshotted it. */
  config: C;
  /** The app's build settings that say how to run an artifact: the local build's `command`, an image template. */
  build: { command?: string[]; image?: string };
}

export interface ActivateRequest {
  version: string;
  /** Opaque reference to the built artifact, as the build returned it (a folder, an image reference, ...). */
  artifact: string;
  strategy: Strategy;
  /** Canary traffic steps in percent, e.g. [10, 50, 100]. */
  canarySteps?: number[];
  /** Pause between canary steps, in ms. */
  canaryPauseMs?: number;
  /** How long the previous version stays warm, in ms. */
  keepPreviousMs: number;
  /** Readiness deadline for the new version, in ms. */
  readyTimeoutMs?: number;
  /** The release that deploys it, for targets that label what they run (Kubernetes annotations). */
  releaseId?: string;
  /** Why, in a line (`kubernetes.io/change-cause`): "deploy 1.2.0 by alice", "rollback to 1.1.0 by bob: ...". */
  changeCause?: string;
}

export interface ProbeAnswer {
  status: number;
  body: string;
}

/** One GET of `path`; rejects when nothing answers, with a message that says why (refused, timed out...). */
export type Probe = (path: string, timeoutMs: number) => Promise<ProbeAnswer>;

export interface ActivateHooks {
  /** Called often during long waits, so the caller can heartbeat. */
  progress?: (message: string) => void;
  /** Aborts the activation; the target then returns all traffic to what served before. */
  signal?: AbortSignal;
  /** Called after each canary step but the last; `canary` reaches the canary alone. A rejection aborts it. */
  checkStep?: (percent: number, canary: Probe) => Promise<void>;
}

export interface ActivateResult {
  serving: string;
  previous: string | null;
  /** True when the version was already serving and nothing changed (an idempotent retry). */
  alreadyServing: boolean;
  /** True when a warm instance was reused (a pointer switch). */
  warm: boolean;
  /** The content digest the platform reports it runs (`sha256:...`), where it reports one. */
  digest?: string;
}

export interface VersionStatus {
  version: string;
  /** Running (whether or not it takes traffic). */
  alive: boolean;
  /** Has passed its readiness check. */
  ready: boolean;
  /** Share of the environment's traffic, in percent; 0 for a warm standby. */
  weight: number;
  /** For a warm previous version: when reap() may stop it. */
  keepUntil: string | null;
  startedAt: string;
}

export interface TargetStatus {
  app: string;
  env: string;
  /** The environment's entry point (proxy, service) answers. */
  reachable: boolean;
  /** The version taking all traffic, or null mid-canary and before the first deploy. */
  serving: string | null;
  versions: VersionStatus[];
}

/** What the ledger says serves here: the version and the artifact it was deployed from. */
export interface ExpectedState {
  version: string;
  artifact: string;
}

/** One difference between what the ledger says serves and what the target really runs. */
export interface DriftFinding {
  /** image: another image runs; replicas: scaled (to zero) by hand; selector: traffic goes elsewhere;
   * template: the pod template changed otherwise; missing: an object shipgate manages is gone. */
  what: 'image' | 'replicas' | 'selector' | 'template' | 'missing';
  /** The object that differs, e.g. `deployment/checkout` or `service/checkout`. */
  object: string;
  expected: string;
  actual: string;
}

/** Whether an environment serves, after a reconcile pass did what it could (see DeploymentTarget.reconcile). */
export interface HealthCheck {
  state: 'serving' | 'down';
  /** The version the environment's traffic goes to; null when none was deployed (or mid-canary, none alone). */
  version: string | null;
  /** What was wrong and what the pass did about it, e.g. "proxy 4242 is gone; restarted the proxy ..."; null when all was well. */
  detail: string | null;
}

export interface ReconcileHooks {
  /** Called once a pass has confirmed the environment is down, before it tries to repair it. */
  down?(found: { version: string | null; detail: string }): void;
  /**
   * Whether a dead app process may be started again now. Not while a deploy or rollback of the environment is
   * running: its verification (a soak) must see the crash, not a process the worker brought back behind it.
   */
  mayRestartProcesses?(): Promise<boolean>;
}

/** One app's environment on one target. */
export interface DeploymentTarget {
  readonly kind: TargetKind;
  /** Makes `version` take the environment's traffic by `strategy`; idempotent, so a retried activity is safe. */
  activate(req: ActivateRequest, hooks?: ActivateHooks): Promise<ActivateResult>;
  /** A request to the environment as its users reach it, for smoke checks and verification. */
  probe: Probe;
  /** Why `version` is no longer running, or null when it is (or the target has no record of it). */
  liveness(version: string): Promise<string | null>;
  /** What runs and takes traffic; null when nothing was ever deployed here. */
  status(): Promise<TargetStatus | null>;
  /** Stops warm versions whose keepPrevious has passed by `at` (the workflow's clock). */
  reap(at?: Date): Promise<void>;
  /**
   * What differs between `expected` and what really runs (changed by hand, outside shipgate); empty when
   * nothing does. Kinds that cannot drift (local processes only shipgate starts) leave it out.
   */
  drift?(expected: ExpectedState): Promise<DriftFinding[]>;
  /** Takes what really runs as the current state (after drift) and says which version and artifact that is. */
  adopt?(): Promise<ExpectedState>;
  /**
   * Brings the environment's data plane back to what the target recorded (the worker calls it every second or
   * so): restarts what died, never changes which version takes traffic. null when nothing was deployed here;
   * 'busy' when a deploy (or another worker's pass) holds the environment, so this pass did not look. Kinds
   * whose platform heals itself (Kubernetes) leave it out.
   */
  reconcile?(hooks?: ReconcileHooks): Promise<HealthCheck | 'busy' | null>;
}

/** Opens environments' targets; the registry is one, and so is each kind's provider. */
export interface TargetProvider {
  open(placement: Placement): DeploymentTarget;
}
