import { join } from 'node:path';
import { LockTimeoutError, withFileLock } from '../../audit/lock.js';

// Keyed by environment folder at module level, so two LocalTarget objects in one process (an old one and one
// that adopted the data plane) still take turns.
const tails = new Map<string, Promise<unknown>>();

/** Runs fn after every earlier call with the same key has settled. */
export function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = tails.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  tails.set(key, tail);
  void tail.then(() => {
    if (tails.get(key) === tail) tails.delete(key);
  });
  return run;
}

/** Someone in this process holds (or waits for) the lock `key`. */
export function isLocked(key: string): boolean {
  return tails.has(key);
}

/** The environment's lock is held by another caller; a `try` lock gives up at once instead of waiting. */
export class EnvBusyError extends Error {
  constructor(label: string, holder: string) {
    super(`${label} is busy: ${holder} holds its lock`);
    this.name = 'EnvBusyError';
  }
}

export interface EnvLockOptions {
  label: string;
  /** Give up at once (EnvBusyError) when anyone holds it, instead of waiting. */
  tryOnly?: boolean;
  /** How long to wait for another process's live holder (default 10 min); called each second meanwhile. */
  waitMs?: number;
  waiting?: (message: string) => void;
}

const DEFAULT_WAIT_MS = 10 * 60_000;

/**
 * The environment's lock: one in-process queue (callers in this process take turns in order) and, inside it, a
 * file lock in the environment's folder, so workers that share SHIPGATE_HOME never change one data plane at
 * once: one of two reconcilers restarts a dead proxy, and neither does while a deploy switches traffic. A
 * holder that died is broken at once (src/audit/lock.ts); a live one is waited for.
 */
export function withEnvLock<T>(dir: string, fn: () => Promise<T>, opts: EnvLockOptions): Promise<T> {
  if (opts.tryOnly && isLocked(dir)) return Promise.reject(new EnvBusyError(opts.label, 'this process'));
  return withLock(dir, async () => {
    const waitMs = opts.tryOnly ? 0 : (opts.waitMs ?? DEFAULT_WAIT_MS);
    let timer: NodeJS.Timeout | undefined;
    try {
      const held = () => {
        clearInterval(timer);
        return fn();
      };
      return await withFileLock(join(dir, 'lock'), held, {
        timeoutMs: waitMs,
        onBusy: (owner) => {
          if (opts.tryOnly || timer) return;
          const say = () =>
            opts.waiting?.(`waiting for process ${owner.pid}, which holds the lock of ${opts.label}`);
          say();
          timer = setInterval(say, 1000);
        },
      });
    } catch (err) {
      if (!(err instanceof LockTimeoutError)) throw err;
      if (opts.tryOnly) throw new EnvBusyError(opts.label, `process ${err.owner.pid}`);
      throw new Error(
        `${opts.label} is locked by live process ${err.owner.pid} on ${err.owner.host} (since ${err.owner.at}); waited ${Math.round(waitMs / 1000)} s`,
        { cause: err },
      );
    } finally {
      clearInterval(timer);
    }
  });
}
