/** The channels a privileged message can arrive through. One list: config, validators and policy read it. */
export const CHANNELS = ['cli', 'slack', 'github'] as const;
export type Channel = (typeof CHANNELS)[number];

/** What each channel tells us about who sent a message (shown in docs and `--help`). */
export const CHANNEL_DESCRIPTIONS: Record<Channel, string> = {
  cli: 'the shipgate CLI, as the login given with --as',
  slack: 'a Slack button or dialog, as the Slack user mapped through people.<login>.slack',
  github: 'the GitHub Action, as the workflow run’s actor',
};

export const DEFAULT_APPROVAL_CHANNELS: readonly Channel[] = ['cli', 'slack'];

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}
