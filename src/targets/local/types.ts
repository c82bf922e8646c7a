import type { ActivateRequest, TargetConfig } from '../types.js';

export type LocalConfig = Extract<TargetConfig, { kind: 'local' }>;

/** An activation as the local target runs it: `artifact` is a folder, started with `command` in it. */
export interface LocalRequest extends ActivateRequest {
  app: string;
  env: string;
  /** The environment's public port (the proxy listens here). */
  port: number;
  /** Run in the artifact folder; PORT and APP_VERSION are set in its environment. */
  command: string[];
}

export interface LocalProcess {
  version: string;
  pid: number;
  port: number;
  alive: boolean;
  startedAt: string;
  /** False while the process has not yet answered its readiness check. */
  ready: boolean;
  /** Share of the environment's traffic, in percent; 0 for a warm standby. */
  weight: number;
  /** For a warm previous version: when reap() may stop it. */
  keepUntil: string | null;
}

/** One environment's data plane as the local target sees it: its proxy, port and processes. */
export interface LocalStatus {
  app: string;
  env: string;
  port: number;
  proxyAlive: boolean;
  serving: string | null;
  processes: LocalProcess[];
}
