import type { Command } from 'commander';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ShipgateClient, sshProver, type FollowOptions, type Prover } from '../../client.js';
import { EXIT, toShipgateError } from '../../client/errors.js';
import { esc } from '../../client/text.js';
import { verifyReleaseProofs } from '../../client/verify-approvals.js';
import { verifyAudit } from '../../client/audit-verify.js';
import { createAuditStore } from '../../audit/registry.js';
import { createLogger } from '../../logger.js';
import { createTargets } from '../../targets/registry.js';
import { startDevServer } from '../../temporal/dev-server.js';
import { freePort } from '../../temporal/ports.js';
import { PROJECT_ROOT } from '../../temporal/binaries.js';
import { startDemoCluster } from '../../dev/kube-demo-cluster.js';
import type { Runner } from '../context.js';
import { ensureKey, type PersonKey } from '../keys.js';
import { formatVerdict } from './audit.js';
import { workerFor } from './worker.js';

const DEMO_PEOPLE = ['alice', 'bob', 'carol', 'dave'] as const;
type DemoLogin = (typeof DEMO_PEOPLE)[number];

/** An SSH key pair per demo person, made by ssh-keygen as anyone would make one. */
async function demoKeys(dir: string): Promise<Record<DemoLogin, PersonKey>> {
  const keys = {} as Record<DemoLogin, PersonKey>;
  for (const login of DEMO_PEOPLE) keys[login] = await ensureKey(dir, login, `${login}@shipgate-demo`);
  return keys;
}

/**
 * The demo's own config: short timers, a maintenance window that opens 12 hours from now (never during the
 * demo), and each person's public SSH key: every command is signed, as under any `identity: proven` config.
 */
/** Where the demo's environments run: the build and each environment's target block. */
export interface DemoPlacement {
  build: Record<string, unknown>;
  staging: Record<string, unknown>;
  production: Record<string, unknown>;
}

export const localPlacement = (stagingPort: number, productionPort: number): DemoPlacement => ({
  build: { kind: 'local', source: path.join(PROJECT_ROOT, 'examples', 'hello-service') },
  staging: { kind: 'local', port: stagingPort },
  production: { kind: 'local', port: productionPort },
});

