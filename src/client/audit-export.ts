/**
 * `audit export`: the store's records for auditors, as JSON lines (each record exactly as chained, so its
 * hash can be recomputed) or CSV (a header, RFC 4180 quoting, and no cell a spreadsheet would run as a
 * formula).
 */
import type { AuditRecord, StoredEntry } from '../audit/types.js';

export type ExportFormat = 'jsonl' | 'csv';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'csv'];

/** The records among the entries (at or after `since`, when given), and where the unreadable ones are. */
export function exportable(
  entries: readonly StoredEntry[],
  since?: number,
): { records: AuditRecord[]; unreadable: string[] } {
  const records: AuditRecord[] = [];
  const unreadable: string[] = [];
  for (const e of entries) {
    const r = e.record as Partial<AuditRecord> | null;
    if (!r || typeof r !== 'object' || typeof r.seq !== 'number' || typeof r.at !== 'string') {
      unreadable.push(e.where);
      continue;
    }
    if (since !== undefined && !(Date.parse(r.at) >= since)) continue;
    records.push(r as AuditRecord);
  }
  return { records, unreadable };
}

export const CSV_COLUMNS = [
  'seq',
  'at',
  'type',
  'app',
  'env',
  'version',
  'actor',
  'via',
  'reason',
  'outcome',
  'approvers',
  'fromVersion',
  'releaseId',
  'proofVia',
  'proofDigest',
  'findings',
  'id',
  'prevHash',
  'hash',
] as const;

function cellsOf(r: AuditRecord): Record<(typeof CSV_COLUMNS)[number], unknown> {
  return {
    seq: r.seq,
    at: r.at,
    type: r.type,
    app: r.app,
    env: r.env,
    version: r.version,
    actor: r.actor,
    via: r.via,
    reason: r.reason,
    outcome: r.outcome,
    approvers: Array.isArray(r.approvers) ? r.approvers.join(' ') : r.approvers,
    fromVersion: r.fromVersion,
    releaseId: r.releaseId,
    proofVia: r.proof?.via,
    proofDigest: r.proof?.digest,
    findings: r.findings === undefined ? undefined : JSON.stringify(r.findings),
    id: r.id,
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

/* eslint-disable no-control-regex -- finding control characters is what these patterns are for */
/** What a terminal must not receive raw (newlines excepted: a quoted CSV cell may hold them). */
const UNSAFE =
  /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

/**
 * One CSV cell. A text that a spreadsheet would read as a formula (starting with = + - @, or a tab or
 * carriage return) is prefixed with a single quote; a cell holding a comma, a quote or a line break is
 * quoted, its quotes doubled.
 */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = typeof value === 'string' ? value : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  text = text.replace(UNSAFE, (c) => {
    const code = c.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(records: readonly AuditRecord[]): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const r of records) {
    const cells = cellsOf(r);
    rows.push(CSV_COLUMNS.map((c) => csvCell(cells[c])).join(','));
  }
  return rows.join('\r\n') + '\r\n';
}

/**
 * One record a line, its fields in their stored order (so `hash` is the sha-256 of the line without it).
 * Characters a terminal would act on are written as JSON escapes: the same value, safe to print.
 */
export function toJsonl(records: readonly AuditRecord[]): string {
  return records
    .map((r) =>
      JSON.stringify(r).replace(
        /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
        (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`,
      ),
    )
    .map((l) => `${l}\n`)
    .join('');
}
