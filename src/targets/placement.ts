import type { Placement, TargetConfig } from './types.js';

/**
 * How activity inputs name an environment's target. Workflows send `target` (the environment's config block);
 * workflows started before targets had kinds send `port` (and histories keep those inputs), which can only
 * mean the local target.
 */
export interface PlacementInput {
  app: string;
  env: string;
  target?: TargetConfig;
  /** @deprecated The local target's port, from inputs that predate `target`. */
  port?: number;
  /** How to run the artifact (the local build's command), for activations. */
  command?: string[];
  /** An image build's reference template, to tell which version a live image is (adoption after drift). */
  image?: string;
}

export function placementOf(input: PlacementInput): Placement {
  return {
    app: input.app,
    env: input.env,
    // The local target reads no port outside activations, so a reap input without one still works.
    config: input.target ?? { kind: 'local', port: input.port ?? 0 },
    build: { command: input.command, ...(input.image ? { image: input.image } : {}) },
  };
}
