import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { AuditInput, AuditStore } from '../audit/types.js';
import type { ConfigSource } from '../config/source.js';
import type { ActivateRequest, DeploymentTarget } from '../targets/types.js';
import { createBuildActivities } from './build.js';
import { createCheckActivities, runCheck } from './checks.js';
import type { CheckSpec } from '../workflows/types.js';
import { createEnvironmentClientActivities } from './environment-client.js';
import { createGateActivities } from './gate.js';
import { createPlanActivities } from './plan.js';
import { createSupersedeActivities } from './supersede.js';
import type { Notifier, NotifyEvent } from '../integrations/notifier.js';

export interface ActivityDeps {
  config: ConfigSource;
  target: DeploymentTarget;
  audit: AuditStore;
  client: Client;
  home: string;
  notifier?: Notifier;
  taskQueue?: string;
}

/** Every activity, built from its dependencies so tests can pass real or stand-in ones. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createPlanActivities(deps.config),
    ...createBuildActivities(deps.home),
    ...createCheckActivities(deps.target),
    ...createEnvironmentClientActivities(deps.client, deps.taskQueue),
    ...createGateActivities(deps.config, deps.client),
    ...createSupersedeActivities(deps.client),
    async activateVersion(req: ActivateRequest & { stepChecks?: CheckSpec[] }) {
      const ctx = Context.current();
      // Each canary step is checked against the canary itself, not the mixed traffic on the public port.
      const checkStep = async (percent: number, canaryPort: number) => {
        for (const check of req.stepChecks ?? []) {
          const problem = await runCheck(canaryPort, check, req.version);
          if (problem) throw new Error(`at ${percent}%: ${problem}`);
        }
      };
      const beat = setInterval(() => ctx.heartbeat('activating'), 2000);
      try {
        return await deps.target.activate(req, {
          progress: (m) => ctx.heartbeat(m),
          signal: ctx.cancellationSignal,
          checkStep,
        });
      } catch (err) {
        // The target has put the previous route back; report a cancellation, not a failure.
        if (ctx.cancellationSignal.aborted)
          throw new CancelledFailure(`activation of ${req.version} was preempted`);
        // A version that never got ready, or a canary that failed its checks, fails the same way again.
        if (err instanceof Error && (err.name === 'NotReadyError' || err.name === 'CanaryFailedError')) {
          throw ApplicationFailure.nonRetryable(err.message, 'DeployFailed');
        }
        throw err;
      } finally {
        clearInterval(beat);
      }
    },
    /** Stops warm versions whose keepPrevious has passed. */
    async reapWarmVersions(input: { app: string; env: string; at?: string }) {
      // The workflow's clock decides what has expired, so the timer and the target agree.
      await deps.target.reap(input.app, input.env, input.at ? new Date(input.at) : undefined);
    },
    async recordAudit(records: AuditInput[]) {
      return deps.audit.append(records);
    },
    async notify(event: NotifyEvent) {
      // Notifications never fail a release: errors are logged and swallowed by the notifier.
      await deps.notifier?.notify(event);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
