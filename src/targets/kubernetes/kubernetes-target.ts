/**
 * The kubernetes target: one environment's Deployment(s) and Service in one namespace of one cluster, through
 * that environment's own kubeconfig. Strategies live in their own modules; this file opens the cluster,
 * dispatches, and answers probes, liveness, status, drift and adoption.
 */
import { createHash } from 'node:crypto';
import { httpProbe } from '../http-probe.js';
import type {
  ActivateHooks,
  ActivateRequest,
  ActivateResult,
  DeploymentTarget,
  DriftFinding,
  ExpectedState,
  Placement,
  Probe,
  TargetStatus,
  VersionStatus,
} from '../types.js';
import {
  activateBlueGreen,
  COLOUR_KEY,
  colourName,
  COLOURS,
  readBlueGreen,
  reapBlueGreen,
} from './blue-green.js';
import { activateCanary, canaryName } from './canary.js';
import { Cluster, loadKubeConfig } from './cluster.js';
import type { Activation } from './context.js';
import { findDrift, versionFromImage, type LiveDeployment, type LiveView } from './drift.js';
import { activateRolling } from './rolling.js';
import { rolloutState } from './rollout-status.js';
import { TemplateStore, containerOf, versionOf } from './templates.js';
import { ANNOTATION, type Deployment, type KubernetesTargetConfig, type Pod, type Service } from './types.js';
import { checkAccess } from './access.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeRefusedError } from './errors.js';

/** How long a call waits for an apiserver that does not answer; the activity heartbeats meanwhile. */
export const UNREACHABLE_TIMEOUT_MS = 60_000;

export class KubernetesTarget implements DeploymentTarget {
  readonly kind = 'kubernetes' as const;
  private readonly config: KubernetesTargetConfig;

  constructor(
    private readonly placement: Placement,
    private readonly kc: KubeConfig,
    private readonly opts: { unreachableTimeoutMs?: number } = {},
  ) {
    this.config = placement.config as KubernetesTargetConfig;
  }

  private cluster(hooks: ActivateHooks = {}): Cluster {
    return new Cluster(this.kc, this.config.namespace, {
      unreachableTimeoutMs: this.opts.unreachableTimeoutMs ?? UNREACHABLE_TIMEOUT_MS,
      progress: hooks.progress,
      signal: hooks.signal,
    });
  }

  async activate(req: ActivateRequest, hooks: ActivateHooks = {}): Promise<ActivateResult> {
    const cluster = this.cluster(hooks);
    const a: Activation = {
      cluster,
      config: this.config,
      templates: new TemplateStore(cluster, this.config.deployment),
      req,
      hooks,
      deadline: () => Date.now() + (req.readyTimeoutMs ?? this.config.progressDeadline + 30_000),
      probeFor: (which) => this.probeFor(cluster, which),
    };
    await checkAccessOnce(cluster, this.config);
    const result =
      this.config.strategy === 'blue-green'
        ? await activateBlueGreen(a)
        : this.config.strategy === 'canary'
          ? await activateCanary(a)
          : await activateRolling(a);
    const digest = await this.digestOf(cluster, req.version);
    return digest ? { ...result, digest } : result;
  }

