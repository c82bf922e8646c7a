/**
 * `audit verify`, pure: given a store's entries as stored, the heads recorded where the store's writer cannot
 * rewrite them (anchors: Temporal history, the store's locked checkpoints), the records workflows sent (as
 * their histories keep them) and the environments' ledgers, find the first record that does not hold and say
 * what is wrong with it.
 *
 * The chain alone catches an edit, a gap, an insertion and a reordering. A rewritten chain (records edited or
 * deleted, every later hash recomputed) and a cut tail are consistent on their own: only the anchors catch
 * them, and the records sent (kept in history) say exactly which record changed.
 */
import { GENESIS, hashRecord } from './chain.js';
import type { AuditInput, AuditRecord, ChainHead, StoredEntry } from './types.js';

export type AuditProblemKind =
  | 'edited'
  | 'missing'
  | 'inserted'
  | 'reordered'
  | 'truncated'
  | 'anchor-mismatch'
  | 'unreadable'
  | 'proof-invalid';

/** A chain head recorded elsewhere: `source` says where (a workflow, a checkpoint object). */
export interface AuditAnchor {
  source: string;
  seq: number;
  hash: string;
}

/** A record a workflow handed to the store, as its history keeps it. */
export interface SentRecord {
  source: string;
  record: AuditInput;
}

/** A settled entry of an environment's ledger: its deploy, rollback or adopt must have its audit record. */
export interface LedgerClaim {
  source: string;
  app: string;
  env: string;
  action: 'deploy' | 'rollback' | 'adopt';
  version: string;
  outcome: string;
  opId: string;
  endedAt: string | null;
}

export interface AuditProblem {
  kind: AuditProblemKind;
  /** The record's sequence number (for a gap, the first missing one); null when no record is at fault. */
  seq: number | null;
  /** Where: a line (`file:N`), an object key, or the ledger or workflow that names a missing record. */
  where: string;
  detail: string;
}

export interface TrailInput {
  entries: readonly StoredEntry[];
  anchors?: readonly AuditAnchor[];
  /** Check records from this sequence number on (the one before it is taken as it stands). */
  from?: number;
  sent?: readonly SentRecord[];
  ledgers?: readonly LedgerClaim[];
  /**
   * Why a record's proof does not hold, checked beforehand (signatures need the config's keys); null when it
   * holds or there is nothing to check.
   */
  proofProblem?: (record: AuditRecord, where: string) => string | null;
}

export interface TrailReport {
  ok: boolean;
  /** The first thing wrong, or null. */
  problem: AuditProblem | null;
  from: number;
  /** Records checked (from `from` on, up to the first problem). */
  records: number;
  head: (ChainHead & { where: string }) | null;
  /** Anchors compared with a record. */
  anchors: number;
  /** Records found as a workflow sent them. */
  sent: number;
  /** Ledger entries found with their record. */
  ledgerEntries: number;
  /** Proofs checked. */
  proofs: number;
}

/** `--from` names a record past the chain's end (and nothing anchors one there). */
export class BeyondEndError extends Error {
  constructor(
    readonly from: number,
    readonly last: number,
  ) {
    super(
      last === 0
        ? `--from ${from} is beyond the end: the store holds no records`
        : `--from ${from} is beyond the end of the chain (its last record is seq ${last})`,
    );
    this.name = 'BeyondEndError';
  }
}

interface Item {
  where: string;
  /** The record when it has the shape of one (seq, prevHash and hash); null when it does not parse or lacks them. */
  rec: AuditRecord | null;
  /** Why it is not a record. */
  unreadable?: string;
  /** Whether its hash covers its content. */
  selfOk: boolean;
}

const short = (hash: string) => `${hash.slice(0, 12)}…`;
const HEX64 = /^[0-9a-f]{64}$/;

