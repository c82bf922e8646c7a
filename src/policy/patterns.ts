/** Patterns for untrusted identifiers (docs/cli.md, "Input patterns"). Anything else is refused before it reaches Temporal. */
export const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,127}$/;
export const LOGIN_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/;
/** App and environment names become parts of workflow ids and file paths. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function isValidVersion(v: string): boolean {
  return VERSION_PATTERN.test(v);
}
export function isValidLogin(v: string): boolean {
  return LOGIN_PATTERN.test(v);
}

/**
 * The first control character in `text` (C0, DEL or C1), as `U+000A at 12`, or null. Reasons and comments are
 * shown in terminals, Slack and job summaries: a newline could forge a line, an escape sequence hide a link.
 */
export function controlCharacter(text: string): string | null {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f))
      return `U+${c.toString(16).toUpperCase().padStart(4, '0')} at ${i + 1}`;
  }
  return null;
}
