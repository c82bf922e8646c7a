/**
 * Proof verification for the workflows, run as a local activity so its verdict lands in history: the worker
 * holds the trust root (the config's people, keys and issuer, the Slack signing secret in its environment),
 * and nothing a client sends is believed about who sent it.
 */
import type { ConfigSource } from '../config/source.js';
import { createProofVerifier } from '../identity/verify.js';
import type { Expectation, Proof, Verified } from '../identity/types.js';

export interface IdentityDeps {
  config: ConfigSource;
  /** Where secrets are read (the Slack signing secret); the worker passes process.env. */
  env: NodeJS.ProcessEnv;
  /** For the OIDC issuer's discovery document and keys. */
  fetch?: typeof fetch;
}

export function createIdentityActivities(deps: IdentityDeps) {
  const verifier = createProofVerifier({
    config: () => deps.config.get().config,
    env: deps.env,
    fetch: deps.fetch,
  });
  return {
    /** Whether `proof` proves someone sent exactly the request `expect` describes, at `expect.now`. */
    async verifyProof({ proof, expect }: { proof: Proof; expect: Expectation }): Promise<Verified> {
      try {
        return await verifier.verify(proof, expect);
      } catch (err) {
        // A verdict either way, never a retry loop: the handler records the refusal and the sender may retry.
        return { ok: false, reason: `the proof could not be verified: ${(err as Error).message}` };
      }
    },
  };
}
