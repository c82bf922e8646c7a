import type { Command } from 'commander';
import { createConfigSource } from '../../config/source.js';
import { createLogger } from '../../logger.js';
import { BadInputError } from '../../client/errors.js';
import type { Runner } from '../context.js';

export function registerSlack(program: Command, run: Runner) {
  program
    .command('slack')
    .description("serve Slack's interactivity (Approve, Reject, Roll back) on POST /slack/events")
    .option('--port <n>', 'port to listen on', '3000')
    .option('--host <address>', 'interface to listen on (put a TLS proxy in front)', '127.0.0.1')
    .action((o: { port: string; host: string }) =>
      run(async (ctx) => {
        const port = Number(o.port);
        if (!/^\d+$/.test(o.port) || port < 0 || port > 65535)
          throw new BadInputError(`--port: "${o.port}" is not a port number`);
        const loaded = await ctx.requireConfig();
        const slack = loaded.config.slack;
        const secretEnv = slack?.signingSecretEnv ?? 'SLACK_SIGNING_SECRET';
        const signingSecret = process.env[secretEnv];
        if (!signingSecret) {
          throw new BadInputError(
            `${secretEnv} is not set: the Slack endpoint needs the app's signing secret to verify requests (slack.signingSecretEnv in ${loaded.file})`,
          );
        }
        const logger = createLogger('shipgate-slack');
        const tokenEnv = slack?.tokenEnv ?? 'SLACK_BOT_TOKEN';
        const token = process.env[tokenEnv];
        if (!token)
          logger.warn(`${tokenEnv} is not set: the rollback dialog is unavailable (buttons still work)`);
        // Loaded only here: Bolt and the Web API client are for this command alone.
        const [{ runSlackEndpoint }, { createWebClient }, { createAuditStore }] = await Promise.all([
          import('../../integrations/slack/server.js'),
          import('../../integrations/slack/web.js'),
          import('../../audit/registry.js'),
        ]);
        const sg = await ctx.shipgate();
        await runSlackEndpoint({
          config: createConfigSource(loaded.file),
          signingSecret,
          sg,
          audit: createAuditStore(loaded.config, ctx.home),
          logger,
          web: token ? createWebClient(token, { apiUrl: slack?.apiUrl, logger }) : undefined,
          apiUrl: slack?.apiUrl,
          address: ctx.temporal.address,
          port,
          host: o.host,
          onListening: (url) =>
            logger.info({ url, address: ctx.temporal.address, home: ctx.home }, 'slack endpoint listening'),
        });
      }),
    );
}
