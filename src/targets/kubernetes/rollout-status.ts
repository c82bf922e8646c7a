/**
 * Whether a Deployment's rollout is complete, by the rules `kubectl rollout status` uses: the controller has
 * seen the latest spec, every replica runs the new template, all are available, and no old replica is left.
 * Pure, so the rules are tested on their own.
 */
import type { Deployment } from './types.js';

export type RolloutState =
  | { done: true; message: string }
  | { done: false; failed: false; message: string }
  | { done: false; failed: true; message: string };

export function rolloutState(d: Deployment): RolloutState {
  const name = d.metadata.name;
  const s = d.status ?? {};
  const generation = d.metadata.generation ?? 0;
  if ((s.observedGeneration ?? 0) < generation)
    return {
      done: false,
      failed: false,
      message: `waiting for deployment ${name}'s new spec to be observed`,
    };
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded')
    return {
      done: false,
      failed: true,
      message: `deployment ${name} exceeded its progress deadline (ProgressDeadlineExceeded: ${progressing.message ?? 'no progress'})`,
    };
  const want = d.spec.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  const total = s.replicas ?? 0;
  const available = s.availableReplicas ?? 0;
  if (updated < want)
    return { done: false, failed: false, message: `${updated} of ${want} new replicas of ${name} updated` };
  if (total > updated)
    return {
      done: false,
      failed: false,
      message: `${total - updated} old replica(s) of ${name} pending termination`,
    };
  if (available < updated)
    return {
      done: false,
      failed: false,
      message: `${available} of ${updated} updated replicas of ${name} available`,
    };
  return { done: true, message: `deployment ${name}: ${available} of ${want} replicas available` };
}
