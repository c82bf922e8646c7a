import type { Command } from 'commander';
import { createConfigSource } from '../../config/source.js';
import { createLogger } from '../../logger.js';
import { BadInputError } from '../../client/errors.js';
import type { Runner } from '../context.js';

export function parsePort(flag: string, text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 0 || port > 65535)
    throw new BadInputError(`${flag}: "${text}" is not a port number`);
  return port;
}

export function registerUi(program: Command, run: Runner) {
  program
    .command('ui')
    .description('serve the deployments dashboard (and Prometheus metrics on /metrics)')
    .option('--port <n>', 'port to listen on', '8234')
    .option('--host <address>', 'interface to listen on', '127.0.0.1')
    .option(
      '--temporal-ui-url <url>',
      'the Temporal UI, for links to each release (default: SHIPGATE_UI_URL; none without it)',
    )
    .action((o: { port: string; host: string; temporalUiUrl?: string }) =>
      run(async (ctx) => {
        const port = parsePort('--port', o.port);
        const uiUrl = o.temporalUiUrl ?? process.env.SHIPGATE_UI_URL ?? null;
        if (uiUrl !== null && !/^https?:\/\/[^\s]+$/.test(uiUrl))
          throw new BadInputError(`--temporal-ui-url: "${uiUrl}" is not an http(s) URL`);
        const loaded = await ctx.requireConfig();
        const logger = createLogger('shipgate-ui');
        const { startDashboard } = await import('../../dashboard/index.js');
        const sg = await ctx.shipgate();
        const source = createConfigSource(loaded.file);
        // With ui.oidc, people sign in and act from the page (web-oidc); the origin is known once it listens.
        let origin = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
        const auth = loaded.config.ui?.oidc
          ? (await import('../../dashboard/auth/index.js')).createOidcAuth({
              config: () => source.get().config,
              sg,
              origin: () => origin,
              address: ctx.temporal.address,
              logger,
            })
          : undefined;
        const dashboard = await startDashboard({
          sg,
          auth,
          config: source,
          port,
          host: o.host,
          temporalUiUrl: uiUrl,
          namespace: ctx.temporal.namespace,
          logger,
        });
        origin = dashboard.url;
        logger.info({ url: dashboard.url, address: ctx.temporal.address }, 'dashboard listening');
        ctx.print(`shipgate ui: ${dashboard.url} (metrics: ${dashboard.url}/metrics)`, {
          url: dashboard.url,
          metrics: `${dashboard.url}/metrics`,
        });
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await dashboard.close();
      }),
    );
}
