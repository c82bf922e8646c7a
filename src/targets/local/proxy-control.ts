import { rmSync } from 'node:fs';
import { siblingEntryArgv } from './entry.js';
import { httpRequest } from './http-get.js';
import { readJson } from './json-file.js';
import { baseEnv, exited, isAlive, logTail, sleep, spawnDetached, startTicksOf } from './processes.js';
import type { RouteEntry } from './route.js';
import { proxyInfoPath, proxyLogPath, type ProxyRecord } from './state.js';

/** Client for one proxy's admin API. */
export class ProxyControl {
  constructor(
    readonly adminPort: number,
    private readonly token: string,
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await httpRequest({
      port: this.adminPort,
      path,
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: 3000,
    });
    if (res.status !== 200)
      throw new Error(`proxy admin ${method} ${path} answered ${res.status}: ${res.body}`);
    return JSON.parse(res.body);
  }

  /** The proxy's pid and public port, or null when nothing (or something else) answers. */
  async health(): Promise<{ pid: number; port: number } | null> {
    try {
      return (await this.call('GET', '/health')) as { pid: number; port: number };
    } catch {
      return null;
    }
  }

  async getRoute(): Promise<RouteEntry[]> {
    return ((await this.call('GET', '/route')) as { route: RouteEntry[] }).route;
  }

  async setRoute(route: RouteEntry[]): Promise<void> {
    await this.call('PUT', '/route', { route });
  }
}

export interface LaunchOptions {
  dir: string;
  label: string;
  port: number;
  token: string;
  timeoutMs?: number;
}

/** Starts an environment's proxy, detached, and waits until it listens. It loads its persisted route itself. */
export async function launchProxy(opts: LaunchOptions): Promise<ProxyRecord> {
  const info = proxyInfoPath(opts.dir);
  rmSync(info, { force: true });
  const argv = [
    ...siblingEntryArgv(import.meta.url, 'proxy-main'),
    '--dir',
    opts.dir,
    '--port',
    String(opts.port),
  ];
  const log = proxyLogPath(opts.dir);
  // The token travels in the environment rather than argv, which any local user can read with ps.
  const child = spawnDetached(argv, {
    cwd: opts.dir,
    env: { ...baseEnv(), SHIPGATE_PROXY_TOKEN: opts.token },
    logFile: log,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the proxy for ${opts.label} (${argv.join(' ')})`);
  const startTicks = startTicksOf(pid);
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const seen = readJson<{ pid: number; adminPort: number }>(info);
    if (seen?.pid === pid)
      return { pid, adminPort: seen.adminPort, startTicks, startedAt: new Date().toISOString() };
    if (exited(child) || !isAlive(pid, startTicks)) {
      throw new Error(
        `the proxy for ${opts.label} on 127.0.0.1:${opts.port} exited at start:\n${logTail(log)}`,
      );
    }
    if (Date.now() > deadline) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
      throw new Error(
        `the proxy for ${opts.label} did not start within ${opts.timeoutMs ?? 15_000} ms; see ${log}`,
      );
    }
    await sleep(25);
  }
}
