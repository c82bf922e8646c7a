/**
 * A config problem, already phrased for a person: `file: path: message`, one per line. Kept apart from the
 * loader so clients that only report config errors (the GitHub Action's bundle) do not pull in the schema.
 */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(problems.map((p) => `${file}: ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}