function itemOf(entry: StoredEntry): Item {
  const v = entry.record;
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    return { where: entry.where, rec: null, unreadable: 'it no longer parses as a record', selfOk: false };
  const r = v as Partial<AuditRecord>;
  if (typeof r.seq !== 'number' || !Number.isInteger(r.seq) || r.seq < 1)
    return { where: entry.where, rec: null, unreadable: 'it has no sequence number', selfOk: false };
  if (typeof r.hash !== 'string' || typeof r.prevHash !== 'string')
    return { where: entry.where, rec: null, unreadable: 'it has no hash or no link', selfOk: false };
  const { hash, ...rest } = r as AuditRecord;
  return { where: entry.where, rec: r as AuditRecord, selfOk: HEX64.test(hash) && hashRecord(rest) === hash };
}

/** The record types that settle each kind of ledger entry. */
const SETTLING: Record<LedgerClaim['action'], readonly string[]> = {
  deploy: ['deploy-succeeded', 'deploy-failed', 'deploy-preempted', 'verification-failed'],
  rollback: ['rollback-succeeded', 'rollback-failed'],
  adopt: ['adopt', 'drift-adopted'],
};

export function verifyTrail(input: TrailInput): TrailReport {
  const items = input.entries.map(itemOf);
  const anchors = [...(input.anchors ?? [])].filter((a) => a.seq >= 1).sort((a, b) => a.seq - b.seq);
  const explicitFrom = input.from !== undefined;
  const from = input.from ?? 1;
  const lastSeq = items.reduce((m, it) => (it.rec ? Math.max(m, it.rec.seq) : m), 0);
  if (explicitFrom && from > lastSeq && !anchors.some((a) => a.seq >= from))
    throw new BeyondEndError(from, lastSeq);

  // Where the walk starts: the first record at or past `from`, with any unreadable lines just before it.
  let start = items.findIndex((it) => it.rec !== null && it.rec.seq >= from);
  if (start < 0) start = items.length;
  while (start > 0 && items[start - 1]!.rec === null) start--;
  const before = start > 0 ? items[start - 1]!.rec : null;
  let prev: { seq: number; hash: string | null; prevHash: string | null; where: string | null } =
    from === 1
      ? { seq: 0, hash: GENESIS, prevHash: null, where: null }
      : before && before.seq === from - 1
        ? { seq: before.seq, hash: before.hash, prevHash: before.prevHash, where: null }
        : { seq: from - 1, hash: null, prevHash: null, where: null };

  // Every record whose hash holds, by seq and hash: does a record out of place have its predecessor somewhere?
  const known = new Set<string>();
  for (const it of items) if (it.rec && it.selfOk) known.add(`${it.rec.seq}:${it.rec.hash}`);
  const hasPredecessor = (r: AuditRecord) =>
    r.seq === 1 ? r.prevHash === GENESIS : known.has(`${r.seq - 1}:${r.prevHash}`);
  const whereIsSeq = (seq: number) => items.find((it) => it.rec?.seq === seq)?.where;

  const accepted: { rec: AuditRecord; where: string }[] = [];
  let structural: AuditProblem | null = null;
  const fail = (kind: AuditProblemKind, seq: number | null, where: string, detail: string) =>
    (structural = { kind, seq, where, detail });

  for (let i = start; i < items.length && !structural; i++) {
    const it = items[i]!;
    const expected = prev.seq + 1;
    if (!it.rec) {
      const torn =
        i === items.length - 1 ? ' (a torn last line: the next append cuts it and records that)' : '';
      fail('unreadable', expected, it.where, `${it.unreadable}${torn}`);
      break;
    }
    const r = it.rec;
    if (!it.selfOk) {
      fail('edited', r.seq, it.where, 'its content no longer matches its hash');
      break;
    }
    const links = prev.hash === null || r.prevHash === prev.hash;
    if (r.seq === expected && links) {
      accepted.push({ rec: r, where: it.where });
      prev = { seq: r.seq, hash: r.hash, prevHash: r.prevHash, where: it.where };
      continue;
    }
    const next = items[i + 1];
    // Skipping this one restores the chain: the records on either side link to each other.
    const nextRestores =
      !!next?.rec &&
      next.selfOk &&
      next.rec.seq === expected &&
      (prev.hash === null || next.rec.prevHash === prev.hash);
    if (r.seq === expected) {
      if (nextRestores)
        fail(
          'inserted',
          r.seq,
          it.where,
          `it does not link to seq ${prev.seq}, and the record after it (${next!.where}) does`,
        );
      else if (prev.where !== null)
        fail(
          'edited',
          prev.seq,
          prev.where,
          `its hash changed: seq ${r.seq} (${it.where}) links to ${short(r.prevHash)}, not to ${short(prev.hash!)}`,
        );
      else
        fail(
          'edited',
          r.seq,
          it.where,
          prev.seq === 0
            ? `the first record does not link to the chain's start (${short(GENESIS)})`
            : 'it no longer links to the record before it',
        );
      break;
    }
    if (prev.where !== null && r.seq === prev.seq && r.prevHash === prev.prevHash) {
      // Two records claim one place; the chain goes on from one of them.
      const nextLinksHere = next?.rec?.seq === r.seq + 1 && next.rec.prevHash === r.hash;
      // At the end of the chain nothing follows either; an anchor may still say which one was recorded.
      const anchored = (hash: string) => anchors.some((a) => a.seq === r.seq && a.hash === hash);
      if (r.hash === prev.hash) fail('inserted', r.seq, it.where, `it repeats ${prev.where}`);
      else if (nextLinksHere || (anchored(r.hash) && !anchored(prev.hash!)))
        fail(
          'inserted',
          prev.seq,
          prev.where,
          `it and ${it.where} both claim seq ${r.seq}; the chain goes on from ${it.where}`,
        );
      else fail('inserted', r.seq, it.where, `it claims seq ${r.seq}, which ${prev.where} holds`);
      break;
    }
    const fits = hasPredecessor(r);
    if (nextRestores && !fits) {
      fail(
        'inserted',
        r.seq,
        it.where,
        `the records before and after it (seq ${prev.seq} and ${expected}) link to each other`,
      );
      break;
    }
    if (fits || r.seq < expected) {
      const at = whereIsSeq(expected);
      fail(
        'reordered',
        r.seq,
        it.where,
        r.seq < expected
          ? `it holds seq ${r.seq} after seq ${prev.seq}`
          : `it holds seq ${r.seq} where seq ${expected} belongs${at ? ` (seq ${expected} is at ${at})` : ''}`,
      );
      break;
    }
    fail(
      'missing',
      expected,
      it.where,
      r.seq - 1 > expected
        ? `seqs ${expected}–${r.seq - 1} are missing before it (it holds seq ${r.seq})`
        : `seq ${expected} is missing before it (it holds seq ${r.seq})`,
    );
  }

  const bySeq = new Map(accepted.map((a) => [a.rec.seq, a]));
  const last = accepted[accepted.length - 1];
  const head = last ? { seq: last.rec.seq, hash: last.rec.hash, where: last.where } : null;
  const candidates: AuditProblem[] = [];
  if (structural) candidates.push(structural);

  // Anchors: the record at each anchored seq must have the anchored hash; the chain must reach every anchor.
  let anchorsChecked = 0;
  let lastGood: AuditAnchor | null = null;
  for (const a of anchors) {
    if (a.seq < from) continue;
    const at = bySeq.get(a.seq);
    if (at) {
      anchorsChecked++;
      if (at.rec.hash === a.hash) {
        lastGood = a;
        continue;
      }
      candidates.push({
        kind: 'anchor-mismatch',
        seq: a.seq,
        where: at.where,
        detail: `its hash is ${short(at.rec.hash)}, but ${a.source} recorded ${short(a.hash)} for seq ${a.seq}: the chain was rewritten at or before seq ${a.seq}${lastGood ? ` (after seq ${lastGood.seq}, which matches ${lastGood.source})` : ''}`,
      });
      break;
    }
    if (!structural) {
      anchorsChecked++;
      candidates.push({
        kind: 'truncated',
        seq: a.seq,
        where: head ? head.where : 'the store',
        detail: head
          ? `the chain ends at seq ${head.seq}, but ${a.source} anchors seq ${a.seq} (${short(a.hash)})`
          : `the store is empty${from > 1 ? ` from seq ${from} on` : ''}, but ${a.source} anchors seq ${a.seq} (${short(a.hash)})`,
      });
      break;
    }
  }

  // Records as the workflows sent them: the first that differs, then the first that is not there at all.
  let sentMatched = 0;
  if (input.sent?.length) {
    const byId = new Map<string, { rec: AuditRecord; where: string }>();
    for (const a of accepted) if (typeof a.rec.id === 'string') byId.set(a.rec.id, a);
    const anywhere = new Set<string>();
    for (const it of items) if (it.rec && typeof it.rec.id === 'string') anywhere.add(it.rec.id);
    let differs: AuditProblem | null = null;
    let absent: AuditProblem | null = null;
    for (const s of input.sent) {
      const stored = byId.get(s.record.id);
      if (!stored) {
        if (!anywhere.has(s.record.id) && !absent)
          absent = {
            kind: 'missing',
            seq: null,
            where: s.source,
            detail: `the record ${s.record.id} (${describe(s.record)}) that ${s.source} wrote is not in the store`,
          };
        continue;
      }
      const field = differingField(stored.rec, s.record);
      if (field === null) {
        sentMatched++;
        continue;
      }
      if (!differs || stored.rec.seq < differs.seq!)
        differs = {
          kind: 'edited',
          seq: stored.rec.seq,
          where: stored.where,
          detail: `its ${field.name} is ${field.stored}, but ${s.source} wrote ${field.sent}`,
        };
    }
    if (differs) candidates.push(differs);
    if (absent) candidates.push(absent);
  }

  // Proofs kept in records, checked again.
  let proofs = 0;
  if (input.proofProblem)
    for (const a of accepted) {
      if (!a.rec.proof) continue;
      proofs++;
      const why = input.proofProblem(a.rec, a.where);
      if (why) {
        candidates.push({
          kind: 'proof-invalid',
          seq: a.rec.seq,
          where: a.where,
          detail: `its ${a.rec.proof.via} proof does not hold: ${why}`,
        });
        break;
      }
    }

  // Each settled ledger entry has its record (any record in the store counts; the chain is judged above).
  let ledgerEntries = 0;
  if (input.ledgers?.length) {
    const have = new Map<string, number>();
    const key = (app: string, env: string | null, kind: string, version: string | null | undefined) =>
      JSON.stringify([app, env, kind, version ?? null]);
    const count = (k: string) => have.set(k, (have.get(k) ?? 0) + 1);
    for (const it of items) {
      const r = it.rec;
      if (!r || !it.selfOk) continue;
      for (const [action, types] of Object.entries(SETTLING))
        if (types.includes(r.type)) count(key(r.app, r.env, action, r.version));
      if (r.type === 'rollback-requested') count(key(r.app, r.env, 'rollback-requested', r.version));
    }
    const claims = input.ledgers.filter((c) => c.outcome !== 'running');
    // A rollback that failed before it started (its policy did not load) has only its request on record.
    const settled = new Map<string, number>();
    const all = new Map<string, number>();
    for (const c of claims) {
      const k = key(c.app, c.env, c.action, c.version);
      all.set(k, (all.get(k) ?? 0) + 1);
      if (!(c.action === 'rollback' && c.outcome === 'failed')) settled.set(k, (settled.get(k) ?? 0) + 1);
    }
    let gap: AuditProblem | null = null;
    for (const c of claims) {
      const k = key(c.app, c.env, c.action, c.version);
      const found = have.get(k) ?? 0;
      const requested =
        c.action === 'rollback' ? (have.get(key(c.app, c.env, 'rollback-requested', c.version)) ?? 0) : 0;
      if (found >= (settled.get(k) ?? 0) && found + requested >= all.get(k)!) ledgerEntries++;
      else
        gap ??= {
          kind: 'missing',
          seq: null,
          where: c.source,
          detail: `its ${c.action} of ${c.version} (op ${c.opId}, ${c.outcome}${c.endedAt ? ` at ${c.endedAt}` : ''}) has no ${SETTLING[c.action].join('/')} record in the store`,
        };
    }
    if (gap) candidates.push(gap);
  }

  // The first problem: the lowest sequence number; at one record, the most precise finding (the chain's own,
  // then a field the sending workflow wrote otherwise, then an anchor, then a proof); a record missing with no
  // place in the chain comes last.
  const rank = (c: AuditProblem) =>
    c === structural
      ? 0
      : c.kind === 'edited'
        ? 1
        : c.kind === 'anchor-mismatch' || c.kind === 'truncated'
          ? 2
          : 3;
  const problem =
    candidates.length === 0
      ? null
      : candidates.reduce((best, c) => {
          const d = (c.seq ?? Infinity) - (best.seq ?? Infinity);
          return d < 0 || (d === 0 && rank(c) < rank(best)) ? c : best;
        });
  return {
    ok: problem === null,
    problem,
    from,
    records: accepted.length,
    head,
    anchors: anchorsChecked,
    sent: sentMatched,
    ledgerEntries,
    proofs,
  };
}

