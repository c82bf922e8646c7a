import type { Command } from 'commander';
import type { LoadedConfig } from '../../config/load.js';
import { createConfigSource, type ConfigSource } from '../../config/source.js';
import { createLogger } from '../../logger.js';
import type { SlackSetupOptions } from '../../integrations/slack/setup.js';
import type { RunningWorker, WorkerRunOptions } from '../../worker.js';
import type { Runner } from '../context.js';

export function registerWorker(program: Command, run: Runner) {
  program
    .command('worker')
    .description('run a worker: workflows plus the deploy activities of the chosen environments')
    .option(
      '--environments <list>',
      'comma-separated environments whose deploys this worker runs (default: all)',
    )
    .action((o: { environments?: string }) =>
      run(async (ctx) => {
        const loaded = await ctx.requireConfig();
        const logger = createLogger('shipgate-worker');
        const { worker } = await workerFor(loaded.file, {
          home: ctx.home,
          temporal: ctx.temporal,
          environments: o.environments
            ?.split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          logger,
        });
        logger.info(
          { address: ctx.temporal.address, environments: worker.environments, home: ctx.home },
          'worker running',
        );
        await worker.run();
      }),
    );
}

/**
 * A worker over the config file (re-read when it changes), notifying Slack where the config sets it up. The
 * worker and Slack modules load only here: client-only commands do not pay for the SDK's native runtime.
 * `overlay` changes what the worker believes of each version of the file (dev lists its signing keys).
 */
export async function workerFor(
  file: string,
  opts: Omit<WorkerRunOptions, 'config' | 'notifier'> & {
    uiUrl?: string;
    overlay?: (loaded: LoadedConfig) => LoadedConfig;
  },
): Promise<{ config: ConfigSource; worker: RunningWorker }> {
  const { uiUrl, overlay, ...run } = opts;
  const config = overlay ? overlaid(createConfigSource(file), overlay) : createConfigSource(file);
  const { createShipgateWorker } = await import('../../worker.js');
  const notifier = await slackNotifier({ ...run, config, uiUrl });
  return { config, worker: await createShipgateWorker({ ...run, config, notifier }) };
}

/** The source with `overlay` applied once to each config it loads. */
function overlaid(source: ConfigSource, overlay: (loaded: LoadedConfig) => LoadedConfig): ConfigSource {
  const applied = new WeakMap<LoadedConfig, LoadedConfig>();
  return {
    file: source.file,
    get() {
      const loaded = source.get();
      let view = applied.get(loaded);
      if (!view) applied.set(loaded, (view = overlay(loaded)));
      return view;
    },
  };
}

/** Slack notifications when `slack` is configured and its token is set (loaded only then). */
async function slackNotifier(opts: SlackSetupOptions) {
  if (!opts.config.get().config.slack) return undefined;
  return (await import('../../integrations/slack/setup.js')).slackNotifierFromConfig(opts);
}
