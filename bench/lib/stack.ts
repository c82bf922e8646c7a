/**
 * What every benchmark stands on: a temp SHIPGATE_HOME, the embedded dev server on free ports, a real
 * `shipgate worker` process (the compiled CLI), a client, SSH keys for the people who sign (made by ssh-keygen,
 * as `shipgate dev` makes them), and a cleanup list that undoes all of it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { ShipgateClient, sshProver, type Prover } from '../../src/client.js';
import { ensureKey, type PersonKey } from '../../src/cli/keys.js';
import { releaseWorkflowId } from '../../src/protocol/ids.js';
import type { releaseWorkflow } from '../../src/workflows/release.js';
import type { ReleaseStatus } from '../../src/workflows/types.js';
import { createLocalTarget } from '../../src/targets/local/local-target.js';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server.js';
import { BIN, ROOT, startWorker, type WorkerProcess } from '../../test/helpers/processes.js';

export { BIN, ROOT };

export const HELLO_SOURCE = path.join(ROOT, 'examples', 'hello-service');

/** Undo actions, run newest first; each runs once, even when a benchmark fails half-way or on Ctrl-C. */
export class Cleanup {
  private readonly actions: { what: string; fn: () => Promise<unknown> }[] = [];

  add(what: string, fn: () => Promise<unknown>): void {
    this.actions.push({ what, fn });
  }

  private running: Promise<void> | null = null;

  /**
   * Runs what is left. A second call while one is running (Ctrl-C during a benchmark's own cleanup) waits for
   * the same run, so the caller that exits afterwards does not cut the other's last actions short.
   */
  run(log: (line: string) => void = () => {}): Promise<void> {
    this.running ??= this.drain(log).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async drain(log: (line: string) => void): Promise<void> {
    while (this.actions.length) {
      const { what, fn } = this.actions.pop()!;
      try {
        await fn();
      } catch (err) {
        log(`cleanup: ${what} failed: ${(err as Error).message}`);
      }
    }
  }
}

export async function tempHome(cleanup: Cleanup, prefix: string): Promise<string> {
  const home = await mkdtemp(path.join(os.tmpdir(), `shipgate-bench-${prefix}-`));
  cleanup.add(`remove ${home}`, () => rm(home, { recursive: true, force: true }));
  // Local-target processes (proxies, app versions) are detached from us; stop whatever the home records.
  cleanup.add(`stop local targets under ${home}`, () =>
    createLocalTarget({ home, stopGraceMs: 2000 }).stopAll(),
  );
  return home;
}

/** An ed25519 key per login under `dir/<login>` (ssh-keygen, no passphrase): the key maker `shipgate dev` uses. */
export async function makeKeys(dir: string, logins: readonly string[]): Promise<Record<string, PersonKey>> {
  const keys: Record<string, PersonKey> = {};
  for (const login of logins) keys[login] = await ensureKey(dir, login, `${login}@bench`);
  return keys;
}

/** The config with each key listed under people.<login>.sshKeys (whatever else it says of them kept). */
export function withPeopleKeys<C extends object>(config: C, keys: Record<string, PersonKey>): C {
  const people = { ...((config as { people?: Record<string, object> }).people ?? {}) };
  for (const [login, key] of Object.entries(keys))
    people[login] = { ...people[login], sshKeys: [key.publicKey] };
  return { ...config, people };
}

/** The CLI's environment in a benchmark: its home, and no key, agent or identity mode from the caller's shell. */
export const cliEnv = (home: string) => ({
  SHIPGATE_HOME: home,
  SSH_AUTH_SOCK: '',
  SHIPGATE_SSH_KEY: '',
  SHIPGATE_IDENTITY: '',
});

export interface Stack {
  home: string;
  configFile: string;
  server: DevServer;
  worker: WorkerProcess;
  connection: Connection;
  client: Client;
  sg: ShipgateClient;
  /** Each signer's key; `keys[login].file` is what `--key` names. */
  keys: Record<string, PersonKey>;
  /** Signs as `login` with its key, as the CLI does (`ssh-keygen -Y sign`). */
  prove(login: string): Prover;
}

/**
 * Dev server + worker process + client over a config written to the home folder. Each of `signers` gets an SSH
 * key, listed in the config, so the benchmark measures the signed, verified path the default `identity: proven`
 * takes.
 */
export async function startStack(
  cleanup: Cleanup,
  prefix: string,
  config: object,
  signers: readonly string[] = [],
): Promise<Stack> {
  const home = await tempHome(cleanup, prefix);
  const keys = await makeKeys(path.join(home, 'keys'), signers);
  const configFile = path.join(home, 'shipgate.yaml');
  await writeFile(configFile, stringify(signers.length ? withPeopleKeys(config, keys) : config));
  const server = await startDevServer({ home });
  cleanup.add('stop the dev server', () => server.stop());
  const worker = await startWorker({ config: configFile, address: server.address, home });
  cleanup.add('stop the worker', () => worker.stop());
  const connection = await Connection.connect({ address: server.address });
  cleanup.add('close the client connection', () => connection.close());
  const client = new Client({ connection, namespace: 'default' });
  const prove = (login: string): Prover => {
    const key = keys[login];
    if (!key) throw new Error(`no key for ${login} (signers: ${signers.join(', ')})`);
    return sshProver({ login, keyFile: key.file });
  };
  return {
    home,
    configFile,
    server,
    worker,
    connection,
    client,
    sg: new ShipgateClient(client),
    keys,
    prove,
  };
}

/**
 * Waits for the release's latest run to end (its workflow result, no polling) and returns its status. A release
 * that ends other than succeeded fails its run; its status query still says why.
 */
export function releaseOutcome(stack: Stack, app: string, version: string): Promise<ReleaseStatus> {
  return stack.client.workflow
    .getHandle<typeof releaseWorkflow>(releaseWorkflowId(app, version))
    .result()
    .catch(() => stack.sg.status(app, version));
}

/** The CLI runs from build/: refuse to measure a missing build, and warn about a stale one. */
export function checkBuild(): string | null {
  const entry = path.join(ROOT, 'build', 'cli', 'main.js');
  if (!existsSync(entry))
    return 'build/ is missing: run `npm run build` (or `make setup`) before `npm run bench`';
  const built = statSync(entry).mtimeMs;
  const newer = (dir: string): string | null => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        const found = newer(p);
        if (found) return found;
      } else if (e.name.endsWith('.ts') && statSync(p).mtimeMs > built) return p;
    }
    return null;
  };
  const stale = newer(path.join(ROOT, 'src'));
  if (stale)
    process.stderr.write(
      `bench: warning: ${path.relative(ROOT, stale)} is newer than build/; run \`npm run build\` for current figures\n`,
    );
  return null;
}

/** Resident set size and its peak, in KiB, from /proc/<pid>/status (Linux). */
export function rssOf(pid: number): { rssKiB: number; hwmKiB: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** GET http://127.0.0.1:<port>/version and return the version the environment serves. */
export async function servedVersion(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/version`, { signal: AbortSignal.timeout(5000) });
  return ((await res.json()) as { version: string }).version;
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls cond every intervalMs until it holds, or throws after timeoutMs naming what it waited for. */
export async function until(
  what: string,
  cond: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 10,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Rejects with an error naming what it waited for when p does not settle within timeoutMs. */
export function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}
