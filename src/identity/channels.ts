/**
 * The channels a privileged message can arrive through once identity is proven, and what each one proves.
 * Config, verifier and (once wired) validators and policy read this one list. `cli` and `github` are the
 * names used before proofs existed: config still accepts them as aliases, and recorded histories carry them.
 */
export const PROVEN_CHANNELS = ['ssh', 'slack', 'github-oidc', 'web-oidc', 'asserted'] as const;
export type ProvenChannel = (typeof PROVEN_CHANNELS)[number];

/** `identity:` at the top of the config. `asserted` accepts an unsigned `--as`, for local trials only. */
export const IDENTITY_MODES = ['proven', 'asserted'] as const;
export type IdentityMode = (typeof IDENTITY_MODES)[number];
export const DEFAULT_IDENTITY_MODE: IdentityMode = 'proven';

/** Old channel names and the channels they stand for now. */
export const CHANNEL_ALIASES = {
  cli: ['ssh', 'asserted'],
  github: ['github-oidc'],
} as const satisfies Record<string, readonly ProvenChannel[]>;
export type ChannelAlias = keyof typeof CHANNEL_ALIASES;
export const CHANNEL_ALIAS_NAMES = Object.keys(CHANNEL_ALIASES) as ChannelAlias[];

/** What a message through each channel proves (docs and `--help` say the same). */
export const PROVEN_CHANNEL_DESCRIPTIONS: Record<ProvenChannel, string> = {
  ssh: 'the CLI, signed with an SSH key listed under people.<login>.sshKeys (SSHSIG, namespace "shipgate")',
  slack:
    'a Slack button or dialog whose request Slack signed, as the Slack user mapped through people.<login>.slack',
  'github-oidc':
    'the GitHub Action, with a GitHub Actions ID token for apps.<app>.repository; the actor is mapped through people.<login>.github',
  'web-oidc':
    'the dashboard, signed in through ui.oidc (the ID token subject or verified email mapped through people.<login>.oidc); approve, reject and rollback only',
  asserted: 'the CLI with an unsigned --as; accepted only under identity: asserted (local trials)',
};

export function isProvenChannel(value: unknown): value is ProvenChannel {
  return typeof value === 'string' && (PROVEN_CHANNELS as readonly string[]).includes(value);
}

/** The channels an identity mode allows at all; `asserted` only under `identity: asserted`. */
export function channelsAllowedBy(mode: IdentityMode): ProvenChannel[] {
  return PROVEN_CHANNELS.filter((c) => c !== 'asserted' || mode === 'asserted');
}

/** Default `approvalChannels`: every channel the identity mode allows. */
export function defaultApprovalChannels(mode: IdentityMode): ProvenChannel[] {
  return channelsAllowedBy(mode);
}

/** Channel names as written in config (new names and aliases) to channels, in list order, without repeats. */
export function expandChannels(names: readonly (ProvenChannel | ChannelAlias)[]): ProvenChannel[] {
  const out: ProvenChannel[] = [];
  for (const name of names) {
    const expanded: readonly ProvenChannel[] = isProvenChannel(name) ? [name] : CHANNEL_ALIASES[name];
    for (const c of expanded) if (!out.includes(c)) out.push(c);
  }
  return out;
}
