import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type LogLevel,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities } from './activities/index.js';
import { openAuditStore } from './audit/registry.js';
import type { ConfigSource } from './config/source.js';
import { createTargets } from './targets/registry.js';
import { connectClient, connectionOptions, type TemporalOptions } from './temporal/connect.js';
import { ensureSearchAttributes } from './temporal/search-attributes.js';
import { ensureNamespace } from './temporal/namespace.js';
import { DEFAULT_TASK_QUEUE, environmentTaskQueue } from './protocol/ids.js';
import type { Notifier } from './integrations/notifier.js';
import type { Logger } from './logger.js';
import { startSelfHealing } from './self-healing.js';
import { workflowCacheSize, workflowTaskSlots } from './policy/worker-tuning.js';

export interface WorkerRunOptions {
  config: ConfigSource;
  home: string;
  temporal: TemporalOptions;
  /** Environments whose deploy activities this worker runs; default: every environment in the config. */
  environments?: string[];
  taskQueue?: string;
  notifier?: Notifier;
  logger: Logger;
}

/** Workflow code is bundled from source next to this file (.ts under vitest/tsx, .js once compiled). */
export function workflowsPath(): string {
  const here = fileURLToPath(import.meta.url);
  return path.join(path.dirname(here), 'workflows', `index${path.extname(here)}`);
}

export interface RunningWorker {
  run(): Promise<void>;
  shutdown(): void;
  environments: string[];
}

let runtimeInstalled = false;
/** The SDK's own logs are noisy at INFO; shipgate's pino logs carry what operators need. */
function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: new DefaultLogger((process.env.SHIPGATE_SDK_LOG_LEVEL ?? 'WARN') as LogLevel),
    });
  } catch {
    // Already installed by the embedding program.
  }
}

export async function createShipgateWorker(opts: WorkerRunOptions): Promise<RunningWorker> {
  installRuntime();
  // Refused before connecting: a typo in the knob should not surface as a half-started worker.
  const cache = workflowCacheSize(process.env.SHIPGATE_WORKFLOW_CACHE);
  if ('error' in cache) throw new Error(cache.error);
  const cacheSize = cache.size;
  const { connection, client } = await connectClient(opts.temporal);
  // Before search attributes: a missing namespace would first show as a misleading search-attribute warning.
  const ns = await ensureNamespace(connection, opts.temporal.namespace, { address: opts.temporal.address });
  if (ns.created) opts.logger.info({ namespace: opts.temporal.namespace }, 'created the Temporal namespace');
  const sa = await ensureSearchAttributes(connection, opts.temporal.namespace);
  if (sa.created.length) opts.logger.info({ created: sa.created }, 'registered search attributes');
  if (sa.error)
    opts.logger.warn(
      { error: sa.error },
      'could not register search attributes; create them ahead of time (see README)',
    );
  const native = await NativeConnection.connect(
    connectionOptions(opts.temporal) as Parameters<typeof NativeConnection.connect>[0],
  );
  const taskQueue = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
  const config = opts.config.get().config;
  const targets = createTargets({ home: opts.home, log: (m) => opts.logger.info(m) });
  const activities = createActivities({
    config: opts.config,
    // Each activity opens the target its environment's config names (the release's snapshot of it).
    targets,
    // A store that cannot be used (a missing bucket, no Object Lock where asked) stops the start, naming the field.
    audit: await openAuditStore(config, opts.home),
    client,
    home: opts.home,
    notifier: opts.notifier,
    taskQueue,
    // The trust root for proofs: the Slack signing secret is read from the worker's own environment.
    env: process.env,
  });
  const allEnvs = [...new Set(Object.values(config.apps).flatMap((a) => Object.keys(a.environments)))];
  const environments = opts.environments ?? allEnvs;
  // Only the environments this worker serves load their credentials, and a bad kubeconfig or context stops
  // the start here, naming the environment, instead of failing the first deploy.
  for (const [app, appConfig] of Object.entries(config.apps))
    for (const env of environments) {
      const envConfig = appConfig.environments[env];
      if (envConfig) targets.open({ app, env, config: envConfig.target, build: {} });
    }
  const base: Partial<WorkerOptions> = { connection: native, namespace: opts.temporal.namespace, activities };
  const workers = [
    await Worker.create({
      ...base,
      taskQueue,
      workflowsPath: workflowsPath(),
      // The sticky cache bounds the worker's memory, not the number of waiting releases (src/policy/worker-tuning.ts).
      maxCachedWorkflows: cacheSize,
      maxConcurrentWorkflowTaskExecutions: workflowTaskSlots(cacheSize),
    }),
    ...(await Promise.all(
      environments.map((env) =>
        Worker.create({
          ...base,
          taskQueue: environmentTaskQueue(env, taskQueue),
          // Cancellation reaches an activity only through a heartbeat reply; keep that under a second.
          maxHeartbeatThrottleInterval: '500ms',
          maxConcurrentActivityTaskExecutions: 20,
        }),
      ),
    )),
  ];
  let healing: ReturnType<typeof startSelfHealing> | undefined;
  return {
    environments,
    async run() {
      // The data plane heals itself: each environment this worker serves is looked at every second, and what
      // died is restarted on its recorded route (src/self-healing.ts).
      healing = startSelfHealing({
        config: opts.config,
        targets,
        environments,
        client,
        notifier: opts.notifier,
        logger: opts.logger,
      });
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        // Before the connection closes, and before a caller (dev, demo) stops the data plane it would restart.
        await healing.stop();
        await native.close();
        await connection.close();
      }
    },
    shutdown() {
      void healing?.stop();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
