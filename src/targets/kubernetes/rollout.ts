/**
 * Changing a Deployment and waiting for it: a watch until the rollout is complete by kubectl's rules, failing
 * on ProgressDeadlineExceeded or on shipgate's own readiness deadline; and putting a template back.
 */
import { AbortError, NotReadyError } from '../errors.js';
import type { Cluster } from './cluster.js';
import { rolloutState } from './rollout-status.js';
import type { Deployment, PodTemplate } from './types.js';

export interface Waiting {
  deadline: number;
  signal?: AbortSignal;
  progress?: (message: string) => void;
}

/** Resolves once `name` has rolled out; rejects with NotReadyError when it cannot (the caller compensates). */
export async function waitForRollout(cluster: Cluster, name: string, w: Waiting): Promise<Deployment> {
  let last = '';
  try {
    return await cluster.waitFor<Deployment>(
      'Deployment',
      name,
      (d) => {
        const state = rolloutState(d);
        if (state.message !== last) w.progress?.((last = state.message));
        if (!state.done && state.failed) throw new NotReadyError(state.message);
        return state.done;
      },
      {
        deadline: w.deadline,
        signal: w.signal,
        onTimeout: () =>
          new NotReadyError(`deployment ${name} was not ready in time (${last || 'no progress'})`),
      },
    );
  } catch (err) {
    if (w.signal?.aborted && !(err instanceof NotReadyError))
      throw new AbortError(`rollout of ${name} aborted`);
    throw err;
  }
}

/** Replaces the Deployment's pod template (and replicas), retrying once when someone changed it meanwhile. */
export async function setTemplate(
  cluster: Cluster,
  name: string,
  template: PodTemplate,
  opts: { replicas?: number; progressDeadlineSeconds?: number; annotations?: Record<string, string> } = {},
): Promise<Deployment> {
  for (let attempt = 0; ; attempt++) {
    const d = await cluster.read<Deployment>('Deployment', name);
    d.spec.template = template;
    if (opts.replicas !== undefined) d.spec.replicas = opts.replicas;
    if (opts.progressDeadlineSeconds !== undefined)
      d.spec.progressDeadlineSeconds = opts.progressDeadlineSeconds;
    if (opts.annotations) d.metadata.annotations = { ...d.metadata.annotations, ...opts.annotations };
    delete (d as { status?: unknown }).status;
    try {
      return (await cluster.replace('Deployment', d)) as Deployment;
    } catch (err) {
      if (attempt > 2 || !/\(HTTP 409\)|conflict/i.test((err as Error).message)) throw err;
    }
  }
}

export function scale(cluster: Cluster, name: string, replicas: number): Promise<unknown> {
  return cluster.merge('Deployment', name, { spec: { replicas } });
}
