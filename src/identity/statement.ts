/**
 * The statement a CLI user signs, in one canonical text form, plus the digests and the freshness rule that go
 * with it. No imports with I/O: workflow code builds expectations (detailsDigest) with it.
 */
import { LOGIN_PATTERN, NAME_PATTERN, VERSION_PATTERN } from '../policy/patterns.js';
import { sha256Hex } from './sha256.js';
import type { ProofAction, Statement } from './types.js';

export const PROOF_ACTIONS = [
  'release',
  'approve',
  'reject',
  'cancel',
  'override',
  'rollback',
  'freeze',
  'unfreeze',
  'adopt',
  'teardown',
] as const satisfies readonly ProofAction[];

export const STATEMENT_HEADER = 'shipgate-statement-v1';
/** The fields in canonical order; canonicalStatement writes exactly these, one line each. */
export const STATEMENT_FIELDS = [
  'v',
  'action',
  'login',
  'app',
  'env',
  'version',
  'run',
  'at',
  'nonce',
  'details',
] as const satisfies readonly (keyof Statement)[];

/** A proof is bound to its time: older than this, it no longer counts (a late delivery is refused). */
export const MAX_PROOF_AGE_MS = 5 * 60_000;
/** Clocks differ a little; a statement dated further ahead than this is refused. */
export const MAX_PROOF_FUTURE_MS = 30_000;

/** Temporal run ids are UUIDs; this is looser, but keeps them to one harmless token. */
export const RUN_ID_PATTERN = /^[0-9A-Za-z-]{1,64}$/;
/** 22 base64url characters carry 132 bits. */
export const NONCE_PATTERN = /^[0-9A-Za-z_-]{22,128}$/;
const DIGEST_PATTERN = /^[0-9a-f]{64}$/;
/** The form Date.prototype.toISOString writes: one spelling per instant, so a statement has one text. */
const ISO_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/**
 * The exact text the SSH signature covers: a header line, then `key=value` per field in STATEMENT_FIELDS order,
 * each value JSON-encoded (so a newline inside a value cannot forge a line), each line ending in \n.
 */
export function canonicalStatement(s: Statement): string {
  let text = `${STATEMENT_HEADER}\n`;
  for (const field of STATEMENT_FIELDS) text += `${field}=${JSON.stringify(s[field] ?? null)}\n`;
  return text;
}

/** sha256 hex of the details as JSON with sorted keys and undefined values dropped. */
export function detailsDigest(details: Record<string, string | undefined>): string {
  const sorted: Record<string, string> = {};
  for (const key of Object.keys(details).sort()) {
    const value = details[key];
    if (value !== undefined) sorted[key] = value;
  }
  return sha256Hex(JSON.stringify(sorted));
}

/** The digest of a statement: the replay key of an SSH proof (the nonce makes it unique). */
export function statementDigest(s: Statement): string {
  return sha256Hex(canonicalStatement(s));
}

/** 128 random bits, base64url (22 characters). For signers, never for workflow code. */
export function newNonce(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return base64url(bytes);
}

/** A statement to sign, stamped with the signer's time and a fresh nonce. */
export function newStatement(
  fields: Omit<Statement, 'v' | 'at' | 'nonce'>,
  now: Date = new Date(),
): Statement {
  return {
    v: 1,
    action: fields.action,
    login: fields.login,
    app: fields.app,
    env: fields.env,
    version: fields.version,
    run: fields.run,
    at: now.toISOString(),
    nonce: newNonce(),
    details: fields.details,
  };
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A statement as received (untrusted JSON): every field present, well-formed, and nothing else. */
export function parseStatement(value: unknown): Checked<Statement> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { ok: false, reason: 'the statement is not an object' };
  const o = value as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !(STATEMENT_FIELDS as readonly string[]).includes(k));
  if (extra.length > 0)
    return { ok: false, reason: `the statement has unknown fields: ${extra.slice(0, 5).join(', ')}` };
  const bad = (field: string, what: string): Checked<Statement> => ({
    ok: false,
    reason: `statement.${field} is ${what}`,
  });
  const nullable = (v: unknown, pattern: RegExp) => v === null || (typeof v === 'string' && pattern.test(v));
  if (o.v !== 1) return bad('v', 'not 1 (an unknown statement version)');
  if (typeof o.action !== 'string' || !(PROOF_ACTIONS as readonly string[]).includes(o.action))
    return bad('action', `not one of ${PROOF_ACTIONS.join(', ')}`);
  if (typeof o.login !== 'string' || !LOGIN_PATTERN.test(o.login)) return bad('login', 'not a login');
  if (typeof o.app !== 'string' || !NAME_PATTERN.test(o.app)) return bad('app', 'not an app name');
  if (!nullable(o.env, NAME_PATTERN)) return bad('env', 'neither null nor an environment name');
  if (!nullable(o.version, VERSION_PATTERN)) return bad('version', 'neither null nor a version');
  if (!nullable(o.run, RUN_ID_PATTERN)) return bad('run', 'neither null nor a run id');
  if (typeof o.at !== 'string' || !ISO_PATTERN.test(o.at) || Number.isNaN(Date.parse(o.at)))
    return bad('at', 'not a UTC time such as 2030-01-02T03:04:05.000Z');
  if (typeof o.nonce !== 'string' || !NONCE_PATTERN.test(o.nonce))
    return bad('nonce', 'not at least 22 base64url characters (128 bits)');
  if (typeof o.details !== 'string' || !DIGEST_PATTERN.test(o.details))
    return bad('details', 'not a sha256 hex digest');
  return { ok: true, value: o as unknown as Statement };
}

/**
 * Whether a proof made at `at` still counts at `now` (both ISO): at most MAX_PROOF_AGE_MS old and at most
 * MAX_PROOF_FUTURE_MS ahead. `what` names the proof in the reason ("statement", "Slack request", ...).
 */
export function checkFreshness(
  at: string,
  now: string,
  opts: { what?: string; maxAgeMs?: number; maxFutureMs?: number } = {},
): { ok: true } | { ok: false; reason: string } {
  const what = opts.what ?? 'statement';
  const maxAge = opts.maxAgeMs ?? MAX_PROOF_AGE_MS;
  const maxFuture = opts.maxFutureMs ?? MAX_PROOF_FUTURE_MS;
  const atMs = Date.parse(at);
  const nowMs = Date.parse(now);
  if (Number.isNaN(atMs)) return { ok: false, reason: `${what} has no valid time` };
  if (Number.isNaN(nowMs)) return { ok: false, reason: `cannot check ${what}'s age: no valid current time` };
  const age = nowMs - atMs;
  if (age > maxAge)
    return { ok: false, reason: `${what} is ${formatSpan(age)} old (limit ${formatSpan(maxAge)})` };
  if (-age > maxFuture)
    return {
      ok: false,
      reason: `${what} is dated ${formatSpan(-age)} in the future (limit ${formatSpan(maxFuture)}); check the signer's clock`,
    };
  return { ok: true };
}

/** 45 s, 6 min, 6 min 10 s, 3 h 5 min: for refusal reasons. */
export function formatSpan(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d`;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function base64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = i + 2 < bytes.length ? 4 : i + 1 < bytes.length ? 3 : 2;
    for (let c = 0; c < chars; c++) out += B64URL[(n >> (18 - 6 * c)) & 63];
  }
  return out;
}
