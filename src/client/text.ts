/**
 * Free text on a terminal. Reasons, comments, versions and logins come from other people (and, read back from
 * history, from anyone who could send a message), so nothing they contain may move the cursor, start a new
 * line, hide a link (OSC 8) or reorder what is shown (bidirectional overrides). Input with control characters is
 * refused; output shows them as visible escapes.
 */

import { anchorText, degradedText, type AuditAnchor, type AuditDegraded } from '../policy/audit-delivery.js';

/* eslint-disable no-control-regex -- finding control characters is what these patterns are for */
/** C0 controls (tab and newline included), DEL and C1 controls: refused in reasons and comments. */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * What a terminal must never receive raw from free text: the controls above, line and paragraph separators,
 * and the bidirectional formatting characters that can make text read differently than it is stored.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** The same, but keeping newlines: for whole messages whose lines are ours. */
const UNSAFE_BUT_NEWLINE =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** In JSON, C0 is already escaped by JSON.stringify; DEL, C1 and the rest are not. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const visible = (c: string): string => {
  const code = c.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
};

/** One piece of free text for a terminal line: every unsafe character shown as `\xNN` or `\u{NNNN}`. */
export function esc(text: string | null | undefined): string {
  return (text ?? '').replace(UNSAFE, visible);
}

/** A whole message of ours (several lines allowed) that may quote free text: everything unsafe but newlines. */
export function escLines(text: string): string {
  return text.replace(UNSAFE_BUT_NEWLINE, visible);
}

/** A JSON document for a terminal: the same value, with the characters JSON leaves raw written as \uNNNN. */
export function jsonForTerminal(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The first control character in `text`, described for a refusal ("a newline", "U+001B"), or null. */
export function firstControlCharacter(text: string): string | null {
  const m = CONTROL_CHARACTERS.exec(text);
  if (!m) return null;
  const code = m[0].charCodeAt(0);
  const named: Record<number, string> = {
    0x09: 'a tab',
    0x0a: 'a newline',
    0x0d: 'a carriage return',
    0x1b: 'an escape (U+001B)',
  };
  return named[code] ?? `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * How a workflow's audit stands, as `status` and `history` print it: "audit degraded …" while its records wait
 * to be written, and the anchor (the chain head its last write returned). Nothing when neither is known.
 */
export function auditLines(state: {
  auditAnchor?: AuditAnchor | null;
  auditDegraded?: AuditDegraded | null;
}): string[] {
  const lines: string[] = [];
  if (state.auditDegraded) lines.push(`  ${esc(degradedText(state.auditDegraded))}`);
  if (state.auditAnchor) lines.push(`  ${esc(anchorText(state.auditAnchor))}`);
  return lines;
}

/** The same for `--json`: `{ audit: { anchor, degraded } }`, or nothing when neither is known. */
export function auditJson(state: {
  auditAnchor?: AuditAnchor | null;
  auditDegraded?: AuditDegraded | null;
}): { audit?: { anchor: AuditAnchor | null; degraded: AuditDegraded | null } } {
  if (!state.auditAnchor && !state.auditDegraded) return {};
  return { audit: { anchor: state.auditAnchor ?? null, degraded: state.auditDegraded ?? null } };
}