  /** The image digest the cluster reports for the version's pods (imageID), where it reports one. */
  private async digestOf(cluster: Cluster, version: string): Promise<string | null> {
    for (const d of await this.deployments(cluster)) {
      if (versionOf(d) !== version || (d.spec.replicas ?? 0) === 0) continue;
      const selector = Object.entries(d.spec.selector.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const pods = await cluster.list<Pod>('Pod', selector);
      for (const pod of pods) {
        if (pod.metadata?.annotations?.[ANNOTATION.version] !== version) continue;
        const status = pod.status?.containerStatuses?.find((c) => c.name === this.config.container);
        const digest = /@(sha256:[0-9a-f]{64})$/.exec(status?.imageID ?? '')?.[1];
        if (digest) return digest;
      }
    }
    return null;
  }

  /** target.url (or previewUrl) when set; else the apiserver's service proxy to the Service. */
  private probeFor(cluster: Cluster, which: 'main' | 'preview' | 'canary'): Probe {
    const base = which === 'main' ? this.config.url : (this.config.previewUrl ?? undefined);
    if (base) return httpProbe(base);
    const service = this.config.service;
    return async (path, timeoutMs) => {
      if (!service)
        throw new Error(
          `no way to reach ${this.placement.app}/${this.placement.env}: set target.url, or target.service for the apiserver's service proxy`,
        );
      const name = which === 'main' ? service : `${service}-${which}`;
      const port = this.config.servicePort ? `:${this.config.servicePort}` : '';
      const answer = await cluster.proxyGet(
        `/api/v1/namespaces/${this.config.namespace}/services/${name}${port}/proxy${path}`,
        timeoutMs,
      );
      return answer;
    };
  }

  readonly probe: Probe = (path, timeoutMs) => this.probeFor(this.cluster(), 'main')(path, timeoutMs);

  /** Deployments that may run a version here, by strategy. */
  private names(): string[] {
    const d = this.config.deployment;
    if (this.config.strategy === 'blue-green') return COLOURS.map((c) => colourName(this.config, c));
    if (this.config.strategy === 'canary') return [d, canaryName(this.config)];
    return [d];
  }

  private async deployments(cluster: Cluster): Promise<Deployment[]> {
    const found = await Promise.all(this.names().map((n) => cluster.find<Deployment>('Deployment', n)));
    return found.filter((d): d is Deployment => d !== null);
  }

  /** A version is alive while a Deployment running it has available replicas (not a pid: pods come and go). */
  async liveness(version: string): Promise<string | null> {
    const running = (await this.deployments(this.cluster())).filter((d) => versionOf(d) === version);
    if (running.length === 0) return null; // no record of it here: not ours to judge
    if (running.some((d) => (d.status?.availableReplicas ?? 0) > 0)) return null;
    return `${version} has no available replicas (${running.map((d) => `deployment ${d.metadata.name}: ${d.spec.replicas ?? 0} wanted, 0 available`).join('; ')})`;
  }

  async status(): Promise<TargetStatus | null> {
    const cluster = this.cluster();
    const deps = await this.deployments(cluster);
    if (deps.length === 0) return null;
    let selected: string | null = null;
    if (this.config.strategy === 'blue-green') {
      const svc = await cluster.find<Service>('Service', this.config.service!);
      const colour = svc?.spec.selector?.[COLOUR_KEY];
      selected = colour ? `${this.config.deployment}-${colour}` : null;
    }
    const totalReady = deps.reduce((n, d) => n + (d.status?.availableReplicas ?? 0), 0);
    const versions: VersionStatus[] = deps
      .filter((d) => versionOf(d) !== null && (d.spec.replicas ?? 0) > 0)
      .map((d) => {
        const available = d.status?.availableReplicas ?? 0;
        const weight =
          this.config.strategy === 'blue-green'
            ? d.metadata.name === selected
              ? 100
              : 0
            : totalReady
              ? Math.round((available / totalReady) * 100)
              : 0;
        return {
          version: versionOf(d)!,
          alive: available > 0,
          ready: rolloutState(d).done,
          weight,
          keepUntil: d.metadata.annotations?.['shipgate.dev/keep-until'] || null,
          // The client parses timestamps into Dates; status says them as ISO strings, like every target.
          startedAt: d.metadata.creationTimestamp
            ? new Date(d.metadata.creationTimestamp as string | Date).toISOString()
            : '',
        };
      });
    const serving = versions.find((v) => v.weight === 100)?.version ?? null;
    return {
      app: this.placement.app,
      env: this.placement.env,
      reachable: totalReady > 0,
      serving,
      versions,
    };
  }

  async reap(at: Date = new Date()): Promise<void> {
    if (this.config.strategy === 'blue-green') await reapBlueGreen(this.cluster(), this.config, at);
  }

  private live(d: Deployment | null | undefined): LiveDeployment | null {
    if (!d) return null;
    let image: string | null = null;
    try {
      image =
        containerOf(d.spec.template, this.config.container, `deployment ${d.metadata.name}`).image ?? null;
    } catch {
      image = null;
    }
    return {
      name: d.metadata.name,
      image,
      version: versionOf(d),
      replicas: d.spec.replicas ?? 0,
      template: d.spec.template,
    };
  }

  /** Reads what runs into the view the drift rules compare. */
  private async view(cluster: Cluster, expected: ExpectedState | null): Promise<LiveView> {
    const templates = new TemplateStore(cluster, this.config.deployment);
    const recorded = expected ? ((await templates.get(expected.version))?.template ?? null) : null;
    if (this.config.strategy !== 'blue-green') {
      const d = await cluster.find<Deployment>('Deployment', this.config.deployment);
      return { serving: this.live(d), recorded };
    }
    const svc = await cluster.find<Service>('Service', this.config.service!);
    const colour = svc?.spec.selector?.[COLOUR_KEY];
    const deps = Object.fromEntries(
      await Promise.all(
        COLOURS.map(
          async (c) => [c, await cluster.find<Deployment>('Deployment', colourName(this.config, c))] as const,
        ),
      ),
    );
    const serving = colour === 'blue' || colour === 'green' ? this.live(deps[colour]) : null;
    const expectedColour = expected
      ? COLOURS.find((c) => {
          const l = this.live(deps[c]);
          return l?.version === expected.version && l.image === expected.artifact;
        })
      : undefined;
    return {
      serving,
      recorded,
      selector: {
        service: this.config.service!,
        selects: svc ? (colour ? `deployment/${colourName(this.config, colour as 'blue')}` : null) : null,
        expected: expectedColour
          ? `deployment/${colourName(this.config, expectedColour)}`
          : serving
            ? `deployment/${serving.name}`
            : null,
      },
    };
  }

  async drift(expected: ExpectedState): Promise<DriftFinding[]> {
    return findDrift(expected, await this.view(this.cluster(), expected));
  }

  /**
   * Takes what runs as current: the version is read from the image under the build's template (or a name
   * derived from the image when it fits none), and its live pod template is recorded for later rollbacks.
   */
  async adopt(): Promise<ExpectedState> {
    const cluster = this.cluster();
    const view = await this.view(cluster, null);
    const d = view.serving;
    if (!d?.image)
      throw new KubeRefusedError(
        `nothing to adopt in ${this.config.namespace}: no serving deployment runs container "${this.config.container}"`,
      );
    const version =
      versionFromImage(this.placement.build.image, d.image) ??
      `adopted-${createHash('sha256').update(d.image).digest('hex').slice(0, 12)}`;
    await new TemplateStore(cluster, this.config.deployment).save(version, d.image, d.template);
    return { version, artifact: d.image };
  }
}

/** Opens each environment's target on first use, loading its kubeconfig once (a bad one fails here, named). */
export function createKubernetesTarget(opts: { unreachableTimeoutMs?: number } = {}) {
  const configs = new Map<string, KubeConfig>();
  return {
    open(placement: Placement): DeploymentTarget {
      const config = placement.config as KubernetesTargetConfig;
      const key = `${config.kubeconfig ?? ''}|${config.context ?? ''}`;
      let kc = configs.get(key);
      if (!kc) {
        kc = loadKubeConfig(config, `environment ${placement.app}/${placement.env}`);
        configs.set(key, kc);
      }
      return new KubernetesTarget(placement, kc, opts);
    },
  };
}

export { readBlueGreen };

/** RBAC answers per identity, namespace and strategy, asked again after a few minutes (a Role can change). */
const accessChecked = new Map<string, number>();
const ACCESS_TTL_MS = 5 * 60_000;

async function checkAccessOnce(cluster: Cluster, config: KubernetesTargetConfig): Promise<void> {
  const user = cluster.kc.getCurrentUser();
  const key = [
    cluster.server,
    user?.name,
    user?.token?.slice(-16),
    cluster.namespace,
    config.strategy,
    config.trafficRouting,
  ].join('|');
  if ((accessChecked.get(key) ?? 0) > Date.now()) return;
  await checkAccess(cluster, config);
  accessChecked.set(key, Date.now() + ACCESS_TTL_MS);
}
