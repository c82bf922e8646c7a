import { expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server.js';
import { freePort } from '../../src/temporal/ports.js';
import { createLocalTarget } from '../../src/targets/local/local-target.js';
import { ShipgateClient, sshProver, type Prover } from '../../src/client.js';
import { ReleaseNotFoundError } from '../../src/client/errors.js';
import type { LedgerEntry } from '../../src/policy/ledger.js';
import { cli, ROOT, startWorker, type CliResult, type WorkerProcess } from './processes.js';
import type { SshKey } from './ssh-keys.js';

/**
 * Everyone the tests name: the config's group members, and mallory and eve, known people (with keys) who are in
 * no group. Each gets an SSH key, listed under people.<login>.sshKeys, and signs whatever the CLI sends as them.
 */
export const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'mallory', 'eve'] as const;

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
        build: { kind: 'local', source: path.join(ROOT, 'examples', 'hello-service') } as {
          kind: string;
          source: string;
          command?: string[];
        },
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
type AppConfig = ExampleConfig['apps']['hello'];

type ReleaseStatusOf = Awaited<ReturnType<ShipgateClient['status']>>;
type EnvironmentStateOf = Awaited<ReturnType<ShipgateClient['environmentState']>>;

/**
 * One app of a stack, with its own name, ports, releases and environments, so a test that uses its own app
 * shares nothing with the other tests of its file but the processes (dev server and worker).
 */
export interface App {
  readonly name: string;
  readonly ports: Ports;
  readonly stack: Stack;
  /** Runs the CLI against the stack's server, as a user would (`args` as typed after `shipgate`). */
  run(...args: string[]): Promise<CliResult>;
  /** `release <app> <version> --commit c-<version> --branch main --actor dave`, then `extra`. */
  releaseArgs(version: string, ...extra: string[]): string[];
  status(version: string): Promise<ReleaseStatusOf>;
  waitFor(version: string, pred: (s: ReleaseStatusOf) => boolean): Promise<ReleaseStatusOf>;
  /** Waits until the release has ended, and returns its final status. */
  ended(version: string): Promise<ReleaseStatusOf>;
  /** Starts a release and waits until it stands at production's approval gate. */
  toGate(version: string): Promise<ReleaseStatusOf>;
  /** Approves through the CLI as each login in turn, expecting each to be accepted. */
  approve(version: string, ...logins: string[]): Promise<void>;
  /** Releases through production and waits for it (for apps whose production needs no approvals). */
  ship(version: string): Promise<void>;
  /** Releases through production's approval gate, approves as alice and bob, and waits for it to succeed. */
  shipApproved(version: string): Promise<void>;
  environment(env?: string): Promise<EnvironmentStateOf>;
  ledger(env?: string): Promise<LedgerEntry[]>;
  /** The version the environment's public port answers with. */
  serving(env?: keyof Ports): Promise<string>;
  /** Rewrites this app's part of the config file (the worker reads it live). */
  writeConfig(tweak: (c: ExampleConfig) => void): Promise<void>;
}

export interface Stack {
  home: string;
  /** Each person's SSH key (ssh-keygen, ed25519), listed in the config under people.<login>.sshKeys. */
  keys: Record<string, SshKey>;
  /** Signs as `login` with that person's key, for client calls made in process. */
  prove(login: string): Prover;
  configFile: string;
  ports: Ports;
  server: DevServer;
  worker: WorkerProcess;
  sg: ShipgateClient;
  /**
   * Runs the CLI against the stack's server. A command run `--as` (or `--actor`) someone with a key is signed
   * with that key (`--key`), unless the test passes its own `--key`; the caller's ssh-agent and signing
   * variables are not inherited, so what a test does not pass, the CLI does not have.
   */
  run(args: string[], env?: Record<string, string>): Promise<CliResult>;
  restartWorker(): Promise<WorkerProcess>;
  /** Starts the worker again if it is not running (a test that killed it may have failed before restarting it). */
  ensureWorker(): Promise<void>;
  /** Stops the dev server and starts it again on the same port with the same SQLite file. */
  restartServer(): Promise<void>;
  /** Rewrites the `hello` app and the groups; apps added with addApp stay as they are. */
  writeConfig(tweak: (c: ExampleConfig) => void): Promise<void>;
  /** Adds an app of its own to the config (`tweak` edits it as `c.apps.hello`), with free ports. */
  addApp(name: string, tweak?: (c: ExampleConfig) => void): Promise<App>;
  stop(): Promise<void>;
}

/** Replaces the file in one step, so the worker, which reloads on change, never reads half a config. */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/**
 * An ed25519 key made by ssh-keygen, as a person makes one. ssh-keygen reads nothing here, so its stdin is
 * closed from the start (writing to a pipe it has already left would fail with EPIPE).
 */
export async function personKey(dir: string, login: string): Promise<SshKey> {
  const file = path.join(dir, login);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${login}@test`, '-f', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ssh-keygen failed (${code}): ${err}`)),
    );
  });
  const publicKey = (await readFile(`${file}.pub`, 'utf8')).trim();
  return { kind: 'ed25519', privateKeyFile: file, publicKeyFile: `${file}.pub`, publicKey };
}

