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
