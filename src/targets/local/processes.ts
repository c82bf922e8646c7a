import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import { freePort } from '../../temporal/ports.js';
import { AbortError } from '../errors.js';

interface ProcStat {
  state: string;
  startTicks: string;
}

/** /proc/<pid>/stat, or null where there is no procfs (macOS) or no such process. */
function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', startTicks: fields[19] ?? '' };
}

export function startTicksOf(pid: number): string | null {
  return readStat(pid)?.startTicks ?? null;
}

/**
 * True when `pid` is running and is the process we recorded. Zombies count as dead: once the process that
 * spawned them is gone, nobody may reap them (a container's PID 1 often does not), and kill(pid, 0) would
 * still succeed.
 */
export function isAlive(pid: number, startTicks: string | null): boolean {
  // 0 and negative pids address process groups (0 is our own); pid 1 is init. Never ours to manage.
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: another user's process, so certainly not one we started.
    return false;
  }
  const stat = readStat(pid);
  if (stat === null) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return startTicks === null || stat.startTicks === startTicks;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Negative pid: the whole process group, so helpers the command started (npm -> node) go too.
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM, then SIGKILL after graceMs. Returns false when the process was not running. */
export async function stopProcess(pid: number, startTicks: string | null, graceMs: number): Promise<boolean> {
  if (!isAlive(pid, startTicks)) return false;
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid, startTicks) && Date.now() < deadline) await sleep(25);
  if (isAlive(pid, startTicks)) {
    signalGroup(pid, 'SIGKILL');
    const hard = Date.now() + 2000;
    while (isAlive(pid, startTicks) && Date.now() < hard) await sleep(25);
  }
  return true;
}

// Spawned processes get a clean environment: the worker's own variables (Temporal and Slack credentials)
// are none of their business, as on a real cluster.
const PASSED_THROUGH = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of PASSED_THROUGH) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

export interface SpawnOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
}

/**
 * Starts argv in its own session and process group, writing to logFile, so that neither a signal to the
 * caller's group nor the caller's death reaches it: the data plane outlives any worker.
 */
export function spawnDetached(argv: string[], opts: SpawnOptions): ChildProcess {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty command');
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    // Failures such as ENOENT arrive as an 'error' event; callers see them as a missing pid.
    child.on('error', () => {});
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** A port nothing listens on right now, avoiding `avoid` (ports handed out but maybe not yet bound). */
export async function freePortAvoiding(avoid: Iterable<number>): Promise<number> {
  const taken = new Set(avoid);
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    if (!taken.has(port)) return port;
  }
  throw new Error('could not find a free port on 127.0.0.1');
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(`${what} was aborted`);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError('aborted'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The last lines of a log, to put in an error message a person can act on. */
export function logTail(file: string, lines = 8): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size, 4096));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The pid whose environment holds `marker` (NAME=value), found through /proc. This recovers a process whose
 * spawner was killed between spawn() and recording the pid; null where there is no procfs.
 */
export function findByEnvMarker(marker: string): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return null;
  }
  const needle = Buffer.from(`\0${marker}\0`);
  for (const p of pids) {
    try {
      const env = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${p}/environ`), Buffer.from([0])]);
      if (env.includes(needle)) return Number(p);
    } catch {
      // another user's process, or it just exited
    }
  }
  return null;
}
