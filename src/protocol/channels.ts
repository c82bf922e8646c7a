/**
 * The channels a privileged message can arrive through: the proven channels, one list that config, validators
 * and policy read. What each proves is defined in src/identity/channels.ts. `cli` and `github` are the names
 * messages carried before proofs existed: recorded histories and release snapshots hold them, so they stay
 * readable (RecordedChannel) and count as the channels they stand for (CHANNEL_ALIASES).
 */
import {
  CHANNEL_ALIASES,
  PROVEN_CHANNELS,
  type ChannelAlias,
  type ProvenChannel,
} from '../identity/channels.js';

export const CHANNELS = PROVEN_CHANNELS;
export type Channel = ProvenChannel;
/** A channel as recorded: a proven channel, or a name from before proofs (old inputs and snapshots). */
export type RecordedChannel = Channel | ChannelAlias;

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}

/** The proven channels a recorded name stands for. */
export function standsFor(name: RecordedChannel): readonly Channel[] {
  return isChannel(name) ? [name] : ((CHANNEL_ALIASES as Record<string, readonly Channel[]>)[name] ?? []);
}

/** Whether a message that came through `via` is through one of `allowed`; old names on either side count as what they stand for. */
export function channelAllowed(allowed: readonly RecordedChannel[], via: RecordedChannel): boolean {
  const open = new Set(allowed.flatMap(standsFor));
  return standsFor(via).some((c) => open.has(c));
}
