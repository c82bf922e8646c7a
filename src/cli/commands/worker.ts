import type { Command } from 'commander';
import { createConfigSource } from '../../config/source.js';
import { createLogger } from '../../logger.js';
import type { Runner } from '../context.js';
import type { SlackSetupOptions } from '../../integrations/slack/setup.js';

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
        const config = createConfigSource(loaded.file);
        const worker = await (
          await loadWorker()
        )({
          config,
          home: ctx.home,
          temporal: ctx.temporal,
          notifier: await slackNotifier({ config, home: ctx.home, temporal: ctx.temporal, logger }),
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

/** The worker pulls in the SDK's native runtime; client-only commands should not pay for loading it. */
export async function loadWorker() {
  return (await import('../../worker.js')).createShipgateWorker;
}

/** Slack notifications when `slack` is configured and its token is set (loaded only then). */
export async function slackNotifier(opts: SlackSetupOptions) {
  if (!opts.config.get().config.slack) return undefined;
  return (await import('../../integrations/slack/setup.js')).slackNotifierFromConfig(opts);
}
