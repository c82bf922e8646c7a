/**
 * A release's stage: a closed set. Environment-scoped stages carry the environment's name after a fixed prefix,
 * which is the form clients see (`deploying-production`), so parsing lives here and nowhere else.
 */
export type EnvironmentStageKind = 'deploying' | 'smoke' | 'verifying';
export type FixedStage =
  'building' | 'awaiting-approval' | 'wait-timer' | 'awaiting-window' | 'awaiting-gate' | 'done';
export type Stage = FixedStage | `${EnvironmentStageKind}-${string}`;

/** What each stage means, for people (CLI, Slack, docs). */
export const STAGE_DESCRIPTIONS: Record<FixedStage | EnvironmentStageKind, string> = {
  building: 'building the artifact (idempotent per version)',
  'awaiting-approval': 'waiting for the approvals the environment requires',
  'wait-timer': 'approved; waiting out the environment’s wait timer',
  'awaiting-window': 'held by a deny window or a freeze until it ends (or a break-glass override)',
  'awaiting-gate': 'held by an external gate until it answers allowed',
  deploying: 'the environment workflow is deploying the version',
  smoke: 'smoke checks are running against the deployed version',
  verifying: 'verification (smoke checks and soak) on the last environment',
  done: 'the release has ended; see its state',
};

const FIXED: readonly FixedStage[] = [
  'building',
  'awaiting-approval',
  'wait-timer',
  'awaiting-window',
  'awaiting-gate',
  'done',
];
const ENV_KINDS: readonly EnvironmentStageKind[] = ['deploying', 'smoke', 'verifying'];

export const stageFor = (kind: EnvironmentStageKind, env: string): Stage => `${kind}-${env}`;

export type ParsedStage = { kind: FixedStage; env: null } | { kind: EnvironmentStageKind; env: string };

/** Splits a stage into its kind and environment; null for a string that is not a stage. */
export function parseStage(stage: string): ParsedStage | null {
  if ((FIXED as readonly string[]).includes(stage)) return { kind: stage as FixedStage, env: null };
  for (const kind of ENV_KINDS) {
    const prefix = `${kind}-`;
    if (stage.startsWith(prefix) && stage.length > prefix.length)
      return { kind, env: stage.slice(prefix.length) };
  }
  return null;
}

export const isStage = (value: string): value is Stage => parseStage(value) !== null;
