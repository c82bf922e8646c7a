import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'shipgate.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: unknown;
  ms: number;
  /** True when the helper had to kill the command because it ran past its time limit. */
  timedOut: boolean;
}

/** Runs the real `shipgate` binary, as a user would. */
export function cli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let json: unknown = undefined;
      try {
        json = JSON.parse(stdout);
      } catch {
        /* not JSON output */
      }
      resolve({ code: code ?? -1, stdout, stderr, json, ms: Date.now() - started, timedOut });
    });
  });
}

export interface WorkerProcess {
  child: ChildProcess;
  logs: () => string;
  /** Whether the worker process is still running. */
  running(): boolean;
  /** SIGKILLs the worker's whole process group, as a crashed host would. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `shipgate worker` in its own process group and waits until it polls. */
export async function startWorker(opts: {
  config: string;
  address: string;
  home: string;
  extraArgs?: string[];
  /** Extra environment variables for the worker (e.g. a Slack token). */
  env?: Record<string, string>;
}): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    [BIN, 'worker', '--config', opts.config, '--address', opts.address, ...(opts.extraArgs ?? [])],
    {
      env: { ...process.env, ...opts.env, SHIPGATE_HOME: opts.home, SHIPGATE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let logs = '';
  child.stdout!.on('data', (d) => (logs += d));
  child.stderr!.on('data', (d) => (logs += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${logs}`)), 60_000);
    const poll = setInterval(() => {
      if (logs.includes('worker running')) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code}:\n${logs}`));
    });
  });
  return {
    child,
    logs: () => logs,
    running: () => child.exitCode === null && child.signalCode === null,
    async kill() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
