/** Update validators: syntax only. Policy refusals are decided (and recorded) by the handlers. */
import { LOGIN_PATTERN, VERSION_PATTERN } from '../policy/patterns.js';
import { CHANNELS, isChannel } from '../protocol/channels.js';
import type { ApproveInput, RejectInput, ReleaseRequest } from './types.js';

const MAX_TEXT = 4000;

function fail(field: string, message: string): never {
  throw new Error(`${field}: ${message}`);
}

export function validateLogin(field: string, value: unknown): void {
  if (typeof value !== 'string' || !LOGIN_PATTERN.test(value))
    fail(field, `must be a login matching ${LOGIN_PATTERN}`);
}

function validateChannel(value: unknown): void {
  if (!isChannel(value)) fail('via', `must be one of ${CHANNELS.join(', ')}`);
}

function validateText(field: string, value: unknown, required: boolean): void {
  if (value === undefined && !required) return;
  if (typeof value !== 'string' || (required && value.trim() === '')) fail(field, 'is required');
  if ((value as string).length > MAX_TEXT) fail(field, `must be at most ${MAX_TEXT} characters`);
}

export function validateReleaseRequest(req: ReleaseRequest): void {
  if (typeof req.version !== 'string' || !VERSION_PATTERN.test(req.version))
    fail('version', `must match ${VERSION_PATTERN}`);
  validateLogin('actor', req.actor);
  validateText('commit', req.commit, true);
  validateText('branch', req.branch, true);
}

export function validateApproveInput(input: ApproveInput): void {
  validateLogin('as', input.by);
  validateChannel(input.via);
  validateText('comment', input.comment, false);
}

export function validateReasonInput(input: RejectInput): void {
  validateLogin('as', input.by);
  validateChannel(input.via);
  validateText('reason', input.reason, true);
}

export function validateRollbackInput(input: { to?: string; by: string; via: string; reason: string }): void {
  if (input.to !== undefined && (typeof input.to !== 'string' || !VERSION_PATTERN.test(input.to))) {
    fail('to', `must match ${VERSION_PATTERN}`);
  }
  validateLogin('as', input.by);
  validateChannel(input.via);
  validateText('reason', input.reason, true);
}

export function validateFreezeInput(input: { until: string; by: string; via: string; reason: string }): void {
  if (typeof input.until !== 'string' || Number.isNaN(Date.parse(input.until)))
    fail('until', 'must be an ISO-8601 time');
  validateLogin('as', input.by);
  validateChannel(input.via);
  validateText('reason', input.reason, true);
}

export function validateUnfreezeInput(input: { by: string; via: string }): void {
  validateLogin('as', input.by);
  validateChannel(input.via);
}
