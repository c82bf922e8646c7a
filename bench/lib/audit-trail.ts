/**
 * Records for filling an audit chain to a realistic size: release and rollback cycles of an app no config
 * names (so no ledger, release or re-release check ever reads them), shaped as the workflows write them. The
 * records that carry a proof in real trails carry a real one: an SSH statement signed with the stack's keys
 * and accepted by the worker's own verifier, so `audit verify` re-checks signatures as it would on a real trail.
 */
import type { AuditInput } from '../../src/audit/types.js';
import type { Prover } from '../../src/client.js';
import type { ShipgateConfig } from '../../src/config/schema.js';
import { detailsDigest } from '../../src/identity/statement.js';
import type { ProofAction } from '../../src/identity/types.js';
import { createProofVerifier } from '../../src/identity/verify.js';
import { proofRecord } from '../../src/policy/proofs.js';
import type { AuditType } from '../../src/protocol/audit-types.js';
import type { ProofRecord } from '../../src/protocol/proof-record.js';

export const FILLER_APP = 'ledger-filler';
/** Versions the cycles go through; each needs its own signed statements. */
const VERSIONS = 8;
const RUN = 'bench-run';

interface Step {
  type: AuditType;
  env: string | null;
  actor: string;
  proof?: ProofAction;
  fields?: (version: string, previous: string) => Partial<AuditInput> & Record<string, unknown>;
}

/** One release through staging and production with two approvals, then a rollback: 14 records. */
const CYCLE: Step[] = [
  {
    type: 'release-started',
    env: null,
    actor: 'dave',
    proof: 'release',
    fields: (v) => ({ reason: `commit bench${v} on main`, via: 'ssh', commit: `bench${v}` }),
  },
  { type: 'deploy-started', env: 'staging', actor: 'dave' },
  {
    type: 'deploy-succeeded',
    env: 'staging',
    actor: 'dave',
    fields: (_v, prev) => ({ fromVersion: prev, approvers: [], outcome: 'succeeded', commit: 'bench' }),
  },
  { type: 'deployed', env: 'staging', actor: 'dave' },
  { type: 'approval', env: 'production', actor: 'alice', proof: 'approve', fields: () => ({ via: 'ssh' }) },
  { type: 'approval', env: 'production', actor: 'bob', proof: 'approve', fields: () => ({ via: 'ssh' }) },
  { type: 'approved', env: 'production', actor: 'dave', fields: () => ({ approvers: ['alice', 'bob'] }) },
  { type: 'deploy-started', env: 'production', actor: 'dave' },
  {
    type: 'deploy-succeeded',
    env: 'production',
    actor: 'dave',
    fields: (_v, prev) => ({ fromVersion: prev, approvers: ['alice', 'bob'], outcome: 'succeeded' }),
  },
  { type: 'deployed', env: 'production', actor: 'dave' },
  { type: 'release-ended', env: 'production', actor: 'dave', fields: () => ({ outcome: 'succeeded' }) },
  // The rollback goes back to the version before: its statement and record name that target.
  {
    type: 'rollback-requested',
    env: 'production',
    actor: 'carol',
    proof: 'rollback',
    fields: () => ({ reason: 'bench: error rate', via: 'ssh' }),
  },
  { type: 'rollback-started', env: 'production', actor: 'carol' },
  {
    type: 'rollback-succeeded',
    env: 'production',
    actor: 'carol',
    fields: (v, prev) => ({
      fromVersion: v,
      outcome: 'succeeded',
      reason: 'bench: error rate',
      version: prev,
    }),
  },
];

const versionOf = (cycle: number) => `2.0.${cycle % VERSIONS}`;
const previousOf = (cycle: number) => `2.0.${(cycle + VERSIONS - 1) % VERSIONS}`;

/** The signed proofs the cycles carry, keyed by `${action}/${login}/${version}`; verified as the worker does. */
export async function fillerProofs(
  config: ShipgateConfig,
  prove: (login: string) => Prover,
): Promise<Map<string, ProofRecord>> {
  const verifier = createProofVerifier({ config: () => config, env: {} });
  const details = detailsDigest({});
  const proofs = new Map<string, ProofRecord>();
  for (let cycle = 0; cycle < VERSIONS; cycle++)
    for (const step of CYCLE) {
      if (!step.proof) continue;
      const version = step.proof === 'rollback' ? previousOf(cycle) : versionOf(cycle);
      const request = {
        action: step.proof,
        app: FILLER_APP,
        env: step.proof === 'release' ? null : step.env,
        version,
        run: step.proof === 'approve' ? RUN : null,
        details,
      };
      const proof = await prove(step.actor)(request);
      const v = await verifier.verify(proof, { ...request, now: new Date().toISOString() });
      if (!v.ok) throw new Error(`a filler proof did not verify: ${v.reason}`);
      proofs.set(`${step.proof}/${step.actor}/${version}`, proofRecord(proof, v));
    }
  return proofs;
}

/** Filler records, one cycle after another, with ids `<idPrefix>-<n>`; endless. */
export function* fillerRecords(
  idPrefix: string,
  proofs: ReadonlyMap<string, ProofRecord>,
): Generator<AuditInput, never> {
  for (let n = 0; ; n++) {
    const cycle = Math.floor(n / CYCLE.length);
    const step = CYCLE[n % CYCLE.length]!;
    const version = versionOf(cycle);
    const previous = previousOf(cycle);
    const record: AuditInput & Record<string, unknown> = {
      id: `${idPrefix}-${n}`,
      at: new Date().toISOString(),
      type: step.type,
      app: FILLER_APP,
      version: step.proof === 'rollback' ? previous : version,
      env: step.env,
      actor: step.actor,
      releaseId: `release/${FILLER_APP}/${version}`,
      ...step.fields?.(version, previous),
    };
    if (step.proof) {
      const proof = proofs.get(`${step.proof}/${step.actor}/${record.version}`);
      if (!proof) throw new Error(`no filler proof for ${step.proof} by ${step.actor} of ${record.version}`);
      record.proof = proof;
    }
    yield record;
  }
}
