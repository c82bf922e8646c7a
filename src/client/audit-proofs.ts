/**
 * The proofs audit records keep, checked again offline with nothing but the config's public keys: for an SSH
 * proof, the signature over the statement as signed, that the key is listed for the login, and that the
 * statement is about what the record says (the action its type stands for, the actor, the app, and where the
 * record names them the environment, the version and the release's run). How fresh the statement was when the
 * worker took it was the worker's check; here a statement may not postdate its record.
 *
 * Records of refusals keep the proof that was refused: it may not hold, by design, and is not checked. Slack and
 * GitHub Actions proofs cannot be checked again from the record alone (`audit verify-approvals` does what can
 * be done with a release's history).
 */
import type { ShipgateConfig } from '../config/schema.js';
import { createProofVerifier } from '../identity/verify.js';
import { statementDigest } from '../identity/statement.js';
import type { ProofAction } from '../identity/types.js';
import type { AuditRecord, StoredEntry } from '../audit/types.js';
import type { AuditType } from '../protocol/audit-types.js';

/** The action a record of each type was proven for. */
const ACTION_OF: Partial<Record<AuditType, ProofAction>> = {
  'release-started': 'release',
  approval: 'approve',
  rejection: 'reject',
  cancellation: 'cancel',
  override: 'override',
  'rollback-requested': 'rollback',
  freeze: 'freeze',
  unfreeze: 'unfreeze',
  adopt: 'adopt',
  teardown: 'teardown',
};

/** Actions a release's first run is signed for: the record's id names that run (`<workflow>@<run>#n`). */
const RUN_SCOPED: readonly ProofAction[] = ['approve', 'reject', 'cancel', 'override'];
/** Actions whose statement names the environment the record names. */
const ENV_SCOPED: readonly ProofAction[] = ['approve', 'rollback', 'freeze', 'unfreeze', 'adopt', 'teardown'];

/** Records (by where they are) whose SSH proof does not hold, with why; and how many were checked. */
export async function checkRecordProofs(
  entries: readonly StoredEntry[],
  config: ShipgateConfig,
  /** Verdicts by record hash, kept between calls on the same trail (a record's hash covers its proof). */
  cache: Map<string, string | null> = new Map(),
): Promise<{ problems: Map<string, string>; checked: number }> {
  const verifier = createProofVerifier({ config: () => config, env: {} });
  const problems = new Map<string, string>();
  let checked = 0;
  for (const e of entries) {
    const r = e.record as AuditRecord | null;
    if (!r || typeof r !== 'object' || !r.proof || r.proof.via !== 'ssh') continue;
    const action = ACTION_OF[r.type];
    if (!action) continue;
    checked++;
    const key = typeof r.hash === 'string' ? r.hash : null;
    let why = key !== null ? cache.get(key) : undefined;
    if (why === undefined) {
      why = await checkSsh(r, action, verifier);
      if (key !== null) cache.set(key, why);
    }
    if (why) problems.set(e.where, why);
  }
  return { problems, checked };
}

async function checkSsh(
  r: AuditRecord,
  action: ProofAction,
  verifier: ReturnType<typeof createProofVerifier>,
): Promise<string | null> {
  const p = r.proof!;
  const s = p.statement;
  if (!s || typeof p.signature !== 'string') return 'it kept no statement or signature';
  if (typeof s !== 'object' || typeof s.at !== 'string') return 'its statement is malformed';
  if (s.action !== action) return `the statement is for ${s.action}, the record is a ${r.type}`;
  const actor = String(r.actor);
  if (typeof p.login !== 'string' || p.login.toLowerCase() !== actor.toLowerCase())
    return `the proof is ${p.login}'s, the record names ${r.actor}`;
  if (s.login.toLowerCase() !== p.login.toLowerCase())
    return `the statement is signed as ${s.login}, the proof names ${p.login}`;
  if (s.app !== r.app) return `the statement is for app ${s.app}, the record for ${r.app}`;
  if (s.version !== null && r.version != null && s.version !== r.version)
    return `the statement is for version ${s.version}, the record for ${r.version}`;
  if (ENV_SCOPED.includes(action) && s.env !== null && r.env !== null && s.env !== r.env)
    return `the statement is for environment ${s.env}, the record for ${r.env}`;
  if (RUN_SCOPED.includes(action)) {
    const run = /@([^#@]+)#\d+$/.exec(String(r.id))?.[1];
    if (run && s.run !== run) return `the statement is for run ${s.run}, the record's release run is ${run}`;
  }
  if (Date.parse(s.at) > Date.parse(r.at) + 5 * 60_000)
    return `the statement is dated ${s.at}, after its record (${r.at})`;
  let digest: string;
  try {
    digest = statementDigest(s);
  } catch {
    return 'its statement is malformed';
  }
  if (p.digest !== digest) return `the recorded digest is not the statement's (${digest.slice(0, 12)}…)`;
  // The statement's own scope and time, so what is judged here is the signature and the key.
  const v = await verifier.verify(
    { kind: 'ssh', statement: s, signature: p.signature },
    {
      action: s.action,
      app: s.app,
      env: s.env,
      version: s.version,
      run: s.run,
      details: s.details,
      now: s.at,
    },
  );
  if (!v.ok) return v.reason;
  if (v.login.toLowerCase() !== actor.toLowerCase()) return `the key is listed for ${v.login}`;
  return null;
}
