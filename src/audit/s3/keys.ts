/**
 * Where the S3 audit store keeps things. Keys sort the way the chain runs: sequence numbers are zero-padded to a
 * fixed width, so the bucket's own key order is chain order and a listing needs no sorting.
 */
import type { AuditRecord, ChainHead } from '../types.js';

const WIDTH = 12;
export const MAX_SEQ = 10 ** WIDTH - 1;

export const pad = (seq: number): string => String(seq).padStart(WIDTH, '0');

export interface S3Layout {
  chain: string;
  checkpoints: string;
  deployments: string;
}

/** `prefix` as the config normalised it: "" or ending in "/". */
export const layout = (prefix: string): S3Layout => ({
  chain: `${prefix}chain/`,
  checkpoints: `${prefix}checkpoints/`,
  deployments: `${prefix}deployments/`,
});

export const chainKey = (l: S3Layout, seq: number): string => `${l.chain}${pad(seq)}.json`;

/** The record's sequence number a chain key names, or null for a key that is not a record's. */
export function seqOfChainKey(l: S3Layout, key: string): number | null {
  const m = new RegExp(`^\\d{${WIDTH}}\\.json$`).exec(key.slice(l.chain.length));
  return key.startsWith(l.chain) && m ? Number(m[0].slice(0, WIDTH)) : null;
}

/**
 * A checkpoint's key carries its hash as well as its sequence number, so listing the checkpoints reads every
 * anchor without fetching each object (an object's key cannot be changed, only the object deleted).
 */
export const checkpointKey = (l: S3Layout, head: ChainHead): string =>
  `${l.checkpoints}${pad(head.seq)}-${head.hash}.json`;

export function headOfCheckpointKey(l: S3Layout, key: string): ChainHead | null {
  const m = /^(\d{12})-([0-9a-f]{64})\.json$/.exec(key.slice(l.checkpoints.length));
  return key.startsWith(l.checkpoints) && m?.[1] && m[2] ? { seq: Number(m[1]), hash: m[2] } : null;
}

/** A key segment from free text (app, env and version names are already tame; this keeps keys safe anyway). */
const segment = (text: string): string => text.replace(/[^A-Za-z0-9._+-]/g, '_').slice(0, 128) || '_';

/** `20261202T102459.123Z` from an ISO time: sorts like the time, and has no `:` to escape in URLs or shells. */
export const compactTime = (iso: string): string => iso.replace(/[-:]/g, '');

/**
 * One deployment record's key: per app and environment, by time, then version. The chain sequence number
 * makes it unique (two records of one workflow step share a time) and the same on a retry.
 */
export const deploymentKey = (l: S3Layout, r: AuditRecord): string =>
  `${l.deployments}${segment(r.app)}/${segment(r.env ?? '_')}/${compactTime(r.at)}-${segment(
    r.version ?? 'none',
  )}-${pad(r.seq)}.json`;
