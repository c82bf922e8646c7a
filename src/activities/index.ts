import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { AuditInput, AuditStore } from '../audit/types.js';
import type { ConfigSource } from '../config/source.js';
import { DeployFailedError } from '../targets/errors.js';
import { placementOf, type PlacementInput } from '../targets/placement.js';
import type { ActivateRequest, Probe, TargetProvider } from '../targets/types.js';
import { FAILURE } from '../protocol/failures.js';
import { createBuildActivities } from './build.js';
import { createCheckActivities, runCheck } from './checks.js';
import type { CheckSpec } from '../workflows/types.js';
import { createDeployConfirmationActivities } from './deploy-confirmation.js';
import { createDriftActivities } from './drift.js';
import { createEnvironmentClientActivities } from './environment-client.js';
import { createIdentityActivities } from './identity.js';
import { createGateActivities } from './gate.js';
import { createTeardownActivities } from './teardown.js';
import { createPlanActivities } from './plan.js';
import { createReleaseOnceActivities } from './release-once.js';
import { createSupersedeActivities } from './supersede.js';
import { createSwitchActivities } from './switch.js';
import type { Notifier, NotifyEvent } from '../integrations/notifier.js';
import { createGithubDeploymentActivities } from '../integrations/github/activities.js';

/**
 * activateVersion's input. Workflows started before targets had kinds (and their recorded histories) send
 * `port` and `artifactDir`; newer ones send `target` and `artifact`. Both are accepted.
 */
export interface ActivateVersionInput extends PlacementInput, Omit<ActivateRequest, 'artifact'> {
  artifact?: string;
  /** @deprecated The local build's folder, from inputs that predate `artifact`. */
  artifactDir?: string;
  /** Run at each canary step against the canary alone. */
  stepChecks?: CheckSpec[];
}

export interface ActivityDeps {
  config: ConfigSource;
  /** Opens each environment's target; the worker passes the registry, fast tests an in-memory target. */
  targets: TargetProvider;
  audit: AuditStore;
  client: Client;
  home: string;
  notifier?: Notifier;
  taskQueue?: string;
  /** Where secrets such as the Slack signing secret are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** For the OIDC issuer's discovery document and keys; default the global fetch. */
  fetch?: typeof fetch;
}

/** Every activity, built from its dependencies so tests can pass real or stand-in ones. */
export function createActivities(deps: ActivityDeps) {
  const activities = {
    ...createPlanActivities(deps.config),
    ...createBuildActivities(deps.home),
    ...createCheckActivities(deps.targets),
    ...createEnvironmentClientActivities(deps.client, deps.taskQueue),
    ...createIdentityActivities({ config: deps.config, env: deps.env ?? process.env, fetch: deps.fetch }),
    ...createDeployConfirmationActivities(deps.client, deps.home, deps.config),
    ...createGateActivities(deps.config, deps.client),
    ...createTeardownActivities(deps.home),
    ...createSupersedeActivities(deps.client),
    ...createDriftActivities(deps.targets, deps.config),
    ...createReleaseOnceActivities(deps.client),
    // GitHub Deployments kept in step (releases started from the Action); the token only from this environment.
    ...createGithubDeploymentActivities({
      config: deps.config,
      client: deps.client,
      env: deps.env ?? process.env,
      notifier: deps.notifier,
      fetch: deps.fetch,
    }),
    async activateVersion(input: ActivateVersionInput) {
      const ctx = Context.current();
      const artifact = input.artifact ?? input.artifactDir;
      if (artifact === undefined) throw new Error(`no artifact to activate ${input.app} ${input.version}`);
      const target = deps.targets.open(placementOf(input));
      // Each canary step is checked against the canary itself, not the mixed traffic on the environment.
      const checkStep = async (percent: number, canary: Probe) => {
        for (const check of input.stepChecks ?? []) {
          const problem = await runCheck(canary, check, input.version);
          if (problem) throw new Error(`at ${percent}%: ${problem}`);
        }
      };
      const beat = setInterval(() => ctx.heartbeat('activating'), 2000);
      try {
        return await target.activate(
          {
            version: input.version,
            artifact,
            strategy: input.strategy,
            canarySteps: input.canarySteps,
            canaryPauseMs: input.canaryPauseMs,
            keepPreviousMs: input.keepPreviousMs,
            readyTimeoutMs: input.readyTimeoutMs,
            ...(input.releaseId ? { releaseId: input.releaseId } : {}),
            ...(input.changeCause ? { changeCause: input.changeCause } : {}),
          },
          { progress: (m) => ctx.heartbeat(m), signal: ctx.cancellationSignal, checkStep },
        );
      } catch (err) {
        // The target has put the previous route back; report a cancellation, not a failure.
        if (ctx.cancellationSignal.aborted)
          throw new CancelledFailure(`activation of ${input.version} was preempted`);
        // A version that never got ready, or a canary that failed its checks, fails the same way again.
        if (err instanceof DeployFailedError)
          throw ApplicationFailure.nonRetryable(err.message, FAILURE.deployFailed);
        throw err;
      } finally {
        clearInterval(beat);
      }
    },
    /** Stops warm versions whose keepPrevious has passed. */
    async reapWarmVersions(input: PlacementInput & { at?: string }) {
      // The workflow's clock decides what has expired, so the timer and the target agree.
      await deps.targets.open(placementOf(input)).reap(input.at ? new Date(input.at) : undefined);
    },
    /** Appends in order; answers how many were new and the chain's head, which workflows keep as their anchor. */
    async recordAudit(records: AuditInput[]) {
      return deps.audit.append(records);
    },
    async notify(event: NotifyEvent) {
      // Notifications never fail a release: errors are logged and swallowed by the notifier.
      await deps.notifier?.notify(event);
    },
  };
  return { ...activities, ...createSwitchActivities(activities) };
}

export type Activities = ReturnType<typeof createActivities>;
