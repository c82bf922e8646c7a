import type { Client } from '@temporalio/client';
import type { ConfigSource } from '../config/source.js';
import { evaluateWindows, type Freeze } from '../policy/windows.js';
import type { GateVerdict } from '../workflows/types.js';
import { readEnvironment } from './environment-client.js';

/**
 * The deploy gate, read live: the worker's current config for windows, the environment's freezes. Fails closed:
 * an unreadable config blocks the deploy with a reason instead of letting it through.
 */
export function createGateActivities(config: ConfigSource, client: Client) {
  return {
    async evaluateDeployGate(input: {
      app: string;
      env: string;
      overridden: boolean;
      freezes?: Freeze[];
      at?: string;
    }): Promise<GateVerdict> {
      const at = input.at ? new Date(input.at) : new Date();
      let windows;
      try {
        const env = config.get().config.apps[input.app]?.environments[input.env];
        if (!env) throw new Error(`${input.app}/${input.env} is no longer in the config`);
        windows = env.windows;
      } catch (err) {
        const reason = `config unreadable, holding deploys: ${(err as Error).message}`;
        return { allowed: false, blockedBy: 'config', until: null, reason, kind: 'gate' };
      }
      if (input.overridden)
        return { allowed: true, blockedBy: null, until: null, reason: 'overridden', kind: null };
      const freezes = input.freezes ?? (await readEnvironment(client, input.app, input.env))?.freezes ?? [];
      const verdict = evaluateWindows(windows, freezes, at);
      return { ...verdict, kind: verdict.allowed ? null : 'window' };
    },
  };
}
