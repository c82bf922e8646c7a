import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NAME_PATTERN, VERSION_PATTERN } from '../../policy/patterns.js';
import { readJson, writeJsonAtomic } from './json-file.js';
import type { RouteEntry } from './route.js';

export interface ProcessRecord {
  version: string;
  /** 0 between recording the intent to start and spawn() returning. */
  pid: number;
  /** Set in the process's environment as SHIPGATE_INSTANCE, to find it again if its pid was never recorded. */
  instance: string;
  port: number;
  startedAt: string;
  /** Kernel start time of the pid, so a pid reused by an unrelated program is never taken for ours. */
  startTicks: string | null;
  /** False until /health answered 200; a record left at false is a start that a killed caller abandoned. */
  ready: boolean;
  /** For a warm previous version: when reap() may stop it. */
  keepUntil: string | null;
  artifactDir: string;
  command: string[];
}

export interface ProxyRecord {
  pid: number;
  adminPort: number;
  startTicks: string | null;
  startedAt: string;
}

/** Everything needed to adopt an environment's data plane from a fresh process. */
export interface EnvState {
  schema: 1;
  app: string;
  env: string;
  port: number;
  /** Shared secret for the proxy's admin API, so other local users cannot reroute traffic. */
  token: string;
  proxy: ProxyRecord | null;
  /** The route as last acknowledged by the proxy (the proxy's own route.json is newer if they differ). */
  route: RouteEntry[];
  /** The stable version: the last one switched to 100%. */
  serving: string | null;
  previous: string | null;
  processes: ProcessRecord[];
  updatedAt: string;
}

export function checkName(kind: 'app' | 'environment', name: string): void {
  if (!NAME_PATTERN.test(name))
    throw new Error(`invalid ${kind} name "${name}": expected ${NAME_PATTERN.source}`);
}

export function checkVersion(version: string): void {
  if (!VERSION_PATTERN.test(version)) {
    throw new Error(`invalid version "${version}": expected ${VERSION_PATTERN.source}`);
  }
}

export function envDir(home: string, app: string, env: string): string {
  checkName('app', app);
  checkName('environment', env);
  return join(home, 'targets', app, env);
}

export const statePath = (dir: string) => join(dir, 'state.json');
/** Written only by the proxy process. */
export const routePath = (dir: string) => join(dir, 'route.json');
/** Written only by the proxy process, once it listens: how to reach its admin API. */
export const proxyInfoPath = (dir: string) => join(dir, 'proxy.json');
/** Outside logs/ so no version name can collide with it. */
export const proxyLogPath = (dir: string) => join(dir, 'proxy.log');
export const appLogPath = (dir: string, version: string) => join(dir, 'logs', `${version}.log`);

export function loadState(dir: string): EnvState | null {
  return readJson<EnvState>(statePath(dir));
}

export function saveState(dir: string, st: EnvState): void {
  st.updatedAt = new Date().toISOString();
  writeJsonAtomic(statePath(dir), st);
}

/** Forgets an environment's data plane; its logs stay for post-mortems. */
export function clearState(dir: string): void {
  for (const f of [statePath(dir), routePath(dir), proxyInfoPath(dir)]) rmSync(f, { force: true });
}

/** Every environment folder under home that has a state file. */
export function listEnvDirs(home: string): string[] {
  const root = join(home, 'targets');
  const dirs: string[] = [];
  const subdirs = (d: string) =>
    existsSync(d)
      ? readdirSync(d, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => join(d, e.name))
      : [];
  for (const appDir of subdirs(root)) {
    for (const dir of subdirs(appDir)) if (existsSync(statePath(dir))) dirs.push(dir);
  }
  return dirs;
}
