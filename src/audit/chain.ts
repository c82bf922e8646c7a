/**
 * The audit hash chain, pure: each record carries the sha-256 of the one before it (64 zeros for the first)
 * and of itself, so an edit, deletion, insertion or reordering anywhere breaks the chain. Stores keep the
 * records; this module only numbers, links and checks them.
 */
import { createHash } from 'node:crypto';
import type { AuditInput, AuditRecord } from './types.js';

export const GENESIS = '0'.repeat(64);

/** Where a chain ends: the next record gets seq + 1 and prevHash = hash. */
export interface ChainTip {
  seq: number;
  hash: string;
}

export const EMPTY_CHAIN: ChainTip = { seq: 0, hash: GENESIS };

/** A record's hash covers every field but the hash itself, in the order extend() writes them. */
export function hashRecord(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(JSON.stringify(record)).digest('hex');
}

export const tipOf = (records: readonly AuditRecord[]): ChainTip => {
  const last = records[records.length - 1];
  return last ? { seq: last.seq, hash: last.hash } : EMPTY_CHAIN;
};

/** Chains `inputs` after `tip`, in order; returns the new records and the new tip. */
export function extend(
  tip: ChainTip,
  inputs: readonly AuditInput[],
): { records: AuditRecord[]; tip: ChainTip } {
  const records: AuditRecord[] = [];
  let at = tip;
  for (const input of inputs) {
    const base = { ...input, seq: at.seq + 1, prevHash: at.hash };
    const record: AuditRecord = { ...base, hash: hashRecord(base) };
    records.push(record);
    at = { seq: record.seq, hash: record.hash };
  }
  return { records, tip: at };
}

/**
 * The inputs not yet recorded, first occurrence of each id only: activities may be retried, so the same
 * record arrives more than once and is written once.
 */
export function unseen(inputs: readonly AuditInput[], known: ReadonlySet<string>): AuditInput[] {
  const seen = new Set(known);
  return inputs.filter((r) => !seen.has(r.id) && seen.add(r.id));
}

export interface ChainVerdict {
  ok: boolean;
  count: number;
  /** 1-based position of the first record that does not hold. */
  brokenAt?: number;
}

/**
 * Checks a whole chain from its first record. Entries that are not records (a line that no longer parses,
 * passed as null) break it where they stand.
 */
export function verify(entries: readonly unknown[]): ChainVerdict {
  let prev = GENESIS;
  for (const [i, entry] of entries.entries()) {
    const broken = { ok: false, count: entries.length, brokenAt: i + 1 };
    if (!entry || typeof entry !== 'object') return broken;
    const { hash, ...rest } = entry as AuditRecord;
    if (rest.prevHash !== prev || rest.seq !== i + 1 || hashRecord(rest) !== hash) return broken;
    prev = hash;
  }
  return { ok: true, count: entries.length };
}