/** `--key FILE` for the login the args run `--as` or `--actor`, when that person has a key and none is given. */
export function withKey(args: string[], keys: Record<string, SshKey>): string[] {
  if (args.includes('--key')) return args;
  for (const flag of ['--as', '--actor']) {
    const i = args.indexOf(flag);
    const key = i >= 0 ? keys[args[i + 1] ?? ''] : undefined;
    if (key) return [...args, '--key', key.privateKeyFile];
  }
  return args;
}

/** No ssh-agent, key or identity mode from the environment the tests run in. */
export const NO_SIGNER_ENV = { SSH_AUTH_SOCK: '', SHIPGATE_SSH_KEY: '', SHIPGATE_IDENTITY: '' };

/** Lists each person's public key in the config, keeping whatever else a test set for them. */
export function withPeopleKeys(config: Record<string, unknown>, keys: Record<string, SshKey>): void {
  const people = (config.people ?? {}) as Record<string, { sshKeys?: string[] }>;
  for (const [login, key] of Object.entries(keys))
    people[login] = { ...people[login], sshKeys: people[login]?.sshKeys ?? [key.publicKey] };
  config.people = people;
}

/**
 * A real dev server, a real worker process and the local data plane, all on free ports in a temp home, under
 * `identity: proven` with a real SSH key per person (see PEOPLE).
 */
export async function startStack(
  tweak?: (c: ExampleConfig) => void,
  opts: { workerEnv?: Record<string, string> } = {},
): Promise<Stack> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-test-'));
  const ports = { staging: await configPort(), production: await configPort() };
  const configFile = path.join(home, 'shipgate.yaml');
  const keyDir = path.join(home, 'keys');
  await mkdir(keyDir, { mode: 0o700 });
  const keys: Record<string, SshKey> = {};
  for (const login of PEOPLE) keys[login] = await personKey(keyDir, login);
  let baseTweak = tweak;
  const apps = new Map<string, AppConfig>();
  const writeAll = async () => {
    const config = exampleConfig(ports, baseTweak) as ExampleConfig & { apps: Record<string, AppConfig> };
    for (const [name, app] of apps) config.apps[name] = app;
    withPeopleKeys(config as unknown as Record<string, unknown>, keys);
    await writeAtomically(configFile, stringify(config));
  };
  await writeAll();
  const server = await startDevServer({ home });
  const connection = await Connection.connect({ address: server.address });
  const sg = new ShipgateClient(new Client({ connection }));
  const launchWorker = () =>
    startWorker({ config: configFile, address: stack.server.address, home, env: opts.workerEnv });
  const stack: Stack = {
    home,
    keys,
    prove: (login) => {
      const key = keys[login];
      if (!key) throw new Error(`no key for ${login} (people with keys: ${PEOPLE.join(', ')})`);
      return sshProver({ login, keyFile: key.privateKeyFile });
    },
    configFile,
    ports,
    server,
    worker: undefined as unknown as WorkerProcess,
    sg,
    run: (args, env = {}) =>
      cli([...withKey(args, keys), '--address', stack.server.address], {
        ...NO_SIGNER_ENV,
        SHIPGATE_HOME: home,
        ...env,
      }),
    async restartWorker() {
      stack.worker = await launchWorker();
      return stack.worker;
    },
    async ensureWorker() {
      if (!stack.worker.running()) await stack.restartWorker();
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
      baseTweak = t;
      await writeAll();
    },
    async addApp(name, appTweak = () => {}) {
      const appPorts = { staging: await configPort(), production: await configPort() };
      const render = (t: (c: ExampleConfig) => void) => exampleConfig(appPorts, t).apps.hello;
      apps.set(name, render(appTweak));
      await writeAll();
      return makeApp(stack, name, appPorts, async (t) => {
        apps.set(name, render(t));
        await writeAll();
      });
    },
    async stop() {
      await stack.worker?.stop().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await createLocalTarget({ home })
        .stopAll()
        .catch(() => undefined);
      await stack.server.stop().catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
  try {
    stack.worker = await launchWorker();
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw err;
  }
  return stack;
}

function makeApp(
  stack: Stack,
  name: string,
  ports: Ports,
  rewrite: (tweak: (c: ExampleConfig) => void) => Promise<void>,
): App {
  const app: App = {
    name,
    ports,
    stack,
    run: (...args) => stack.run(args),
    releaseArgs: (version, ...extra) => [
      ...['release', name, version, '--commit', `c-${version}`, '--branch', 'main', '--actor', 'dave'],
      ...extra,
    ],
    status: (version) => stack.sg.status(name, version),
    waitFor: (version, pred) => waitForRelease(stack.sg, version, pred, undefined, name),
    ended: (version) => waitForRelease(stack.sg, version, (s) => s.state !== 'running', undefined, name),
    async toGate(version) {
      const r = await app.run(...app.releaseArgs(version));
      expect(r.code, r.stderr).toBe(0);
      return app.waitFor(version, (s) => s.stage === 'awaiting-approval');
    },
    async approve(version, ...logins) {
      for (const by of logins) {
        const r = await app.run('approve', name, version, '--as', by);
        expect(r.code, `${by}: ${r.stderr}`).toBe(0);
      }
    },
    async ship(version) {
      const r = await app.run(...app.releaseArgs(version, '--wait', 'production'));
      expect(r.code, r.stderr + r.stdout).toBe(0);
    },
    async shipApproved(version) {
      await app.toGate(version);
      await app.approve(version, 'alice', 'bob');
      expect((await app.ended(version)).state).toBe('succeeded');
    },
    environment: (env = 'production') => stack.sg.environmentState(name, env),
    ledger: async (env = 'production') => (await stack.sg.environmentState(name, env))?.ledger ?? [],
    serving: (env = 'production') => getVersion(ports[env]),
    writeConfig: rewrite,
  };
  return app;
}

/**
 * Follows a release of `app` (default `hello`) until `pred` holds, as every channel follows one; fails with the
 * last status seen when the release ends, or the timeout passes, without it.
 */
/**
 * A free port no other app of this test process was given. A port written into a config is not bound until
 * its first deploy, so the OS may offer it again: a second app given the same one would be refused at load.
 */
const configPorts = new Set<number>();
export async function configPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!configPorts.has(port)) {
      configPorts.add(port);
      return port;
    }
  }
}

