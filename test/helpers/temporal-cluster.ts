import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './processes.js';
import { readEnvFile } from './env-file.js';

const SCRIPT = path.join(ROOT, 'scripts', 'temporal-cluster.sh');

/**
 * Temporal on PostgreSQL, started by the project's own scripts/temporal-cluster.sh (the Contract's test bed):
 * the server built from go.temporal.io/server, PostgreSQL from Debian, on free loopback ports below 32768.
 */
export interface TemporalCluster {
  dir: string;
  address: string;
  namespace: string;
  /** Every `export K='V'` line of DIR/env. */
  env: Record<string, string>;
  /** Stops the Temporal server (SIGTERM) and starts it again on the same ports and data. */
  restart(): Promise<void>;
  /** SIGKILLs the Temporal server, as a crashed host would; `restart` brings it back. */
  kill(): Promise<void>;
  /** Stops PostgreSQL (fast shutdown) and starts it again: the server must ride through it. */
  restartPostgres(): Promise<void>;
  /** `status`: which of its processes run. */
  status(): Promise<string>;
  down(): Promise<void>;
}

function run(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function must(args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await run(args, timeoutMs);
  if (r.code !== 0)
    throw new Error(
      `scripts/temporal-cluster.sh ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.slice(-4000)}`,
    );
  return r.stdout;
}

export async function startTemporalCluster(): Promise<TemporalCluster> {
  // Under the OS temp folder, which the postgres user can traverse (the script opens DIR itself to it).
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shipgate-cluster-'));
  // A test process that dies without afterAll must not leave PostgreSQL or the server running.
  const onExit = () => spawnSync('bash', [SCRIPT, 'down', dir], { stdio: 'ignore' });
  process.on('exit', onExit);
  try {
    // A cold cache builds the server first (scripts/test.sh builds it before the suites; this is the fallback).
    await must(['up', dir], 1_800_000);
  } catch (err) {
    onExit();
    process.off('exit', onExit);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const env = (await readEnvFile(dir)) as Record<string, string>;
  let stopped = false;
  return {
    dir,
    env,
    address: env.TEMPORAL_ADDRESS!,
    namespace: env.TEMPORAL_NAMESPACE!,
    restart: async () => void (await must(['restart', dir])),
    kill: async () => void (await must(['kill', dir])),
    restartPostgres: async () => void (await must(['restart-postgres', dir])),
    status: () => must(['status', dir]),
    async down() {
      if (stopped) return;
      stopped = true;
      await must(['down', dir]);
      process.off('exit', onExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