export function demoConfig(placement: DemoPlacement, publicKeys: Record<string, string>, now = new Date()) {
  const windowHour = (now.getUTCHours() + 12) % 24;
  return {
    groups: { 'team-leads': ['alice', 'bob', 'carol'], 'release-managers': ['dave'] },
    people: Object.fromEntries(Object.entries(publicKeys).map(([login, key]) => [login, { sshKeys: [key] }])),
    apps: {
      hello: {
        build: placement.build,
        environments: {
          staging: {
            branches: ['main'],
            target: placement.staging,
            smoke: [
              { path: '/smoke', status: 200 },
              { path: '/version', json: { version: '{{version}}' } },
            ],
          },
          production: {
            after: 'staging',
            branches: ['main'],
            target: placement.production,
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
    .option(
      '--kubernetes',
      'run the same story on a real Kubernetes control plane started here (rolling staging, blue-green production)',
    )
    .action((o: { kubernetes?: boolean }) =>
      run(async (ctx) => {
        const started = Date.now();
        const say = (text: string) =>
          process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}\n`);
        const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-demo-'));
        const site = o.kubernetes ? await kubernetesSite(home, say) : await localSite();
        // A control plane left running by a failed start would outlive the demo; stopping twice is harmless.
        try {
          const configFile = path.join(home, 'shipgate.yaml');
          const keys = await demoKeys(path.join(home, 'keys'));
          const publicKeys = Object.fromEntries(DEMO_PEOPLE.map((l) => [l, keys[l].publicKey]));
          await writeFile(configFile, stringify(demoConfig(site.placement, publicKeys)));
          /** Signs as `login` with that person's key, as `--as login --key keys/<login>` does. */
          const as = (login: DemoLogin): Prover => sshProver({ login, keyFile: keys[login].file });
          say(`Demo home ${home}; config ${configFile}`);
          say(
            `SSH keys for ${DEMO_PEOPLE.join(', ')} in ${path.join(home, 'keys')} (ssh-keygen, ed25519); their public keys are under people in the config, and every command below is signed`,
          );
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
          const refusal = (err: unknown) => esc(toShipgateError(err, temporal.address).message);
          say(`Temporal UI: ${server.uiUrl}  (${site.where})`);
          try {
            const ship = async (version: string, commit: string, forgery: boolean) => {
              say(`▶ carol pushes ${commit} to main: release hello ${version}, signed with carol's key`);
              await sg.release({ app: 'hello', version, commit, branch: 'main', prove: as('carol') });
              await follow(version, (st) => st.stage === 'awaiting-approval');
              say(`  staging answers: ${await site.answers('staging')}`);
              try {
                await sg.approve({ app: 'hello', version, comment: 'my own release', prove: as('carol') });
              } catch (err) {
                say(`  ✘ carol, a team lead, tries to approve her own release — refused: ${refusal(err)}`);
              }
              if (forgery) {
                // Anyone with a Temporal client can send an approval naming alice; only alice's key can sign one.
                try {
                  await sg.approve({
                    app: 'hello',
                    version,
                    prove: sshProver({ login: 'alice', keyFile: keys.dave.file }),
                  });
                } catch (err) {
                  say(`  ✘ dave signs an approval as alice with his own key — refused: ${refusal(err)}`);
                }
              }
              for (const lead of ['alice', 'bob'] as const) {
                const r = await sg.approve({
                  app: 'hello',
                  version,
                  comment: `looks good (${lead})`,
                  prove: as(lead),
                });
                say(
                  `  ✔ ${lead} approves, signed with ${lead}'s key — team-leads ${r.tally[0]?.have}/${r.tally[0]?.count}`,
                );
              }
              const s = await follow(version, 'production');
              say(`  release ${version}: ${s.state}; production answers ${await site.answers('production')}`);
              if (s.state !== 'succeeded')
                throw new Error(`release ${version} ended ${s.state}: ${s.reason}`);
            };
            await ship('1.0.0', 'c0ffee1', true);
            await ship('1.1.0', 'c0ffee2', false);
            say("▶ alice rolls production back to 1.0.0, signed with alice's key");
            const accepted = await sg.rollback({
              app: 'hello',
              env: 'production',
              to: '1.0.0',
              reason: 'demo: customers report slow checkout on 1.1.0',
              requestId: 'demo-rollback',
              prove: as('alice'),
            });
            const t0 = Date.now();
            const entry = await sg.waitForOperation('hello', 'production', accepted.opId, 50);
            say(
              `  rollback ${entry.outcome} in ${Date.now() - t0} ms; production answers ${await site.answers('production')}`,
            );

            const { rows: history } = await sg.history('hello', 'production');
            process.stdout.write('\nProduction history (newest first):\n');
            for (const r of history) {
              const what =
                r.action === 'rollback' ? `rollback ${r.fromVersion} → ${r.version}` : `deploy ${r.version}`;
              process.stdout.write(
                `  ${esc(r.at)}  ${esc(what).padEnd(24)} ${r.outcome.padEnd(10)} by ${esc(r.actor)}${r.approvers.length ? ` (approved by ${r.approvers.map(esc).join(', ')})` : ''}${r.reason ? ` — ${esc(r.reason)}` : ''}\n`,
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
                `  #${String(r.seq).padStart(3)} ${esc(r.at)}  ${r.type.padEnd(20)} ${esc(r.env ?? '').padEnd(10)} ${esc(r.version ?? '').padEnd(6)} ${esc(r.actor)}${r.reason ? ` — ${esc(r.reason)}` : ''}\n`,
              );
            }
            // Every proof is kept: anyone can check later, with the public keys alone, who approved what.
            process.stdout.write(
              "\nEvery proof is kept. To check a release's proofs again, offline, with only the public keys in the config:\n" +
                '  shipgate audit verify-approvals <app> <version> --config shipgate.yaml\n' +
                `Here, for hello 1.1.0 (shipgate audit verify-approvals hello 1.1.0 --config ${configFile} --address ${temporal.address}):\n`,
            );
            if (site.describe) process.stdout.write(`\n${await site.describe()}\n`);
            const verdict = await verifyReleaseProofs(sg, config.get().config, 'hello', '1.1.0');
            process.stdout.write(`${formatVerdict(verdict)}\n`);
            if (!verdict.ok) throw new Error("the demo release's proofs did not verify");
            // Last, the whole trail as an auditor checks it: every hash and link, the heads Temporal recorded,
            // the records as the workflows sent them, the ledgers and the proofs (shipgate audit verify).
            const checked = await verifyAudit({ store: audit, config: config.get().config, sg });
            process.stdout.write(`\n$ shipgate audit verify\n${esc(checked.summary)}\n`);
            if (!checked.report.ok) throw new Error("the demo's audit trail did not verify");
            say(`Demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
            return EXIT.ok;
          } finally {
            say('Stopping the worker, the local targets and the dev server…');
            worker.shutdown();
            await running.catch(() => undefined);
            await sg.close();
            await createTargets({ home }).stopAll();
            await site.stop();
            await server.stop();
            await rm(home, { recursive: true, force: true });
          }
        } catch (err) {
          await site.stop();
          throw err;
        }
      }),
    );
}

/** Where the demo's app runs, and what a user reaching each environment gets back. */
interface DemoSite {
  placement: DemoPlacement;
  where: string;
  answers(env: 'staging' | 'production'): Promise<string>;
  /** What the platform itself shows at the end (the cluster's objects). */
  describe?(): Promise<string>;
  stop(): Promise<void>;
}

async function localSite(): Promise<DemoSite> {
  const ports = { staging: await freePort(), production: await freePort() };
  return {
    placement: localPlacement(ports.staging, ports.production),
    where: `staging http://127.0.0.1:${ports.staging}, production http://127.0.0.1:${ports.production}`,
    answers: async (env) => (await fetch(`http://127.0.0.1:${ports[env]}/version`)).text(),
    stop: async () => undefined,
  };
}

const NAMESPACES = { staging: 'hello-staging', production: 'hello-production' } as const;

async function kubernetesSite(home: string, say: (line: string) => void): Promise<DemoSite> {
  const cluster = await startDemoCluster(home, NAMESPACES, 'registry.example.com/hello:0.9.0', say);
  say(`Kubernetes control plane up: KUBECONFIG=${cluster.kubeconfig}`);
  const target = (env: keyof typeof NAMESPACES, strategy: string) => ({
    kind: 'kubernetes',
    kubeconfig: cluster.kubeconfig,
    namespace: NAMESPACES[env],
    deployment: 'hello',
    container: 'hello',
    service: 'hello',
    strategy,
    // Pods on this plane run no containers: checks reach the stand-in that answers as the Service would.
    url: `${cluster.reporter.url}/${NAMESPACES[env]}/hello`,
    previewUrl: `${cluster.reporter.url}/${NAMESPACES[env]}/hello-preview`,
  });
  return {
    placement: {
      build: { kind: 'image', image: 'registry.example.com/hello:{{version}}' },
      staging: target('staging', 'rolling'),
      production: target('production', 'blue-green'),
    },
    where: `staging: deployment hello (rolling) in ${NAMESPACES.staging}; production: hello-blue/hello-green behind service hello in ${NAMESPACES.production}`,
    answers: async (env) => JSON.stringify({ version: await cluster.answers(NAMESPACES[env]) }),
    describe: async () =>
      `Production on the cluster (kubectl -n ${NAMESPACES.production} get deploy,svc):\n` +
      (await cluster.kubectl(['-n', NAMESPACES.production, 'get', 'deploy,svc', '-o', 'wide']))
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    stop: () => cluster.stop(),
  };
}
