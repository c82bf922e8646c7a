import type { ProofRecord } from '../protocol/proof-record.js';
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
}

export interface AuditRecord extends AuditInput {
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditStore {
  append(records: AuditInput[]): Promise<number>;
  read(filter?: { app?: string; env?: string; limit?: number }): Promise<AuditRecord[]>;
  verify(): Promise<{ ok: boolean; count: number; brokenAt?: number }>;
}
