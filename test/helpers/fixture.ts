import { expect } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server.js';
import { freePort } from '../../src/temporal/ports.js';
import { createLocalTarget } from '../../src/targets/local/local-target.js';
import { ShipgateClient } from '../../src/client.js';
import { cli, ROOT, startWorker, type CliResult, type WorkerProcess } from './processes.js';

export interface Ports {
  staging: number;
  production: number;
}

/** The Contract's example config, with free ports and short timers; `tweak` edits it before it is written. */
export function exampleConfig(ports: Ports, tweak: (c: ExampleConfig) => void = () => {}) {
  const config = {
    groups: { 'team-leads': ['alice', 'bob', 'carol'], 'release-managers': ['dave'] },
    apps: {
      hello: {
        build: { kind: 'local', source: path.join(ROOT, 'examples', 'hello-service') },
        environments: {
          staging: {
            branches: ['main'],
            target: { kind: 'local', port: ports.staging },
            // Staging checks only the version, so a `-bad` build reaches production verification.
            smoke: [{ path: '/version', json: { version: '{{version}}' } }],
          } as Record<string, unknown>,
          production: {
            after: 'staging',
            branches: ['main'],
            target: { kind: 'local', port: ports.production },
            approvals: [{ group: 'team-leads', count: 2 }],
            windowOverride: { group: 'release-managers' },
            smoke: [{ path: '/smoke', status: 200 }],
          } as Record<string, unknown>,
        },
      },
    },
  };
  tweak(config);
  return config;
}
export type ExampleConfig = ReturnType<typeof exampleConfig>;

export interface Stack {
  home: string;
  configFile: string;
  ports: Ports;
  server: DevServer;
  worker: WorkerProcess;
  sg: ShipgateClient;
  run(args: string[]): Promise<CliResult>;
  restartWorker(): Promise<WorkerProcess>;
  /** Stops the dev server and starts it again on the same port with the same SQLite file. */
  restartServer(): Promise<void>;
  writeConfig(tweak: (c: ExampleConfig) => void): Promise<void>;
  stop(): Promise<void>;
}

/** A real dev server, a real worker process and the local data plane, all on free ports in a temp home. */
export async function startStack(
  tweak?: (c: ExampleConfig) => void,
  opts: { workerEnv?: Record<string, string> } = {},
): Promise<Stack> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-test-'));
  const ports = { staging: await freePort(), production: await freePort() };
  const configFile = path.join(home, 'shipgate.yaml');
  await writeFile(configFile, stringify(exampleConfig(ports, tweak)));
  const server = await startDevServer({ home });
  const connection = await Connection.connect({ address: server.address });
  const sg = new ShipgateClient(new Client({ connection }));
  const stack: Stack = {
    home,
    configFile,
    ports,
    server,
    worker: await startWorker({ config: configFile, address: server.address, home, env: opts.workerEnv }),
    sg,
    run: (args) => cli([...args, '--address', server.address], { SHIPGATE_HOME: home }),
    async restartWorker() {
      stack.worker = await startWorker({
        config: configFile,
        address: server.address,
        home,
        env: opts.workerEnv,
      });
      return stack.worker;
    },
    async restartServer() {
      await stack.server.stop();
      stack.server = await startDevServer({
        home,
        port: stack.server.port,
        uiPort: stack.server.uiPort,
        dbFile: stack.server.dbFile,
      });
    },
    async writeConfig(t) {
      await writeFile(configFile, stringify(exampleConfig(ports, t)));
    },
    async stop() {
      await stack.worker.stop().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await createLocalTarget({ home })
        .stopAll()
        .catch(() => undefined);
      await stack.server.stop().catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
  return stack;
}

type ReleaseStatusOf = Awaited<ReturnType<ShipgateClient['status']>>;

/** Polls a release of `hello` until `pred` holds; fails with the last status seen. */
export async function waitForRelease(
  sg: ShipgateClient,
  version: string,
  pred: (s: ReleaseStatusOf) => boolean,
  timeoutMs = 90_000,
): Promise<ReleaseStatusOf> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await sg.status('hello', version).catch(() => null);
    if (s && pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting on ${version}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function getVersion(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/version`);
  return ((await res.json()) as { version: string }).version;
}

/** The CLI arguments of a release of `hello` by dave from main, with commit `c-<version>`. */
export const releaseArgs = (version: string, ...extra: string[]) => [
  ...['release', 'hello', version, '--commit', `c-${version}`, '--branch', 'main', '--actor', 'dave'],
  ...extra,
];

/** Releases through production and waits for it (for stacks whose production needs no approvals). */
export async function shipToProduction(stack: Stack, version: string): Promise<void> {
  const r = await stack.run(releaseArgs(version, '--wait', 'production'));
  expect(r.code, r.stderr).toBe(0);
}

/** Starts a release and waits until it stands at production's approval gate. */
export async function releaseToApprovalGate(stack: Stack, version: string) {
  const r = await stack.run(releaseArgs(version));
  expect(r.code, r.stderr).toBe(0);
  return waitForRelease(stack.sg, version, (s) => s.stage === 'awaiting-approval');
}
