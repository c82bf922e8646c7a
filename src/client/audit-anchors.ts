/**
 * What Temporal holds about the audit trail, for `audit verify` to hold the store against:
 *
 * - anchors: every chain head the store answered an append with. Each `recordAudit` activity's result in the
 *   retained history of every release and environment workflow (no worker needed to read it), each
 *   environment's current `auditAnchor` (its query), a release's last one (its result), and the one an
 *   environment carries across continue-as-new;
 * - the records each workflow sent (the same activities' inputs), so an edited record is named exactly;
 * - each configured environment's ledger (its query; a worker must answer), whose settled entries must each
 *   have their record.
 *
 * Every part is optional: fields the workflows do not keep yet, a worker that does not answer, history that
 * retention has deleted. What could not be read is said in `notes`; nothing here fails verification.
 */
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { ShipgateClient } from '../client.js';
import type { ShipgateConfig } from '../config/schema.js';
import type { AuditInput } from '../audit/types.js';
import type { AuditAnchor, LedgerClaim, SentRecord } from '../audit/verify.js';
import type { EnvironmentSnapshot } from '../workflows/types.js';

export interface TemporalEvidence {
  anchors: AuditAnchor[];
  sent: SentRecord[];
  ledgers: LedgerClaim[];
  /** Environments whose state was read, and workflows whose history was. */
  environments: number;
  histories: number;
  /** Records environments and releases hold undelivered (audit degraded), by who holds them. */
  undelivered: { source: string; waiting: number; since: string; lastError: string }[];
  /** What could not be read, for the summary. */
  notes: string[];
}

export interface EvidenceOptions {
  /** How long a query may wait for a worker (default 5 s); past it, the ledgers are not read. */
  queryTimeoutMs?: number;
  /** Histories read at once (default 8). */
  concurrency?: number;
}

/** The workflow types whose histories hold audit appends. */
const AUDITING_WORKFLOWS = ['releaseWorkflow', 'environmentWorkflow'];
const RECORD_ACTIVITY = 'recordAudit';

export async function collectTemporalEvidence(
  sg: ShipgateClient,
  config: ShipgateConfig,
  opts: EvidenceOptions = {},
): Promise<TemporalEvidence> {
  const found: TemporalEvidence = {
    anchors: [],
    sent: [],
    ledgers: [],
    environments: 0,
    histories: 0,
    undelivered: [],
    notes: [],
  };
  await readEnvironments(sg, config, found, opts.queryTimeoutMs ?? 5_000);
  await readHistories(sg, found, opts.concurrency ?? 8);
  return found;
}

async function readEnvironments(
  sg: ShipgateClient,
  config: ShipgateConfig,
  found: TemporalEvidence,
  timeoutMs: number,
): Promise<void> {
  for (const [app, a] of Object.entries(config.apps))
    for (const env of Object.keys(a.environments)) {
      let snapshot: EnvironmentSnapshot | null;
      try {
        snapshot = await sg.client.withDeadline(Date.now() + timeoutMs, () => sg.environmentState(app, env));
      } catch (err) {
        found.notes.push(
          `environments' ledgers not cross-checked: no worker answered the query of ${app}/${env} (${messageOf(err)})`,
        );
        return;
      }
      if (!snapshot) continue;
      found.environments++;
      const source = `env/${app}/${env}`;
      const anchor = anchorIn(snapshot.auditAnchor);
      if (anchor) found.anchors.push({ source: `${source} (its state)`, ...anchor });
      const degraded = snapshot.auditDegraded;
      if (degraded && typeof degraded.waiting === 'number' && degraded.waiting > 0)
        found.undelivered.push({
          source,
          waiting: degraded.waiting,
          since: degraded.since,
          lastError: degraded.lastError,
        });
      for (const e of snapshot.ledger ?? [])
        found.ledgers.push({
          source: `the ledger of ${app}/${env}`,
          app,
          env,
          action: e.action,
          version: e.version,
          outcome: e.outcome,
          opId: e.opId,
          endedAt: e.endedAt,
        });
    }
}

async function readHistories(sg: ShipgateClient, found: TemporalEvidence, concurrency: number) {
  const query = AUDITING_WORKFLOWS.map((t) => `WorkflowType = '${t}'`).join(' OR ');
  const runs: { workflowId: string; runId: string }[] = [];
  try {
    for await (const wf of sg.client.workflow.list({ query }))
      runs.push({ workflowId: wf.workflowId, runId: wf.runId });
  } catch (err) {
    found.notes.push(`Temporal history not read: listing workflows failed (${messageOf(err)})`);
    return;
  }
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < runs.length) {
      const run = runs[next++]!;
      try {
        const history = await sg.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
        readHistory(run.workflowId, history.events ?? [], found);
        found.histories++;
      } catch {
        // Deleted between the listing and the read (retention), or not readable: its anchors are not counted.
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, runs.length) }, worker));
  if (failed > 0) found.notes.push(`${failed} workflow histories could not be read`);
}

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<ShipgateClient['client']['workflow']['getHandle']>['fetchHistory']>>['events']
>[number];

/** The appends in one history: what each sent (the activity's input) and the head the store answered. */
export function readHistory(
  workflowId: string,
  events: readonly HistoryEvent[],
  found: TemporalEvidence,
): void {
  const scheduled = new Map<string, AuditInput[]>();
  for (const event of events) {
    const id = String(event.eventId ?? '');
    const s = event.activityTaskScheduledEventAttributes;
    if (s?.activityType?.name === RECORD_ACTIVITY) {
      const records = decode(s.input?.payloads?.[0]);
      if (Array.isArray(records)) scheduled.set(id, records as AuditInput[]);
      continue;
    }
    const c = event.activityTaskCompletedEventAttributes;
    if (c) {
      const records = scheduled.get(String(c.scheduledEventId ?? ''));
      if (!records) continue;
      const source = `${workflowId} (history, event ${id})`;
      for (const record of records)
        if (record && typeof record.id === 'string') found.sent.push({ source, record });
      const anchor = anchorIn((decode(c.result?.payloads?.[0]) as { head?: unknown } | null)?.head);
      if (anchor) found.anchors.push({ source, ...anchor });
      continue;
    }
    const done = event.workflowExecutionCompletedEventAttributes;
    if (done) {
      const anchor = anchorIn(
        (decode(done.result?.payloads?.[0]) as { auditAnchor?: unknown } | null)?.auditAnchor,
      );
      if (anchor) found.anchors.push({ source: `${workflowId} (its result)`, ...anchor });
      continue;
    }
    const next = event.workflowExecutionContinuedAsNewEventAttributes;
    if (next) {
      const carried = (
        decode(next.input?.payloads?.[0]) as { carried?: { audit?: { anchor?: unknown } } } | null
      )?.carried;
      const anchor = anchorIn(carried?.audit?.anchor);
      if (anchor) found.anchors.push({ source: `${workflowId} (carried to its next run)`, ...anchor });
    }
  }
}

function decode(payload: unknown): unknown {
  if (!payload) return null;
  try {
    return defaultPayloadConverter.fromPayload(payload as Payload);
  } catch {
    return null;
  }
}

/** `{ seq, hash }` when the value is a chain head past the empty chain; null otherwise. */
function anchorIn(value: unknown): { seq: number; hash: string } | null {
  if (!value || typeof value !== 'object') return null;
  const { seq, hash } = value as { seq?: unknown; hash?: unknown };
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 1) return null;
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return null;
  return { seq, hash };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}
