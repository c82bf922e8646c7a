import { LocalEnv } from '../targets/local/environment.js';
import { withEnvLock } from '../targets/local/mutex.js';
import { envDir } from '../targets/local/state.js';
import type { TargetConfig } from '../targets/types.js';

/**
 * Teardown of an environment the config no longer names. Local: its proxy and app processes stop and its state
 * under SHIPGATE_HOME goes, so nothing (the worker's repairs included) starts them again; other environments'
 * processes are untouched. Other kinds: what runs there is left as it is (shipgate does not delete objects on a
 * cluster whose credentials may be gone with the config); the answer says so, and the audit record keeps it.
 */
export function createTeardownActivities(home: string) {
  return {
    async teardownEnvironment(input: { app: string; env: string; target?: TargetConfig }): Promise<string> {
      const { app, env } = input;
      const kind = input.target?.kind ?? 'local';
      if (kind !== 'local')
        return `left what runs on the ${kind} target as it is: delete it there (shipgate no longer manages ${app}/${env})`;
      const stopped = await withEnvLock(
        envDir(home, app, env),
        async () => {
          const local = LocalEnv.open(home, app, env, { stopGraceMs: 5000, log: () => {} });
          return local ? local.teardown() : 0;
        },
        { label: `${app}/${env}` },
      );
      return `stopped ${stopped} local process(es) of ${app}/${env} (its proxy and app processes)`;
    },
  };
}
