import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { ShipgateClient } from '../../src/client.js';
import { createLocalTarget } from '../../src/targets/local/local-target.js';
import {
  configPort,
  exampleConfig,
  NO_SIGNER_ENV,
  personKey,
  PEOPLE,
  withKey,
  withPeopleKeys,
  writeAtomically,
  type ExampleConfig,
  type Ports,
} from '../helpers/fixture.js';
import { cli, startWorker, type CliResult, type WorkerProcess } from '../helpers/processes.js';
import type { SshKey } from '../helpers/ssh-keys.js';
import { startTemporalCluster, type TemporalCluster } from '../helpers/temporal-cluster.js';

/**
 * The production topology on one machine: Temporal on PostgreSQL (scripts/temporal-cluster.sh), several
 * `shipgate worker` processes sharing one SHIPGATE_HOME (the local target's state, as docs/deploying.md says),
 * and apps from the Contract's example config, each with its own ports.
 */
export interface ClusterStack {
  cluster: TemporalCluster;
  home: string;
  configFile: string;
  keys: Record<string, SshKey>;
  workers: WorkerProcess[];
  sg: ShipgateClient;
  apps: Record<string, Ports>;
  /** The CLI against the cluster, signed as whoever runs it `--as`/`--actor` (see fixture.ts). */
  run(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** Starts worker `i` again (after a kill). */
  restartWorker(i: number): Promise<WorkerProcess>;
  /** Every worker that is not running is started again. */
  ensureWorkers(): Promise<void>;
  /** Stops the workers, the local target's processes and the cluster; removes the home. */
  stop(): Promise<void>;
}

export interface ClusterStackOptions {
  workers?: number;
  /** Extra `shipgate worker` arguments per worker index, e.g. [['--environments', 'staging'], ...]. */
  workerArgs?: string[][];
  /** App names; each gets the example app's config with its own ports. Default: one app, `hello`. */
  apps?: string[];
  tweak?: (c: ExampleConfig) => void;
}

export async function startClusterStack(opts: ClusterStackOptions = {}): Promise<ClusterStack> {
  const cluster = await startTemporalCluster();
  const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-cluster-home-'));
  try {
    const configFile = path.join(home, 'shipgate.yaml');
    const keyDir = path.join(home, 'keys');
    await mkdir(keyDir, { mode: 0o700 });
    const keys: Record<string, SshKey> = {};
    for (const login of PEOPLE) keys[login] = await personKey(keyDir, login);
    const apps: Record<string, Ports> = {};
    const config = exampleConfig({ staging: 0, production: 0 }, opts.tweak) as ExampleConfig & {
      apps: Record<string, ExampleConfig['apps']['hello']>;
    };
    const template = config.apps.hello;
    const appConfigs: Record<string, typeof template> = {};
    for (const name of opts.apps ?? ['hello']) {
      const ports = { staging: await configPort(), production: await configPort() };
      apps[name] = ports;
      const app = structuredClone(template);
      (app.environments.staging.target as { port: number }).port = ports.staging;
      (app.environments.production.target as { port: number }).port = ports.production;
      appConfigs[name] = app;
    }
    config.apps = appConfigs as typeof config.apps;
    withPeopleKeys(config as unknown as Record<string, unknown>, keys);
    await writeAtomically(configFile, stringify(config));

    const connection = await Connection.connect({ address: cluster.address });
    const sg = new ShipgateClient(new Client({ connection, namespace: cluster.namespace }));
    const launch = (i: number) =>
      startWorker({
        config: configFile,
        address: cluster.address,
        home,
        env: { TEMPORAL_NAMESPACE: cluster.namespace },
        extraArgs: opts.workerArgs?.[i],
      });
    const workers: WorkerProcess[] = [];
    for (let i = 0; i < (opts.workers ?? opts.workerArgs?.length ?? 2); i++) workers.push(await launch(i));
    const stack: ClusterStack = {
      cluster,
      home,
      configFile,
      keys,
      workers,
      sg,
      apps,
      run: (args, env = {}) =>
        cli([...withKey(args, keys), '--address', cluster.address, '--namespace', cluster.namespace], {
          ...NO_SIGNER_ENV,
          SHIPGATE_HOME: home,
          ...env,
        }),
      async restartWorker(i) {
        workers[i] = await launch(i);
        return workers[i]!;
      },
      async ensureWorkers() {
        for (let i = 0; i < workers.length; i++) if (!workers[i]!.running()) await stack.restartWorker(i);
      },
      async stop() {
        await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
        await connection.close().catch(() => undefined);
        await createLocalTarget({ home })
          .stopAll()
          .catch(() => undefined);
        await cluster.down().catch(() => undefined);
        await rm(home, { recursive: true, force: true });
      },
    };
    return stack;
  } catch (err) {
    await cluster.down().catch(() => undefined);
    await rm(home, { recursive: true, force: true });
    throw err;
  }
}