function describe(r: AuditInput): string {
  return [r.type, r.app, r.env, r.version, r.at].filter((v) => v).join(' ');
}

const RECORD_ONLY = new Set(['seq', 'prevHash', 'hash']);

/** The first field whose value differs between what was stored and what was sent, or null. */
function differingField(
  stored: AuditRecord,
  sent: AuditInput,
): { name: string; stored: string; sent: string } | null {
  const a = stored as unknown as Record<string, unknown>;
  const b = sent as unknown as Record<string, unknown>;
  const names = new Set([...Object.keys(b), ...Object.keys(a).filter((k) => !RECORD_ONLY.has(k))]);
  for (const name of names) {
    const x = canonical(a[name]);
    const y = canonical(b[name]);
    if (x !== y)
      return {
        name,
        stored: x === undefined ? 'absent' : clip(x),
        sent: y === undefined ? 'nothing' : clip(y),
      };
  }
  return null;
}

/** JSON with sorted keys (undefined stays undefined: an absent field and an undefined one are the same). */
function canonical(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(
          Object.entries(val as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1)),
        )
      : val,
  );
}

const clip = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}…` : s);

/** The one line `audit verify` prints. */
export function summarize(report: TrailReport, context: { store?: string; notes?: string[] } = {}): string {
  const store = context.store ? ` (${context.store})` : '';
  if (report.problem) {
    const p = report.problem;
    return `audit verify${store}: FAILED: ${p.kind}${p.seq !== null ? ` at seq ${p.seq}` : ''} (${p.where}): ${p.detail}`;
  }
  const parts: string[] = [];
  const range = report.head ? ` (seq ${report.from}–${report.head.seq})` : '';
  parts.push(`${report.records} record${report.records === 1 ? '' : 's'}${range}`);
  parts.push(report.head ? `head seq ${report.head.seq} ${short(report.head.hash)}` : 'no records');
  parts.push(`${report.anchors} anchor${report.anchors === 1 ? '' : 's'} checked`);
  if (report.sent) parts.push(`${report.sent} matched Temporal history`);
  if (report.ledgerEntries) parts.push(`${report.ledgerEntries} ledger entries found`);
  if (report.proofs) parts.push(`${report.proofs} proof${report.proofs === 1 ? '' : 's'} re-verified`);
  const notes = context.notes?.length ? `; ${context.notes.join('; ')}` : '';
  return `audit verify${store}: ok, ${parts.join(', ')}${notes}`;
}
