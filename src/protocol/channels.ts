/**
 * The channels a privileged message can arrive through. One list: config, validators and policy read it.
 * The proven channels are defined with what each proves in src/identity/channels.ts. `cli` and `github` are the
 * names messages carried before proofs existed: recorded histories hold them, so they stay readable here and
 * count as the channels they stand for (CHANNEL_ALIASES).
 */
import {
  CHANNEL_ALIAS_NAMES,
  CHANNEL_ALIASES,
  PROVEN_CHANNELS,
  type ChannelAlias,
  type ProvenChannel,
} from '../identity/channels.js';

export const CHANNELS = [...PROVEN_CHANNELS, ...CHANNEL_ALIAS_NAMES] as const;
export type Channel = ProvenChannel | ChannelAlias;

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}

/** Whether a message that came through `via` is through one of `allowed` (an alias counts as what it stands for). */
export function channelAllowed(allowed: readonly Channel[], via: Channel): boolean {
  if (allowed.includes(via)) return true;
  const standsFor: readonly ProvenChannel[] =
    (CHANNEL_ALIASES as Record<string, readonly ProvenChannel[]>)[via] ?? [];
  return standsFor.some((c) => allowed.includes(c));
}
