/**
 * Update validators: syntax only, so a malformed message never reaches history. Who sent it is decided by the
 * handlers, which verify the proof; policy refusals are decided (and recorded) there too.
 */
import { controlCharacter, LOGIN_PATTERN, NAME_PATTERN, VERSION_PATTERN } from '../policy/patterns.js';
import type { DeployRequest, ReleaseRequest } from './types.js';

const MAX_TEXT = 4000;
/** Bounds on proof parts: far above any real one, well below what would bloat history. */
const MAX_SIGNATURE = 16_384;
const MAX_TOKEN = 16_384;
const MAX_SLACK_BODY = 65_536;
const PROOF_KINDS = ['ssh', 'slack', 'github-oidc', 'web-oidc', 'asserted'] as const;

function fail(field: string, message: string): never {
  throw new Error(`${field}: ${message}`);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

export function validateLogin(field: string, value: unknown): void {
  if (typeof value !== 'string' || !LOGIN_PATTERN.test(value))
    fail(field, `must be a login matching ${LOGIN_PATTERN}`);
}

/** Free text people read: bounded, and no control characters (a newline or escape could forge output). */
function validateText(field: string, value: unknown, required: boolean): void {
  if (value === undefined && !required) return;
  if (typeof value !== 'string' || (required && value.trim() === '')) fail(field, 'is required');
  if (value.length > MAX_TEXT) fail(field, `must be at most ${MAX_TEXT} characters`);
  const control = controlCharacter(value);
  if (control) fail(field, `must not contain control characters (${control})`);
}

function validateString(field: string, value: unknown, max: number): void {
  if (typeof value !== 'string' || value === '') fail(field, 'is required');
  if (value.length > max) fail(field, `must be at most ${max} characters`);
}

/** A proof's shape; whether it proves anything is the handler's verification. */
export function validateProof(value: unknown): void {
  if (!isObject(value))
    fail(
      'proof',
      'a proof of identity is required (sign with an SSH key, or use Slack or the GitHub Action)',
    );
  switch (value.kind) {
    case 'ssh':
      if (!isObject(value.statement)) fail('proof.statement', 'must be the signed statement');
      validateString('proof.signature', value.signature, MAX_SIGNATURE);
      if (JSON.stringify(value.statement).length > MAX_TEXT) fail('proof.statement', 'is too large');
      return;
    case 'slack':
      validateString('proof.body', value.body, MAX_SLACK_BODY);
      validateString('proof.timestamp', value.timestamp, 20);
      validateString('proof.signature', value.signature, 128);
      return;
    case 'github-oidc':
      validateString('proof.token', value.token, MAX_TOKEN);
      return;
    case 'web-oidc':
      validateString('proof.token', value.token, MAX_TOKEN);
      if (!isObject(value.key) || JSON.stringify(value.key).length > 512)
        fail('proof.key', "must be the dashboard session's public key (JWK)");
      if (!isObject(value.statement)) fail('proof.statement', 'must be the signed statement');
      if (JSON.stringify(value.statement).length > MAX_TEXT) fail('proof.statement', 'is too large');
      validateString('proof.signature', value.signature, 256);
      return;
    case 'asserted':
      validateLogin('proof.login', value.login);
      return;
    default:
      fail('proof.kind', `must be one of ${PROOF_KINDS.join(', ')}`);
  }
}

function validateVersion(field: string, value: unknown): void {
  if (typeof value !== 'string' || !VERSION_PATTERN.test(value)) fail(field, `must match ${VERSION_PATTERN}`);
}

/** The problem with a release start, or null: the workflow asks this of its own input too. */
export function releaseRequestProblem(req: unknown, opts: { proof: boolean }): string | null {
  try {
    validateReleaseRequestShape(req, opts);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function validateReleaseRequestShape(req: unknown, opts: { proof: boolean }): void {
  if (!isObject(req)) fail('request', 'must be a release request');
  if (typeof req.app !== 'string' || !NAME_PATTERN.test(req.app)) fail('app', `must match ${NAME_PATTERN}`);
  validateVersion('version', req.version);
  // A CI start may leave commit and branch to its token.
  const ci = isObject(req.proof) && req.proof.kind === 'github-oidc';
  validateText('commit', req.commit, !ci && opts.proof);
  validateText('branch', req.branch, !ci && opts.proof);
  if (opts.proof) validateProof(req.proof);
}

export function validateReleaseRequest(req: ReleaseRequest): void {
  validateReleaseRequestShape(req, { proof: true });
}

export function validateApproveInput(input: unknown): void {
  if (!isObject(input)) fail('input', 'must be an object');
  validateProof(input.proof);
  validateText('comment', input.comment, false);
}

/** Reject, cancel, override: a reason, except from a Slack button, which carries none. */
export function validateReasonInput(input: unknown): void {
  if (!isObject(input)) fail('input', 'must be an object');
  validateProof(input.proof);
  const slack = isObject(input.proof) && input.proof.kind === 'slack';
  validateText('reason', input.reason, !slack);
}

export function validateRollbackInput(input: unknown): void {
  if (!isObject(input)) fail('input', 'must be an object');
  if (input.to !== undefined) validateVersion('to', input.to);
  if (input.requestId !== undefined) validateString('requestId', input.requestId, 200);
  validateProof(input.proof);
  validateText('reason', input.reason, true);
}

export function validateAwaitOperationInput(input: unknown): void {
  if (!isObject(input)) fail('input', 'must be an object');
  validateString('opId', input.opId, 400);
}

export function validateFreezeInput(input: unknown): void {
  if (!isObject(input)) fail('input', 'must be an object');
  if (typeof input.until !== 'string' || Number.isNaN(Date.parse(input.until)))
    fail('until', 'must be an ISO-8601 time');
  validateProof(input.proof);
  validateText('reason', input.reason, true);
}

export function validateAdoptInput(input: unknown): void {
  if (!isObject(input)) fail('input', 'must be an object');
  if (input.requestId !== undefined) validateString('requestId', input.requestId, 200);
  validateProof(input.proof);
  validateText('reason', input.reason, true);
}

export function validateTeardownInput(input: unknown): void {
  if (!isObject(input)) fail('input', 'must be an object');
  validateProof(input.proof);
  validateText('reason', input.reason, true);
}

export function validateUnfreezeInput(input: unknown): void {
  if (!isObject(input)) fail('input', 'must be an object');
  validateProof(input.proof);
}

/** A deploy request names its release, an op id of that release and a version; nothing else is read. */
export function validateDeployRequest(op: DeployRequest): void {
  const o = op as unknown;
  if (!isObject(o) || o.kind !== 'deploy') fail('op', 'expected a deploy request');
  validateString('op.opId', o.opId, 300);
  validateString('op.releaseId', o.releaseId, 200);
  validateVersion('op.version', o.version);
}
