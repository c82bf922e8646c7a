import type { ProofRecord, ProofRef } from '../protocol/proof-record.js';
import type { AuditType } from '../protocol/audit-types.js';
import type { DriftFinding } from '../targets/types.js';

/** One audited fact: who did what to which release or environment, and why. */
export interface AuditInput {
  /** Deterministic id, so a retried activity never writes the same record twice. */
  id: string;
  at: string;
  type: AuditType;
  app: string;
  env: string | null;
  version?: string | null;
  actor: string;
  via?: string | null;
  reason?: string | null;
  outcome?: string | null;
  approvers?: string[];
  fromVersion?: string | null;
  releaseId?: string | null;
  /** The proof the actor's message carried, as the worker accepted it (re-verifiable offline for ssh). */
  proof?: ProofRecord;
  /** A drift record's findings: each object that differs, what the ledger expected and what runs. */
  findings?: DriftFinding[];
  /** A deploy outcome's commit, as the release's verified record names it. */
  commit?: string | null;
  /** A deploy outcome's approvals, by digest (the proofs themselves are in the approval records). */
  proofs?: ProofRef[];
}

export interface AuditRecord extends AuditInput {
  seq: number;
  prevHash: string;
  hash: string;
}

/** Where a chain ends: the next record gets seq + 1 and prevHash = hash. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/** What an append did: how many records it wrote (retried ones are skipped) and where the chain now ends. */
export interface AppendResult {
  written: number;
  head: ChainHead;
}

/** One entry as the store holds it, judged by `audit verify` as found (it may have been tampered with). */
export interface StoredEntry {
  /** Where it is: a line number (JSONL) or an object key (S3). */
  where: string;
  /** The parsed record, or null when it no longer parses. */
  record: unknown;
}

export interface AuditStore {
  readonly kind: 'jsonl' | 's3';
  append(records: AuditInput[]): Promise<AppendResult>;
  read(filter?: { app?: string; env?: string; limit?: number }): Promise<AuditRecord[]>;
  verify(): Promise<{ ok: boolean; count: number; brokenAt?: number }>;
  /** Every entry, in the store's own order (line order; key order), for `audit verify`. */
  entries(): Promise<StoredEntry[]>;
  /**
   * Heads the store itself recorded where its writer cannot rewrite them (S3: Object Lock'd checkpoint objects);
   * empty for stores without such a place. Temporal history holds the other anchors.
   */
  checkpoints(): Promise<ChainHead[]>;
}
