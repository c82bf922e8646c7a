import { ApplicationFailure } from '@temporalio/common';
import type { ConfigSource } from '../config/source.js';
import { FAILURE } from '../protocol/failures.js';
import { placementOf, type PlacementInput } from '../targets/placement.js';
import type { DriftFinding, ExpectedState, TargetProvider } from '../targets/types.js';

/**
 * Drift: comparing what runs with the ledger's current entry, and taking what runs as current. Both run on
 * the environment's own task queue, whose workers alone hold its credentials; the input's `target` is the
 * environment's target block (its live config, or the deploy's snapshot of it).
 */
export function createDriftActivities(targets: TargetProvider, config: ConfigSource) {
  /** The app's image template from the worker's config, so a live image's version is named as builds name it. */
  const imageOf = (app: string): string | undefined => {
    try {
      const build = config.get().config.apps[app]?.build;
      return build?.kind === 'image' ? build.image : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    /** What differs between the ledger's current entry and what runs; empty for kinds that cannot drift. */
    async detectDrift(input: PlacementInput & { expected: ExpectedState }): Promise<DriftFinding[]> {
      const target = targets.open(placementOf(input));
      if (!target.drift) return [];
      return target.drift(input.expected);
    },

    /** What runs now, to record as the ledger's current entry. Kinds that cannot drift have nothing to adopt. */
    async adoptLiveState(input: PlacementInput): Promise<ExpectedState> {
      const image = input.image ?? imageOf(input.app);
      const target = targets.open(placementOf({ ...input, ...(image ? { image } : {}) }));
      if (!target.adopt)
        throw ApplicationFailure.create({
          type: FAILURE.badInput,
          message: `${input.app}/${input.env} runs on a ${target.kind} target, which runs only what shipgate starts: there is no live state to adopt`,
          nonRetryable: true,
        });
      return target.adopt();
    },
  };
}
