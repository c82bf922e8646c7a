/** What every strategy needs for one activation: the cluster, the config, the request and its hooks. */
import type { ActivateHooks, ActivateRequest, Probe } from '../types.js';
import type { Cluster } from './cluster.js';
import type { TemplateStore } from './templates.js';
import { ANNOTATION, type KubernetesTargetConfig, type PodTemplate } from './types.js';
import { withImage } from './templates.js';

export interface Activation {
  cluster: Cluster;
  config: KubernetesTargetConfig;
  templates: TemplateStore;
  req: ActivateRequest;
  hooks: ActivateHooks;
  /** When a rollout starting now that has not become ready fails (each rollout of a canary gets its own). */
  deadline(): number;
  /** Reaches the Service `name` as users would (target.url) or through the apiserver's service proxy. */
  probeFor(service: 'main' | 'preview' | 'canary'): Probe;
}

export const progressDeadlineSeconds = (a: Activation) =>
  Math.max(1, Math.round(a.config.progressDeadline / 1000));

/** The template annotations that say which version and release a pod runs. */
export function templateAnnotations(req: ActivateRequest): Record<string, string> {
  return {
    [ANNOTATION.version]: req.version,
    ...(req.releaseId ? { [ANNOTATION.release]: req.releaseId } : {}),
  };
}

export function changeCause(req: ActivateRequest): Record<string, string> {
  return { [ANNOTATION.changeCause]: req.changeCause ?? `shipgate: ${req.version}` };
}

/**
 * The template `req.version` runs with: the one recorded when it ran here before (a rollback restores all of
 * it, not only the image), else `base` with the new image.
 */
export async function templateFor(a: Activation, base: PodTemplate): Promise<PodTemplate> {
  const saved = await a.templates.get(a.req.version);
  const from = saved && saved.image === a.req.artifact ? saved.template : base;
  return withImage(from, a.config.container, a.req.artifact, templateAnnotations(a.req));
}
