import type { Command } from 'commander';
import { createLogger } from '../../logger.js';
import { createTargets } from '../../targets/registry.js';
import { startDevServer } from '../../temporal/dev-server.js';
import type { Runner } from '../context.js';
import { workerFor } from './worker.js';

export function registerDev(program: Command, run: Runner) {
  program
    .command('dev')
    .description(
      'the embedded default: Temporal dev server, a worker and the local targets; Ctrl-C stops all',
    )
    .option('--port <n>', 'Temporal frontend port', '7233')
    .option('--ui-port <n>', 'Temporal UI port', '8233')
    .action((o: { port: string; uiPort: string }) =>
      run(async (ctx) => {
        const loaded = await ctx.requireConfig();
        const logger = createLogger('shipgate-dev');
        const server = await startDevServer({
          home: ctx.home,
          port: Number(o.port),
          uiPort: Number(o.uiPort),
        });
        const temporal = { ...ctx.temporal, address: server.address };
        try {
          const { worker } = await workerFor(loaded.file, {
            home: ctx.home,
            temporal,
            logger,
            uiUrl: server.uiUrl,
          });
          ctx.print(
            [
              `shipgate dev is running (state in ${ctx.home})`,
              `  Temporal:    ${server.address}`,
              `  Temporal UI: ${server.uiUrl}`,
              ...Object.entries(loaded.config.apps).flatMap(([app, a]) =>
                Object.entries(a.environments).map(
                  ([env, e]) => `  ${app}/${env}: http://127.0.0.1:${e.target.port} (after its first deploy)`,
                ),
              ),
              'Press Ctrl-C to stop everything.',
            ].join('\n'),
            { address: server.address, ui: server.uiUrl, home: ctx.home },
          );
          await worker.run();
        } finally {
          await createTargets({ home: ctx.home }).stopAll();
          await server.stop();
        }
      }),
    );
}