export async function waitForRelease(
  sg: ShipgateClient,
  version: string,
  pred: (s: ReleaseStatusOf) => boolean,
  timeoutMs = 90_000,
  app = 'hello',
): Promise<ReleaseStatusOf> {
  const deadline = Date.now() + timeoutMs;
  // A test often starts the release from a CLI process it does not await: wait until that process created it.
  await eventually(
    `${app} ${version} exists`,
    async () => {
      try {
        return await sg.status(app, version);
      } catch (err) {
        if (err instanceof ReleaseNotFoundError) return undefined;
        throw err;
      }
    },
    timeoutMs,
  );
  const { status, timedOut } = await sg.follow(app, version, {
    until: pred,
    deadline,
    intervalMs: 100,
  });
  if (pred(status)) return status;
  const why = timedOut ? 'timed out waiting on' : 'the release ended first:';
  throw new Error(`${why} ${app} ${version}: ${JSON.stringify(status)}`);
}

/** Polls until `pred` returns a value other than undefined; fails with `what` after the timeout. */
export async function eventually<T>(
  what: string,
  pred: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function getVersion(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/version`);
  return ((await res.json()) as { version: string }).version;
}

/** One start of an app process that a test holds: its pid, and `release()` to let it go on starting. */
export interface HeldStart {
  pid: number;
  release(): void;
}

/** The starts of one version, from the moment the test asked to hold it, in order. */
export interface Hold {
  /** Resolves when the next start of the version arrives; it stays not ready until released. */
  next(): Promise<HeldStart>;
  /** Releases every start held so far and holds no more. */
  stop(): void;
}

/**
 * A test-side stand-in that decides when app processes may start, over real HTTP: with `command` as an app's
 * build.command, every process of that app asks it before starting the artifact's server.js (see
 * test/integration/fixtures/held-start.mjs), and reports its pid. An unheld version starts at once; a held one
 * stays not ready until the test releases it, so a deploy is exactly as slow as the test needs.
 */
export interface StartControl {
  readonly url: string;
  readonly command: string[];
  hold(version: string): Hold;
  /** Pids of every process started for `version`, oldest first. */
  pids(version: string): number[];
  close(): Promise<void>;
}

export async function startControl(): Promise<StartControl> {
  interface HoldState {
    arrived: HeldStart[];
    waiters: ((s: HeldStart) => void)[];
  }
  const holds = new Map<string, HoldState>();
  const pids = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const version = url.searchParams.get('version') ?? '';
    const pid = Number(url.searchParams.get('pid'));
    pids.set(version, [...(pids.get(version) ?? []), pid]);
    const go = () => {
      if (!res.writableEnded) res.end('start');
    };
    const hold = holds.get(version);
    if (!hold) return go();
    const start: HeldStart = {
      pid,
      release: go,
    };
    const waiter = hold.waiters.shift();
    if (waiter) waiter(start);
    else hold.arrived.push(start);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    command: [process.execPath, path.join(ROOT, 'test', 'integration', 'fixtures', 'held-start.mjs'), url],
    hold(version) {
      const state: HoldState = { arrived: [], waiters: [] };
      const seen: HeldStart[] = [];
      holds.set(version, state);
      return {
        next: () =>
          new Promise<HeldStart>((resolve) => {
            const ready = state.arrived.shift();
            const take = (s: HeldStart) => {
              seen.push(s);
              resolve(s);
            };
            if (ready) take(ready);
            else state.waiters.push(take);
          }),
        stop() {
          if (holds.get(version) === state) holds.delete(version);
          for (const s of [...seen, ...state.arrived.splice(0)]) s.release();
        },
      };
    },
    pids: (version) => pids.get(version) ?? [],
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
