import type { ChildProcess } from 'node:child_process';
import { NotReadyError } from '../errors.js';
import { httpRequest } from './http-get.js';
import { exited, isAlive, logTail, sleep, throwIfAborted } from './processes.js';

export interface ReadyOptions {
  label: string;
  port: number;
  pid: number;
  startTicks: string | null;
  /** Present when this process spawned it, which tells us the exit code. */
  child?: ChildProcess;
  logFile: string;
  timeoutMs: number;
  signal?: AbortSignal;
  progress?: (message: string) => void;
}

function exitStatusOf(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function howItDied(child: ChildProcess | undefined): string {
  if (child?.exitCode != null) return `exited with code ${child.exitCode}`;
  if (child?.signalCode) return `was killed by ${child.signalCode}`;
  return 'exited';
}

/** Polls GET /health until it answers 200; throws NotReadyError if the process dies or the deadline passes. */
export async function waitReady(o: ReadyOptions): Promise<void> {
  const started = Date.now();
  let lastProgress = started;
  const tail = () => {
    const lines = logTail(o.logFile);
    return lines ? `\nLast lines of ${o.logFile}:\n${lines}` : `\nIts log is ${o.logFile}.`;
  };
  for (;;) {
    throwIfAborted(o.signal, `starting ${o.label}`);
    if ((o.child && exited(o.child)) || !isAlive(o.pid, o.startTicks)) {
      // The kernel may report the process gone before Node has read its exit status: wait for it briefly,
      // so the message says how it died.
      if (o.child) await exitStatusOf(o.child, 1000);
      throw new NotReadyError(`${o.label} ${howItDied(o.child)} before it became ready.${tail()}`);
    }
    const res = await httpRequest({ port: o.port, path: '/health', timeoutMs: 1000 }).catch(() => null);
    if (res?.status === 200) return;
    const now = Date.now();
    if (now - started >= o.timeoutMs) {
      throw new NotReadyError(
        `${o.label} did not answer 200 on GET /health (127.0.0.1:${o.port}) within ${Math.round(o.timeoutMs / 1000)} s` +
          `${res ? `; last answer was ${res.status}` : ''}.${tail()}`,
      );
    }
    if (now - lastProgress >= 1000) {
      lastProgress = now;
      o.progress?.(`waiting for ${o.label} to answer /health (${Math.round((now - started) / 1000)} s)`);
    }
    await sleep(100, o.signal);
  }
}
