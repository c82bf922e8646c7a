/**
 * Builds the worker's Slack notifier from the config and the environment: with `slack` configured and its
 * token variable set. Otherwise the worker runs without Slack (with a warning when `slack` is configured).
 */
import type { ShipgateClient } from '../../client.js';
import type { ConfigSource } from '../../config/source.js';
import type { Logger } from '../../logger.js';
import type { TemporalOptions } from '../../temporal/connect.js';
import type { Notifier } from '../notifier.js';
import { releaseWorkflowId } from '../../protocol/ids.js';
import { createSlackNotifier } from './notifier.js';

export interface SlackSetupOptions {
  config: ConfigSource;
  home: string;
  temporal: TemporalOptions;
  logger: Logger;
  /** The Temporal UI's base URL for links on cards (default: SHIPGATE_UI_URL). */
  uiUrl?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * The first-execution run id of the release running for app and version, or null when none runs. A release
 * never continues as new, so while it runs, its described run is its first one.
 */
export async function runningReleaseRun(
  sg: ShipgateClient,
  app: string,
  version: string,
): Promise<string | null> {
  try {
    const d = await sg.client.workflow.getHandle(releaseWorkflowId(app, version)).describe();
    if (d.status.name !== 'RUNNING') return null;
    return d.raw.workflowExecutionInfo?.firstRunId || d.runId;
  } catch (err) {
    if ((err as Error)?.name === 'WorkflowNotFoundError') return null;
    throw err;
  }
}

export async function slackNotifierFromConfig(opts: SlackSetupOptions): Promise<Notifier | undefined> {
  const env = opts.env ?? process.env;
  const slack = opts.config.get().config.slack;
  if (!slack) return undefined;
  const token = env[slack.tokenEnv];
  if (!token) {
    opts.logger.warn(
      { tokenEnv: slack.tokenEnv },
      `slack is configured but ${slack.tokenEnv} is not set: running without Slack notifications`,
    );
    return undefined;
  }
  const { ShipgateClient } = await import('../../client.js');
  // The notifier reads environments (for "Roll back to X" buttons) through its own lazily opened client.
  let client: Promise<ShipgateClient> | undefined;
  const sg = () =>
    (client ??= ShipgateClient.connect(opts.temporal).catch((err: unknown) => {
      client = undefined; // try again next time
      throw err;
    }));
  opts.logger.info({ channel: slack.channel, apiUrl: slack.apiUrl }, 'Slack notifications on');
  return createSlackNotifier({
    config: opts.config,
    token,
    logger: opts.logger,
    home: opts.home,
    uiUrl: opts.uiUrl ?? (env.SHIPGATE_UI_URL || undefined),
    namespace: opts.temporal.namespace,
    environmentState: async (app, environment) => (await sg()).environmentState(app, environment),
    releaseRun: async (app, version) => runningReleaseRun(await sg(), app, version),
  });
}
