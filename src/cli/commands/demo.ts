import type { Command } from 'commander';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ShipgateClient, type FollowOptions } from '../../client.js';
import { EXIT, toShipgateError } from '../../client/errors.js';
import { createAuditStore } from '../../audit/registry.js';
import { createLogger } from '../../logger.js';
import { createTargets } from '../../targets/registry.js';
import { startDevServer } from '../../temporal/dev-server.js';
import { freePort } from '../../temporal/ports.js';
import { PROJECT_ROOT } from '../../temporal/binaries.js';
import type { Runner } from '../context.js';
import { workerFor } from './worker.js';

/** The demo's own config: short timers, and a maintenance window that opens 12 hours from now, never during the demo. */
export function demoConfig(stagingPort: number, productionPort: number, now = new Date()) {
  const windowHour = (now.getUTCHours() + 12) % 24;
  return {
    groups: { 'team-leads': ['alice', 'bob', 'carol'], 'release-managers': ['dave'] },
    apps: {
      hello: {
        build: { kind: 'local', source: path.join(PROJECT_ROOT, 'examples', 'hello-service') },
        environments: {
          staging: {
            branches: ['main'],
            target: { kind: 'local', port: stagingPort },
            smoke: [
              { path: '/smoke', status: 200 },
              { path: '/version', json: { version: '{{version}}' } },
            ],
          },
          production: {
            after: 'staging',
            branches: ['main'],
            target: { kind: 'local', port: productionPort },
            approvals: [{ group: 'team-leads', count: 2 }],
            approvalTimeout: '10m',
            waitTimer: '3s',
            windows: [
              {
                name: 'nightly-maintenance',
                kind: 'deny',
                schedule: `0 ${windowHour} * * *`,
                duration: '1h',
                timezone: 'UTC',
              },
            ],
            windowOverride: { group: 'release-managers' },
            smoke: [
              { path: '/smoke', status: 200 },
              { path: '/version', json: { version: '{{version}}' } },
            ],
          },
        },
      },
    },
  };
}

export function registerDemo(program: Command, run: Runner) {
  program
    .command('demo')
    .description(
      'a narrated scenario on the embedded default: v1 through staging, approvals and production; v2; roll back to v1',
    )
    .action(() =>
      run(async (ctx) => {
        const started = Date.now();
        const say = (text: string) =>
          process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}\n`);
        const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-demo-'));
        const [stagingPort, productionPort] = [await freePort(), await freePort()];
        const configFile = path.join(home, 'shipgate.yaml');
        await writeFile(configFile, stringify(demoConfig(stagingPort, productionPort)));
        say(`Demo home ${home}; config ${configFile}`);
        say('Starting the embedded Temporal dev server…');
        const server = await startDevServer({ home });
        const temporal = { ...ctx.temporal, address: server.address };
        const logger = createLogger('shipgate-demo', 'warn');
        const { config, worker } = await workerFor(configFile, { home, temporal, logger });
        const running = worker.run();
        const sg = await ShipgateClient.connect(temporal);
        /** Follows the release until `until`, narrating each stage it enters. */
        const follow = async (version: string, until: FollowOptions['until']) => {
          let stage = '';
          const { status } = await sg.follow('hello', version, {
            until,
            onStatus: (st) => {
              if (st.stage !== stage) say(`  stage → ${st.stage}`);
              stage = st.stage;
            },
          });
          return status;
        };
        say(
          `Temporal UI: ${server.uiUrl}  (staging http://127.0.0.1:${stagingPort}, production http://127.0.0.1:${productionPort})`,
        );
        try {
          const ship = async (version: string, commit: string) => {
            say(`▶ carol pushes ${commit} to main: release hello ${version}`);
            await sg.startRelease({
              app: 'hello',
              version,
              commit,
              branch: 'main',
              actor: 'carol',
              via: 'cli',
            });
            await follow(version, (st) => st.stage === 'awaiting-approval');
            say(
              `  staging answers: ${await (await fetch(`http://127.0.0.1:${stagingPort}/version`)).text()}`,
            );
            try {
              await sg.approve('hello', version, { by: 'carol', via: 'cli', comment: 'my own release' });
            } catch (err) {
              const refused = toShipgateError(err, temporal.address).message;
              say(`  ✘ carol, a team lead, tries to approve her own release — refused: ${refused}`);
            }
            for (const lead of ['alice', 'bob']) {
              const r = await sg.approve('hello', version, {
                by: lead,
                via: 'cli',
                comment: `looks good (${lead})`,
              });
              say(`  ✔ ${lead} approves — team-leads ${r.tally[0]?.have}/${r.tally[0]?.count}`);
            }
            const s = await follow(version, 'production');
            say(
              `  release ${version}: ${s.state}; production answers ${await (await fetch(`http://127.0.0.1:${productionPort}/version`)).text()}`,
            );
            if (s.state !== 'succeeded') throw new Error(`release ${version} ended ${s.state}: ${s.reason}`);
          };
          await ship('1.0.0', 'c0ffee1');
          await ship('1.1.0', 'c0ffee2');
          say('▶ alice rolls production back to 1.0.0');
          const accepted = await sg.rollback('hello', 'production', {
            to: '1.0.0',
            by: 'alice',
            via: 'cli',
            reason: 'demo: customers report slow checkout on 1.1.0',
            requestId: 'demo-rollback',
          });
          const t0 = Date.now();
          const entry = await sg.waitForOperation('hello', 'production', accepted.opId, 50);
          say(
            `  rollback ${entry.outcome} in ${Date.now() - t0} ms; production answers ${await (await fetch(`http://127.0.0.1:${productionPort}/version`)).text()}`,
          );

          const { rows: history } = await sg.history('hello', 'production');
          process.stdout.write('\nProduction history (newest first):\n');
          for (const r of history) {
            const what =
              r.action === 'rollback' ? `rollback ${r.fromVersion} → ${r.version}` : `deploy ${r.version}`;
            process.stdout.write(
              `  ${r.at}  ${what.padEnd(24)} ${r.outcome.padEnd(10)} by ${r.actor}${r.approvers.length ? ` (approved by ${r.approvers.join(', ')})` : ''}${r.reason ? ` — ${r.reason}` : ''}\n`,
            );
          }
          const audit = createAuditStore(config.get().config, home);
          const records = await audit.read();
          const chain = await audit.verify();
          process.stdout.write(
            `\nAudit trail (${records.length} records, hash chain ${chain.ok ? 'intact' : `BROKEN at ${chain.brokenAt}`}):\n`,
          );
          for (const r of records) {
            process.stdout.write(
              `  #${String(r.seq).padStart(3)} ${r.at}  ${r.type.padEnd(20)} ${(r.env ?? '').padEnd(10)} ${(r.version ?? '').padEnd(6)} ${r.actor}${r.reason ? ` — ${r.reason}` : ''}\n`,
            );
          }
          say(`Demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
          return EXIT.ok;
        } finally {
          say('Stopping the worker, the local targets and the dev server…');
          worker.shutdown();
          await running.catch(() => undefined);
          await sg.close();
          await createTargets({ home }).stopAll();
          await server.stop();
          await rm(home, { recursive: true, force: true });
        }
      }),
    );
}
