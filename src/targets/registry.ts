/**
 * Every target kind, keyed by the `target.kind` an environment's config names. Adding a kind is its folder
 * under src/targets/ plus one entry here (and its config block in src/config/schema.ts).
 */
import { createKubernetesTarget } from './kubernetes/index.js';
import { createLocalTarget } from './local/index.js';
import type { DeploymentTarget, Placement, TargetKind, TargetProvider } from './types.js';

export interface TargetDeps {
  /** SHIPGATE_HOME, for kinds that keep state on this machine. */
  home: string;
  log?: (message: string) => void;
}

export interface TargetKindEntry {
  /** One provider per process; it opens each environment of this kind. */
  create(deps: TargetDeps): TargetProvider & {
    /**
     * Stops what this kind runs on this machine (`shipgate down`, and `dev` and `demo` on exit). Kinds
     * whose workloads live elsewhere, such as a cluster, leave it out.
     */
    stopAll?(): Promise<{ stopped: number }>;
  };
}

export const TARGET_KINDS: Record<TargetKind, TargetKindEntry> = {
  local: { create: (deps) => createLocalTarget({ home: deps.home, log: deps.log }) },
  kubernetes: { create: () => createKubernetesTarget() },
};

export interface TargetRegistry extends TargetProvider {
  /** Stops every kind's processes on this machine; returns how many it stopped. */
  stopAll(): Promise<{ stopped: number }>;
}

/** The targets of one process: each kind's provider is created on first use and kept. */
export function createTargets(deps: TargetDeps): TargetRegistry {
  const providers = new Map<TargetKind, ReturnType<TargetKindEntry['create']>>();
  const provider = (kind: TargetKind) => {
    let p = providers.get(kind);
    if (!p) {
      const entry = TARGET_KINDS[kind] as TargetKindEntry | undefined;
      if (!entry) {
        throw new Error(`unknown target kind "${kind}": expected ${Object.keys(TARGET_KINDS).join(', ')}`);
      }
      p = entry.create(deps);
      providers.set(kind, p);
    }
    return p;
  };
  return {
    open(placement: Placement): DeploymentTarget {
      return provider(placement.config.kind).open(placement);
    },
    async stopAll() {
      let stopped = 0;
      for (const kind of Object.keys(TARGET_KINDS) as TargetKind[]) {
        stopped += (await provider(kind).stopAll?.())?.stopped ?? 0;
      }
      return { stopped };
    },
  };
}
