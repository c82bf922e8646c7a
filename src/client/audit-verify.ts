/**
 * `audit verify` end to end: what Temporal holds (anchors, records as sent, ledgers), the store's own
 * checkpoints, then the store's entries, judged by the pure verifier. Temporal is read first, so every head
 * it names was written before the store is read: a record appended meanwhile only lengthens the chain.
 */
import type { AuditStore } from '../audit/types.js';
import { summarize, verifyTrail, type AuditAnchor, type TrailReport } from '../audit/verify.js';
import type { ShipgateConfig } from '../config/schema.js';
import type { ShipgateClient } from '../client.js';
import { collectTemporalEvidence, type TemporalEvidence } from './audit-anchors.js';
import { checkRecordProofs } from './audit-proofs.js';

export interface AuditVerifyOptions {
  store: AuditStore;
  config: ShipgateConfig;
  /** Temporal, or null when it cannot be reached (then `unreachable` says why). */
  sg: ShipgateClient | null;
  unreachable?: string;
  from?: number;
  /**
   * A ledger entry settles a moment before its record is written: how long to wait for such records to
   * arrive before calling them missing (default 10 s).
   */
  settleMs?: number;
}

export interface AuditVerifyResult {
  report: TrailReport;
  /** The one line to print. */
  summary: string;
  notes: string[];
  store: AuditStore['kind'];
  temporal: { environments: number; histories: number } | null;
}

export async function verifyAudit(opts: AuditVerifyOptions): Promise<AuditVerifyResult> {
  const { store, config } = opts;
  const evidence: TemporalEvidence | null = opts.sg ? await collectTemporalEvidence(opts.sg, config) : null;
  const checkpoints = await store.checkpoints();
  const anchors = distinct([
    ...(evidence?.anchors ?? []),
    ...checkpoints.map((c) => ({ source: `the ${store.kind} store's checkpoint of seq ${c.seq}`, ...c })),
  ]);
  const notes = [...(evidence?.notes ?? [])];
  if (!evidence)
    notes.push(
      `Temporal not reached${opts.unreachable ? ` (${opts.unreachable})` : ''}: ${checkpoints.length ? 'only the store’s checkpoints anchor the chain' : 'nothing anchors the chain'}`,
    );

  const settleBy = Date.now() + (opts.settleMs ?? 10_000);
  const proofVerdicts = new Map<string, string | null>();
  for (;;) {
    const entries = await store.entries();
    const proofs = await checkRecordProofs(entries, config, proofVerdicts);
    const report = verifyTrail({
      entries,
      anchors,
      from: opts.from,
      sent: evidence?.sent,
      ledgers: evidence?.ledgers,
      proofProblem: (_r, where) => proofs.problems.get(where) ?? null,
    });
    const p = report.problem;
    const inFlight = p?.kind === 'missing' && p.seq === null && p.where.startsWith('the ledger of ');
    if (inFlight && Date.now() < settleBy) {
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    const waiting = evidence?.undelivered ?? [];
    if (p && inFlight && waiting.length)
      p.detail += `; ${waiting.map((w) => `${w.source} holds ${w.waiting} record(s) undelivered (audit degraded since ${w.since}: ${w.lastError})`).join('; ')}`;
    else
      for (const w of waiting)
        notes.push(
          `${w.source} holds ${w.waiting} record(s) not yet written (audit degraded since ${w.since})`,
        );
    return {
      report,
      summary: summarize(report, { store: store.kind, notes }),
      notes,
      store: store.kind,
      temporal: evidence ? { environments: evidence.environments, histories: evidence.histories } : null,
    };
  }
}

/** One anchor per head (the first source that names it); heads that disagree all stay. */
function distinct(anchors: AuditAnchor[]): AuditAnchor[] {
  const seen = new Set<string>();
  return anchors.filter((a) => {
    const key = `${a.seq}:${a.hash}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
