import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { temporalCliPath } from './binaries.js';
import { freePort, waitForPort } from './ports.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../protocol/search-attributes.js';

export interface DevServer {
  address: string;
  uiUrl: string;
  port: number;
  uiPort: number;
  dbFile: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  home: string;
  port?: number;
  uiPort?: number;
  /** Keep the SQLite file, so a restart keeps every workflow. */
  dbFile?: string;
  namespace?: string;
}

/** The embedded default: `temporal server start-dev` with its state in SQLite under SHIPGATE_HOME. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort ?? (await freePort());
  const dir = path.join(opts.home, 'temporal');
  mkdirSync(dir, { recursive: true });
  const dbFile = opts.dbFile ?? path.join(dir, 'dev-server.sqlite');
  const log = openSync(path.join(dir, 'dev-server.log'), 'a');
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    dbFile,
    '--namespace',
    opts.namespace ?? 'default',
    '--log-level',
    'warn',
    ...SEARCH_ATTRIBUTE_NAMES.flatMap((n) => ['--search-attribute', `${n}=Keyword`]),
    // Write-ahead log, synced at checkpoints rather than at every commit: about half the server's CPU per release
    // start and twice the starts per second on a busy disk. Survives a killed server; a power cut may lose the
    // last moments (docs/deploying.md, Scale and tuning).
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    // A workflow task that schedules an activity gets it back in its reply when the worker has a free slot,
    // instead of through the matching service: less server work per release.
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
  ];
  const child = spawn(temporalCliPath(), args, { stdio: ['ignore', log, log] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitForPort(port, 60_000),
      exited.then(() => {
        throw new Error(`temporal dev server exited at start; see ${path.join(dir, 'dev-server.log')}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    address: `127.0.0.1:${port}`,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    port,
    uiPort,
    dbFile,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
