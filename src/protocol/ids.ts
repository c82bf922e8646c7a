/** Workflow ids and task queue names: built and parsed here only. */
export const DEFAULT_TASK_QUEUE = 'shipgate';

export const releaseWorkflowId = (app: string, version: string) => `release/${app}/${version}`;
export const environmentWorkflowId = (app: string, env: string) => `env/${app}/${env}`;

/** Environment-specific activities (deploy, checks) run here, so production credentials can stay on production workers. */
export const environmentTaskQueue = (env: string, base = DEFAULT_TASK_QUEUE) => `${base}-env-${env}`;

/** App names never contain '/', so everything after the second '/' is the version or environment. */
function parseId(prefix: string, id: string): { app: string; rest: string } | null {
  if (!id.startsWith(`${prefix}/`)) return null;
  const tail = id.slice(prefix.length + 1);
  const slash = tail.indexOf('/');
  if (slash <= 0 || slash === tail.length - 1) return null;
  return { app: tail.slice(0, slash), rest: tail.slice(slash + 1) };
}

export function parseReleaseWorkflowId(id: string): { app: string; version: string } | null {
  const p = parseId('release', id);
  return p && { app: p.app, version: p.rest };
}

export function parseEnvironmentWorkflowId(id: string): { app: string; env: string } | null {
  const p = parseId('env', id);
  return p && { app: p.app, env: p.rest };
}
