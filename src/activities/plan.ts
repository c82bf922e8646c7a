import type { ConfigSource } from '../config/source.js';
import type { AppConfig, EnvironmentConfig, ShipgateConfig } from '../config/schema.js';
import { environmentChain } from '../config/chain.js';
import type { DeploySpec, EnvironmentPlan, ReleasePlan } from '../workflows/types.js';

/**
 * A failed load says, in `removed`, when the config loaded fine but no longer names the app or environment (with
 * the current groups, which decide who may act on what it left behind); an unreadable config throws instead.
 */
export type Loaded<T> =
  ({ ok: true } & T) | { ok: false; message: string; removed?: { groups: Record<string, string[]> } };

export interface EnvironmentPolicy {
  /** What drift (a change made outside shipgate) does here, and how often it is looked for. */
  onDrift: 'block' | 'adopt' | 'warn';
  driftIntervalMs: number;
  rollbackers: string[];
  rollbackersDescription: string;
  /** The groups whose members may roll back: kept by the environment for when the config no longer names it. */
  rollbackGroups: string[];
  freezers: string[];
  freezersDescription: string;
  ledgerSize: number;
  rollbackDuringWindows: 'allow' | 'deny';
  deploy: DeploySpec;
}

export function toDeploySpec(env: EnvironmentConfig, build: AppConfig['build']): DeploySpec {
  const checks = (env.verify?.checks ?? env.smoke).map((c) => ({
    ...(c.url ? { url: c.url } : {}),
    path: c.path ?? '/',
    status: c.status,
    ...(c.json ? { json: c.json } : {}),
    timeoutMs: c.timeout,
  }));
  return {
    target: env.target,
    // Kept for workers that predate target kinds; only the local target has a port.
    port: env.target.kind === 'local' ? env.target.port : 0,
    command: build.kind === 'local' ? build.command : [],
    // On Kubernetes the strategy belongs to the target block (rolling is the cluster's own).
    strategy: env.target.kind === 'kubernetes' ? env.target.strategy : env.strategy,
    canarySteps: env.canarySteps,
    canaryPauseMs: env.canaryPause,
    keepPreviousMs: env.keepPrevious,
    autoRollback: env.autoRollback,
    verify: {
      checks,
      durationMs: env.verify?.duration ?? 0,
      intervalMs: env.verify?.interval ?? 5000,
      failureLimit: env.verify?.failureLimit ?? 0,
    },
  };
}

function unknownApp(config: ShipgateConfig, app: string): string {
  return `unknown app "${app}" (configured apps: ${Object.keys(config.apps).join(', ')})`;
}

export function buildReleasePlan(config: ShipgateConfig, app: string): Loaded<{ plan: ReleasePlan }> {
  const appConfig = config.apps[app];
  if (!appConfig) return { ok: false, message: unknownApp(config, app) };
  const chain = environmentChain(appConfig);
  if (!Array.isArray(chain)) return { ok: false, message: chain.error };
  const environments: EnvironmentPlan[] = chain.map((name) => {
    const env = appConfig.environments[name]!;
    return {
      name,
      branches: env.branches ?? null,
      approvals: env.approvals,
      allowSelfApproval: env.allowSelfApproval,
      approvalTimeoutMs: env.approvalTimeout,
      approvalChannels: env.approvalChannels,
      waitTimerMs: env.waitTimer,
      windowOverrideGroup: env.windowOverride?.group ?? null,
      supersede: env.supersede,
      deploy: toDeploySpec(env, appConfig.build),
    };
  });
  // All groups are snapshotted: environments without rules let any group member reject.
  const groups = config.groups;
  const build = appConfig.build;
  const plan: ReleasePlan =
    build.kind === 'local'
      ? { app, source: build.source, groups, environments }
      : { app, source: '', image: build.image, groups, environments };
  return { ok: true, plan };
}

/** Who may roll back or freeze: the approval groups plus rollbackGroup, or anyone in any group when there are no rules. */
export function buildEnvironmentPolicy(
  config: ShipgateConfig,
  app: string,
  envName: string,
): Loaded<{ policy: EnvironmentPolicy }> {
  const appConfig = config.apps[app];
  const removed = { groups: config.groups };
  if (!appConfig) return { ok: false, message: unknownApp(config, app), removed };
  const env = appConfig.environments[envName];
  if (!env) {
    return {
      ok: false,
      message: `unknown environment "${envName}" for app ${app} (environments: ${Object.keys(appConfig.environments).join(', ')})`,
      removed,
    };
  }
  const members = (groups: string[]) => [...new Set(groups.flatMap((g) => config.groups[g] ?? []))];
  const allGroups = Object.keys(config.groups);
  const ruleGroups = env.approvals.map((r) => r.group);
  const rollbackGroups = ruleGroups.length
    ? [...ruleGroups, ...(env.rollbackGroup ? [env.rollbackGroup] : [])]
    : allGroups;
  const freezeGroups = env.freezeGroup ? [env.freezeGroup] : allGroups;
  return {
    ok: true,
    policy: {
      rollbackers: members(rollbackGroups),
      rollbackersDescription: `only members of ${[...new Set(rollbackGroups)].join(', ') || 'a group'} may`,
      rollbackGroups: [...new Set(rollbackGroups)],
      freezers: members(freezeGroups),
      freezersDescription: `only members of ${[...new Set(freezeGroups)].join(', ') || 'a group'} may`,
      ledgerSize: env.ledgerSize,
      onDrift: env.onDrift,
      driftIntervalMs: env.driftInterval,
      rollbackDuringWindows: env.rollbackDuringWindows,
      deploy: toDeploySpec(env, appConfig.build),
    },
  };
}

export function createPlanActivities(config: ConfigSource) {
  return {
    async loadReleasePlan({ app }: { app: string }) {
      return buildReleasePlan(config.get().config, app);
    },
    async loadEnvironmentPolicy({ app, env }: { app: string; env: string }) {
      return buildEnvironmentPolicy(config.get().config, app, env);
    },
  };
}
