/**
 * Validation of untrusted identifiers and text, shared by every channel (CLI, GitHub Action, Slack) so they
 * refuse bad input with the same words. Each check names the field (a flag or an input) it read. Pure: no
 * config, no Temporal.
 */
import {
  isValidLogin,
  isValidVersion,
  LOGIN_PATTERN,
  NAME_PATTERN,
  VERSION_PATTERN,
} from '../policy/patterns.js';
import { BadInputError } from './errors.js';
import { firstControlCharacter } from './text.js';

/** Longest reason or comment accepted. */
export const MAX_TEXT_LENGTH = 4000;

export function requireAppName(v: string, field = 'app'): string {
  if (!NAME_PATTERN.test(v)) throw new BadInputError(`${field}: "${truncate(v)}" is not a valid app name`);
  return v;
}

/** `none`, or an environment's name: what a caller may wait for. */
export function requireWaitTarget(v: string, field: string, example = ''): string {
  if (v !== 'none' && !NAME_PATTERN.test(v))
    throw new BadInputError(`${field}: expected none or an environment name${example}`);
  return v;
}

export function requireVersion(v: string, field = 'version'): string {
  if (!isValidVersion(v))
    throw new BadInputError(
      `${field}: "${truncate(v)}" is not a valid version (must match ${VERSION_PATTERN})`,
    );
  return v;
}

export function requireLogin(v: string | undefined, field = '--as'): string {
  if (v === undefined) throw new BadInputError(`${field} is required`);
  if (!isValidLogin(v))
    throw new BadInputError(`${field}: "${truncate(v)}" is not a valid login (must match ${LOGIN_PATTERN})`);
  return v;
}

/**
 * Free text (reasons, comments): required, bounded, stored verbatim. Control characters (newlines and terminal
 * escapes among them) are refused: the text is shown on terminals, in Slack and in job summaries.
 */
export function requireText(v: string | undefined, field: string): string {
  if (v === undefined || v.trim() === '') throw new BadInputError(`${field} is required`);
  if (v.length > MAX_TEXT_LENGTH)
    throw new BadInputError(`${field} must be at most ${MAX_TEXT_LENGTH} characters`);
  const control = firstControlCharacter(v);
  if (control !== null)
    throw new BadInputError(
      `${field}: contains ${control}; control characters (newlines, tabs, terminal escapes) are refused`,
    );
  return v;
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO-8601 time, returned normalised (UTC, milliseconds). */
export function requireIsoTime(value: string | undefined, field: string): string {
  if (value === undefined) throw new BadInputError(`${field} is required`);
  if (!ISO.test(value) || Number.isNaN(Date.parse(value)))
    throw new BadInputError(`${field}: "${truncate(value)}" is not an ISO-8601 time`);
  return new Date(Date.parse(value)).toISOString();
}

/** A moment to evaluate at (anything Date parses), or now. */
export function optionalMoment(value: string | undefined, field: string): Date {
  const at = value === undefined ? new Date() : new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new BadInputError(`${field}: "${truncate(value ?? '')}" is not an ISO-8601 time`);
  return at;
}

/** A freeze's end: an ISO-8601 time in the future. */
export function requireFutureTime(value: string | undefined, field: string, now = Date.now()): string {
  const at = requireIsoTime(value, field);
  if (Date.parse(at) <= now) throw new BadInputError(`${field}: ${value} is in the past`);
  return at;
}

function truncate(v: string): string {
  return v.length > 60 ? `${v.slice(0, 57)}...` : v;
}
