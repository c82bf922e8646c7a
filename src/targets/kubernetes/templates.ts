/**
 * Pod templates: reading and changing the one container shipgate deploys, and keeping each version's full
 * template so a rollback restores exactly what ran, however long ago (`kubectl rollout undo` reaches only the
 * ReplicaSets revisionHistoryLimit keeps). Each version's template is a ControllerRevision in the app's
 * namespace, named by the Deployment and a hash of the version; the ledger's version is the reference.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Cluster } from './cluster.js';
import { KubeNotFoundError, KubeRefusedError } from './errors.js';
import { ANNOTATION, LABEL, type Deployment, type PodTemplate } from './types.js';

export function containerOf(template: PodTemplate, container: string, where: string) {
  const containers = template.spec?.containers ?? [];
  const found = containers.find((c) => c.name === container);
  if (!found)
    throw new KubeNotFoundError(
      `container "${container}" is not in ${where}'s pod template (containers: ${containers.map((c) => c.name).join(', ') || 'none'})`,
    );
  return found;
}

export const imageOf = (d: Deployment, container: string) =>
  containerOf(d.spec.template, container, `deployment ${d.metadata.namespace}/${d.metadata.name}`).image ??
  '';

export const versionOf = (d: Deployment | null | undefined): string | null =>
  d?.spec.template.metadata?.annotations?.[ANNOTATION.version] ?? null;

/** A copy of `template` running `image` in `container`, annotated with what shipgate deploys. */
export function withImage(
  template: PodTemplate,
  container: string,
  image: string,
  annotations: Record<string, string>,
): PodTemplate {
  const copy = structuredClone(template);
  const c = containerOf(copy, container, 'the template');
  c.image = image;
  copy.metadata = { ...copy.metadata, annotations: { ...copy.metadata?.annotations, ...annotations } };
  return copy;
}

/** A copy of `template` with `labels` set on its pods (a colour, a track). */
export function withLabels(template: PodTemplate, labels: Record<string, string>): PodTemplate {
  const copy = structuredClone(template);
  copy.metadata = { ...copy.metadata, labels: { ...copy.metadata?.labels, ...labels } };
  return copy;
}

/** The template without the annotations shipgate writes per deploy (version, release). */
function withoutOwnAnnotations(t: PodTemplate): PodTemplate {
  const copy = structuredClone(t);
  const ann = copy.metadata?.annotations;
  if (ann) for (const k of Object.keys(ann)) if (k.startsWith('shipgate.dev/')) delete ann[k];
  return copy;
}

/** Kubernetes names are at most 63 characters; a version hash keeps them unique. */
export function revisionName(deployment: string, version: string): string {
  const hash = createHash('sha256').update(version).digest('hex').slice(0, 10);
  return `${deployment.slice(0, 40)}-sg-${hash}`;
}

export interface Snapshot {
  version: string;
  image: string;
  template: PodTemplate;
}

/** Each version's pod template, for one Deployment name (the config's `deployment`). */
export class TemplateStore {
  constructor(
    private readonly cluster: Cluster,
    private readonly deployment: string,
  ) {}

  async get(version: string): Promise<Snapshot | null> {
    const rev = await this.cluster.find<{
      metadata: { annotations?: Record<string, string> };
      data?: unknown;
    }>('ControllerRevision', revisionName(this.deployment, version));
    if (!rev) return null;
    const data = rev.data as { version?: string; image?: string; template?: PodTemplate } | undefined;
    // A hash collision or a hand-made object with this name is not this version's template.
    if (!data?.template || data.version !== version) return null;
    return { version, image: data.image ?? '', template: data.template };
  }

  /** Records the template `version` ran with; idempotent. */
  async save(version: string, image: string, template: PodTemplate): Promise<void> {
    const clean = structuredClone(template);
    if (clean.metadata) delete (clean.metadata as Record<string, unknown>).creationTimestamp;
    const name = revisionName(this.deployment, version);
    const existing = await this.cluster.find<{
      metadata: { labels?: Record<string, string> };
      data?: unknown;
    }>('ControllerRevision', name);
    if (existing) {
      const data = existing.data as { version?: string; image?: string; template?: PodTemplate } | undefined;
      // Already recorded (a rollback's own release annotation is no change to what the version runs).
      if (
        data?.version === version &&
        data.image === image &&
        data.template &&
        isDeepStrictEqual(withoutOwnAnnotations(data.template), withoutOwnAnnotations(clean))
      )
        return;
      if (existing.metadata.labels?.[LABEL.managedBy] !== 'shipgate')
        throw new KubeRefusedError(
          `controllerrevision ${this.cluster.namespace}/${name} exists and is not shipgate's; refusing to record ${version}'s template over it`,
        );
      // A ControllerRevision's data is immutable: a version whose template changed (adopted after a hand
      // edit) is recorded afresh.
      await this.cluster.delete('ControllerRevision', name);
    }
    await this.cluster.apply('ControllerRevision', name, {
      metadata: {
        labels: { [LABEL.deployment]: this.deployment, [LABEL.managedBy]: 'shipgate' },
        annotations: { [ANNOTATION.version]: version },
      },
      data: { version, image, template: clean },
      // Newer saves sort later; the apiserver requires a revision number.
      revision: Math.floor(Date.now() / 1000),
    });
  }
}
