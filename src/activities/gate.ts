import type { Client } from '@temporalio/client';
import type { ConfigSource } from '../config/source.js';
import { evaluateWindows, type Freeze } from '../policy/windows.js';
import { driftHold } from '../policy/drift.js';
import type { ShipgateConfig } from '../config/schema.js';
import { removedVerdict } from '../policy/config-removed.js';
import type { GateVerdict, OnDrift } from '../workflows/types.js';
import { readEnvironment } from './environment-client.js';
import { checkExternalGate } from './external-gate.js';

/**
 * The deploy gate, read live: the worker's current config for windows and external gates, the environment's
 * freezes and drift. Fails closed: an unreadable config blocks the deploy with a reason instead of letting it through.
 * A config that loads but no longer names the app or environment is a `removed` hold, which a release waits out
 * for a bounded grace (configRemovedGrace) before it ends.
 * An override passes windows and freezes, never external gates.
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
      let loaded: ShipgateConfig;
      try {
        loaded = config.get().config;
      } catch (err) {
        // Fails closed: a config that cannot be read is never taken to mean "removed".
        const reason = `config unreadable, holding deploys: ${(err as Error).message}`;
        return { allowed: false, blockedBy: 'config', until: null, reason, kind: 'gate' };
      }
      const appConfig = loaded.apps[input.app];
      const env = appConfig?.environments[input.env];
      if (!env) return removedVerdict(input.app, input.env, !appConfig, loaded.configRemovedGrace);
      const { windows, gates } = env;
      const onDrift: OnDrift = env.onDrift;
      // A release asks without freezes and reads the environment; the environment passes its own (and holds
      // deploys for drift itself).
      const state = input.freezes ? null : await readEnvironment(client, input.app, input.env);
      if (!input.overridden) {
        const freezes = input.freezes ?? state?.freezes ?? [];
        const verdict = evaluateWindows(windows, freezes, at);
        if (!verdict.allowed) return { ...verdict, kind: 'window' };
      }
      // Drift holds deploys until someone adopts what runs or rolls back; an override does not skip it.
      const drift = driftHold(state?.drift, onDrift, input.app, input.env);
      if (drift) return drift;
      for (const gate of gates) {
        const problem = await checkExternalGate(gate);
        if (problem) {
          const until = new Date(at.getTime() + gate.interval).toISOString();
          return {
            allowed: false,
            blockedBy: `gate ${gate.name}`,
            until,
            reason: problem,
            kind: 'gate',
            gateTimeoutMs: gate.timeout,
          };
        }
      }
      return {
        allowed: true,
        blockedBy: null,
        until: null,
        reason: input.overridden ? 'overridden' : 'no window, freeze or gate blocks',
        kind: null,
      };
    },
  };
}
