/**
 * A rollback's critical path in one activity (patched('rollback-critical-path')): the switch to the version
 * and its one-off verification, back to back on the environment's worker, so the workflow waits for one task
 * instead of two activity round trips and a workflow task between them. Soaks stay workflow-driven.
 */
import { ApplicationFailure } from '@temporalio/common';
import { VERIFY_THREW } from '../protocol/verification.js';
import type { VerifySpec } from '../workflows/types.js';

interface Parts<A, V> {
  activateVersion(input: A): Promise<{ digest?: string } | undefined>;
  verifyVersion(input: V): Promise<{ ok: boolean; detail: string; dead?: true }>;
}

export function createSwitchActivities<
  A extends { app: string; env: string; version: string },
  V extends { app: string; env: string; version: string; verify: VerifySpec },
>(parts: Parts<A, V>) {
  return {
    /**
     * Activates as activateVersion does (its failures are its own), then verifies once as verifyVersion does.
     * A verification that throws (a target that cannot be asked) fails with VERIFY_THREW, retryable: the retry
     * switches again (a no-op on the version already serving) and verifies again, as verifyVersion's retries did.
     */
    async activateAndVerifyVersion(input: A & { verify: VerifySpec }) {
      const activated = await parts.activateVersion(input);
      try {
        const check = await parts.verifyVersion(input as unknown as V);
        return { ...(activated?.digest ? { digest: activated.digest } : {}), check };
      } catch (err) {
        throw ApplicationFailure.create({
          type: VERIFY_THREW,
          message: err instanceof Error ? err.message : String(err),
          cause: err instanceof Error ? err : undefined,
        });
      }
    },
  };
}
