/**
 * A lock between processes on one machine that cannot be taken from a live holder.
 *
 * The lock is a folder of numbered generation files. Each holder creates the next generation exclusively
 * (`link` of a file already holding its owner: pid, process start time, boot id, host), so a lock file never
 * exists without its owner. Only the highest generation counts: it is held while its owner process lives, and
 * free once released or once that process is gone (no such pid, or the pid now belongs to a process started at
 * another time, or the machine rebooted). Breaking a dead holder's lock is creating the next generation, an
 * atomic step only one racer wins; nothing is deleted that another racer may just have taken, so two
 * processes never both hold it. A live holder is waited for, never broken; past the timeout the caller gets an
 * error naming it.
 */
import { link, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface LockOwner {
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22); null where unknown. */
  start: string | null;
  /** /proc/sys/kernel/random/boot_id; null where unknown. */
  boot: string | null;
  host: string;
  /** When it took the lock (ISO). */
  at: string;
}

type LockState = { held: LockOwner } | { released: true } | { unreadable: true };

export interface LockOptions {
  /** How long to wait for a live holder before giving up (default 30 s). */
  timeoutMs?: number;
  /** Called once per holder found alive while waiting (tests wait on it; logs may use it). */
  onBusy?: (owner: LockOwner) => void;
}

export class LockTimeoutError extends Error {
  constructor(
    readonly dir: string,
    readonly owner: LockOwner,
    waitedMs: number,
  ) {
    super(
      `the audit lock ${dir} is held by live process ${owner.pid} on ${owner.host} (since ${owner.at}); waited ${Math.round(waitedMs / 1000)} s and did not break it`,
    );
    this.name = 'LockTimeoutError';
  }
}

/** Runs `fn` holding the lock `dir` (created when missing). */
export async function withFileLock<T>(dir: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const gen = await acquire(dir, opts);
  try {
    return await fn();
  } finally {
    await release(dir, gen);
  }
}

const GEN = /^\d+$/;

async function acquire(dir: string, opts: LockOptions): Promise<number> {
  await mkdir(dir, { recursive: true });
  const me = self();
  // Written whole before it is linked into place: nobody ever sees a lock file without its owner.
  const tmp = path.join(dir, `tmp-${me.pid}-${randomBytes(6).toString('hex')}`);
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let reported: string | null = null;
  try {
    await writeFile(tmp, JSON.stringify({ ...me, at: new Date().toISOString() }));
    for (let attempt = 0; ; attempt++) {
      const top = highest(await readdir(dir));
      if (top > 0) {
        const state = await readState(path.join(dir, String(top)));
        if (state === 'gone') continue; // cleared after a higher generation appeared: look again
        if ('held' in state && !isGone(state.held)) {
          const key = `${state.held.pid}/${state.held.start}/${state.held.at}`;
          if (key !== reported) {
            reported = key;
            opts.onBusy?.(state.held);
          }
          const waited = Date.now() - started;
          if (waited > timeoutMs) throw new LockTimeoutError(dir, state.held, waited);
          await pause(Math.min(1 + attempt, 25));
          continue;
        }
      }
      const mine = top + 1;
      try {
        await link(tmp, path.join(dir, String(mine)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // another racer took it first
        throw err;
      }
      // A racer working from an old listing may recreate a generation that was cleared; such a file sits below
      // the highest one and is not the lock.
      if (highest(await readdir(dir)) !== mine) {
        await release(dir, mine);
        continue;
      }
      await clearBelow(dir, mine);
      return mine;
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Marks the generation released (replacing its file atomically: it is never missing while it is the highest). */
async function release(dir: string, gen: number): Promise<void> {
  const tmp = path.join(dir, `tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  await writeFile(tmp, JSON.stringify({ released: true }));
  await rename(tmp, path.join(dir, String(gen)));
}

function highest(names: string[]): number {
  let top = 0;
  for (const n of names) if (GEN.test(n)) top = Math.max(top, Number(n));
  return top;
}

async function readState(file: string): Promise<LockState | 'gone'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const v = JSON.parse(text) as Partial<LockOwner> & { released?: boolean };
    if (v.released === true) return { released: true };
    if (typeof v.pid === 'number' && typeof v.host === 'string')
      return {
        held: {
          pid: v.pid,
          start: typeof v.start === 'string' ? v.start : null,
          boot: typeof v.boot === 'string' ? v.boot : null,
          host: v.host,
          at: typeof v.at === 'string' ? v.at : '',
        },
      };
  } catch {
    /* not JSON: names no owner */
  }
  // Lock files are linked into place complete, so one that names no owner was not written by a holder.
  return { unreadable: true };
}

/** Older generations and the temp files of processes that are gone. */
async function clearBelow(dir: string, mine: number): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const stale = GEN.test(name)
      ? Number(name) < mine
      : name.startsWith('tmp-') && pidGone(Number(name.split('-')[1]));
    if (stale) await unlink(path.join(dir, name)).catch(() => undefined);
  }
}

/** Whether the lock's owner is certainly gone. Another host's process cannot be seen: it counts as alive. */
export function isGone(owner: LockOwner): boolean {
  const me = self();
  if (owner.host !== me.host) return false;
  if (owner.boot && me.boot && owner.boot !== me.boot) return true;
  if (pidGone(owner.pid)) return true;
  if (owner.start !== null) {
    const now = startTimeOf(owner.pid);
    // Without /proc the pid's liveness is all there is; with it, a different start time is a reused pid.
    if (now !== null && now !== owner.start) return true;
    if (now === null && me.start !== null) return true;
  }
  return false;
}

function pidGone(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Field 22 of /proc/PID/stat (after the command name, which may hold spaces and parentheses). */
export function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

let cachedSelf: Omit<LockOwner, 'at'> | undefined;
function self(): Omit<LockOwner, 'at'> {
  if (cachedSelf?.pid === process.pid) return cachedSelf;
  let boot: string | null = null;
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    boot = null;
  }
  cachedSelf = { pid: process.pid, start: startTimeOf(process.pid), boot, host: os.hostname() };
  return cachedSelf;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
