import type { Command } from 'commander';
import path from 'node:path';
import { createLogger } from '../../logger.js';
import { createTargets } from '../../targets/registry.js';
import { startDevServer } from '../../temporal/dev-server.js';
import type { Runner } from '../context.js';
import { ensureKey, loginsWithoutKeys, withKeys, type PersonKey } from '../keys.js';
import { workerFor } from './worker.js';
import { parsePort } from './ui.js';
import { ShipgateClient } from '../../client.js';
import { startDashboard, type Dashboard } from '../../dashboard/index.js';

const DEFAULT_DASHBOARD_PORT = '8234';

export function registerDev(program: Command, run: Runner) {
  program
    .command('dev')
    .description(
      'the embedded default: Temporal dev server, a worker and the local targets; Ctrl-C stops all',
    )
    .option('--port <n>', 'Temporal frontend port', '7233')
    .option('--ui-port <n>', 'Temporal UI port', '8233')
    .option(
      '--dashboard-port <n>',
      "shipgate's dashboard (shipgate ui) port; a free one when the default is taken",
      DEFAULT_DASHBOARD_PORT,
    )
    .action((o: { port: string; uiPort: string; dashboardPort: string }) =>
      run(async (ctx) => {
        const dashboardPort = parsePort('--dashboard-port', o.dashboardPort);
        const loaded = await ctx.requireConfig();
        const logger = createLogger('shipgate-dev');
        // Under identity: proven every command is signed. Whoever the config names without a key gets one here,
        // for this dev setup only: the worker lists it for them; the config file is left as it is.
        const keys: Record<string, PersonKey> = {};
        if (loaded.config.identity === 'proven')
          for (const login of loginsWithoutKeys(loaded))
            keys[login] = await ensureKey(path.join(ctx.home, 'keys'), login, `${login}@shipgate-dev`);
        const server = await startDevServer({
          home: ctx.home,
          port: Number(o.port),
          uiPort: Number(o.uiPort),
        });
        const temporal = { ...ctx.temporal, address: server.address };
        let dashboard: Dashboard | undefined;
        try {
          const { worker, config } = await workerFor(loaded.file, {
            home: ctx.home,
            temporal,
            logger,
            uiUrl: server.uiUrl,
            overlay: Object.keys(keys).length ? (l) => withKeys(l, keys) : undefined,
          });
          const sg = await ShipgateClient.connect(temporal);
          const board = (port: number) =>
            startDashboard({
              sg,
              config,
              port,
              temporalUiUrl: server.uiUrl,
              namespace: temporal.namespace,
              logger,
            });
          // The default port taken (another dev setup): any free one, printed below, rather than no dev at all.
          dashboard = await board(dashboardPort).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'EADDRINUSE' || o.dashboardPort !== DEFAULT_DASHBOARD_PORT) throw err;
            return board(0);
          });
          const rel = (file: string) => {
            const r = path.relative(process.cwd(), file);
            return r && !r.startsWith('..') ? r : file;
          };
          const signing = Object.entries(keys);
          ctx.print(
            [
              `shipgate dev is running (state in ${ctx.home})`,
              `  Temporal:    ${server.address}`,
              `  Temporal UI: ${server.uiUrl}`,
              `  Dashboard:   ${dashboard.url} (metrics: ${dashboard.url}/metrics)`,
              ...Object.entries(loaded.config.apps).flatMap(([app, a]) =>
                Object.entries(a.environments).map(([env, e]) =>
                  e.target.kind === 'local'
                    ? `  ${app}/${env}: http://127.0.0.1:${e.target.port} (after its first deploy)`
                    : `  ${app}/${env}: deployment ${e.target.namespace}/${e.target.deployment} (${e.target.strategy})`,
                ),
              ),
              ...(signing.length
                ? [
                    `  Signing keys for this dev setup (${loaded.file} lists none for them): ${signing.map(([l, k]) => `${l} ${rel(k.file)}`).join(', ')}`,
                    `  Sign with --key, e.g. shipgate approve <app> <version> --as ${signing[0]![0]} --key ${rel(signing[0]![1].file)}`,
                  ]
                : []),
              'Press Ctrl-C to stop everything.',
            ].join('\n'),
            {
              address: server.address,
              ui: server.uiUrl,
              dashboard: dashboard.url,
              home: ctx.home,
              keys: Object.fromEntries(signing.map(([l, k]) => [l, k.file])),
            },
          );
          await worker.run();
        } finally {
          await dashboard?.close();
          await createTargets({ home: ctx.home }).stopAll();
          await server.stop();
        }
      }),
    );
}
