/**
 * Validation of untrusted identifiers and text, shared by every channel (CLI, GitHub Action, Slack) so they
 * refuse bad input with the same words. Pure: no config, no Temporal.
 */
import {
  isValidLogin,
  isValidVersion,
  LOGIN_PATTERN,
  NAME_PATTERN,
  VERSION_PATTERN,
} from '../policy/patterns.js';
import { badInput } from './errors.js';

export function requireAppName(v: string, field = 'app'): string {
  if (!NAME_PATTERN.test(v)) throw badInput(`${field}: "${truncate(v)}" is not a valid app name`);
  return v;
}

export function requireVersion(v: string, field = 'version'): string {
  if (!isValidVersion(v))
    throw badInput(`${field}: "${truncate(v)}" is not a valid version (must match ${VERSION_PATTERN})`);
  return v;
}

export function requireLogin(v: string | undefined, field = '--as'): string {
  if (v === undefined) throw badInput(`${field} is required`);
  if (!isValidLogin(v))
    throw badInput(`${field}: "${truncate(v)}" is not a valid login (must match ${LOGIN_PATTERN})`);
  return v;
}

export function requireText(v: string | undefined, field: string): string {
  if (v === undefined || v.trim() === '') throw badInput(`${field} is required`);
  if (v.length > 4000) throw badInput(`${field} must be at most 4000 characters`);
  return v;
}

function truncate(v: string): string {
  return v.length > 60 ? `${v.slice(0, 57)}...` : v;
}
