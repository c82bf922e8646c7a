/**
 * The fast tier for release logic: the release workflow (with the environment workflows it deploys through) on
 * the time-skipping server, with the real activities over an in-memory target and audit store. Each test gets
 * its own server, app and task queue (see time-skipping-harness.ts).
 *
 * The time-skipping server has no visibility store (no search attributes, no list queries), so releases start
 * without search attributes and `supersedeOlderReleases` is a stand-in that reads the releases this harness
 * started, in start order, instead of listing them.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { AuditRecord } from '../../src/audit/types.js';
import type { NotifyEvent } from '../../src/integrations/notifier.js';
import { environmentWorkflowId, parseReleaseWorkflowId, releaseWorkflowId } from '../../src/protocol/ids.js';
import { environmentQuery, statusQuery, supersedeSignal } from '../../src/workflows/messages.js';
import type {
  AdmitResult,
  ApproveResult,
  EnvironmentSnapshot,
  ReleaseStatus,
} from '../../src/workflows/types.js';
import { exampleConfig, type ExampleConfig } from '../helpers/fixture.js';
import { createMemoryAuditStore, type MemoryAuditStore } from '../helpers/memory-audit-store.js';
import { createMemoryTarget, type MemoryTarget } from '../helpers/memory-target.js';
import { SLACK_SECRET, SLACK_SECRET_ENV } from './proofs.js';
import {
  poll,
  releaseEnded,
  sandboxActivities,
  withSandbox,
  type ReleaseFields,
  type Sandbox,
} from './time-skipping-harness.js';

export { refusal, useTimeSkippingServer } from './time-skipping-harness.js';

/** One release as its users reach it: the same Updates and query the CLI, Slack and the Action use. */
export interface Release {
  readonly version: string;
  readonly handle: WorkflowHandle;
  status(): Promise<ReleaseStatus>;
  /** Polls the status until `pred` holds (polling keeps the server's clock still). */
  waitFor(pred: (s: ReleaseStatus) => boolean, what?: string): Promise<ReleaseStatus>;
  waitStage(stage: string): Promise<ReleaseStatus>;
  /** Each decision as `by` sends it: signed with their key for this release as it stands now. */
  approve(by: string, comment?: string): Promise<ApproveResult>;
  reject(by: string, reason: string): Promise<ReleaseStatus>;
  cancel(by: string, reason: string): Promise<ReleaseStatus>;
  override(by: string, reason: string): Promise<ReleaseStatus>;
  /** Awaits the end (the server skips time meanwhile) and returns the final status and the run's failure type. */
  ended(): Promise<{ status: ReleaseStatus; failure: string | null }>;
  /** The audit records this release wrote, in order. */
  audit(): AuditRecord[];
}

export interface Harness {
  app: string;
  taskQueue: string;
  target: MemoryTarget;
  audit: MemoryAuditStore;
  /** Every notification the release workflows sent (Slack's view), in order. */
  notifications: NotifyEvent[];
  env: TestWorkflowEnvironment;
  /** The sandbox: signing, raw starts and Updates for tests that forge or replay them. */
  sandbox: Sandbox;
  start(version: string, request?: ReleaseFields): Promise<Release>;
  /** Starts (or attaches to) a release the way the CLI does: update-with-start of `admit`. */
  admit(version: string, request?: ReleaseFields): Promise<AdmitResult>;
  release(version: string): Release;
  environment(env: 'staging' | 'production'): Promise<EnvironmentSnapshot>;
}

/** Runs `body` with workers on the time-skipping server, real activities and an in-memory target. */
export async function withReleases<T>(
  tweak: (c: ExampleConfig, now: Date) => void,
  body: (h: Harness) => Promise<T>,
): Promise<T> {
  const target = createMemoryTarget();
  const audit = createMemoryAuditStore();
  const notifications: NotifyEvent[] = [];
  return withSandbox(
    {
      name: 'rel',
      // Ports are never opened: the memory target only reads the config's target block.
      config: (now) => exampleConfig({ staging: 18001, production: 18002 }, (c) => tweak(c, now)),
      activities: (s) => ({
        ...sandboxActivities(s, {
          targets: target,
          audit,
          notifier: { notify: async (e) => void notifications.push(structuredClone(e)) },
          env: { [SLACK_SECRET_ENV]: SLACK_SECRET },
        }),
        /** Stand-in for the visibility query: the releases this harness started, oldest first. */
        async supersedeOlderReleases(input: {
          app: string;
          env: string;
          version: string;
          releaseId: string;
        }) {
          const mine = s.started.indexOf(input.releaseId);
          const superseded: string[] = [];
          let newer: string | null = null;
          for (const [i, id] of s.started.entries()) {
            if (id === input.releaseId) continue;
            const other = s.env.client.workflow.getHandle(id);
            if ((await other.describe()).status.name !== 'RUNNING') continue;
            const version = parseReleaseWorkflowId(id)!.version;
            if (i < mine) {
              await other.signal(supersedeSignal, { by: 'shipgate', version: input.version, env: input.env });
              superseded.push(version);
            } else if (
              ((await other.query(statusQuery)).environments[input.env]?.state ?? 'pending') !== 'pending'
            ) {
              newer = version;
            }
          }
          return { superseded, newer, error: null as string | null };
        },
      }),
    },
    (s) => {
      const { app, taskQueue } = s;
      const client = s.env.client;
      return body({
        app,
        taskQueue,
        target,
        audit,
        notifications,
        env: s.env,
        sandbox: s,
        start: async (version, fields = {}) =>
          releaseOf(s, version, await s.startRelease(version, fields), audit),
        admit: (version, fields = {}) => s.admitRelease(version, fields),
        release: (version) =>
          releaseOf(s, version, client.workflow.getHandle(releaseWorkflowId(app, version)), audit),
        environment: (env) =>
          client.workflow.getHandle(environmentWorkflowId(app, env)).query(environmentQuery),
      });
    },
  );
}

function releaseOf(s: Sandbox, version: string, handle: WorkflowHandle, audit: MemoryAuditStore): Release {
  const status = () => handle.query(statusQuery);
  const waitFor = (pred: (s: ReleaseStatus) => boolean, what = 'the expected state') =>
    poll(status, pred, (last) => `release ${version} never reached ${what}: ${JSON.stringify(last)}`);
  return {
    version,
    handle,
    status,
    waitFor,
    waitStage: (stage) => waitFor((x) => x.stage === stage, `stage ${stage}`),
    approve: (by, comment) => s.approve(handle, by, comment),
    reject: (by, reason) => s.reject(handle, by, reason),
    cancel: (by, reason) => s.cancel(handle, by, reason),
    override: (by, reason) => s.override(handle, by, reason),
    ended: () => releaseEnded(handle),
    // Records the release itself wrote: their ids start with its workflow id.
    audit: () => audit.records.filter((r) => r.id.startsWith(`${handle.workflowId}@`)),
  };
}
