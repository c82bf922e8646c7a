/**
 * Canary: the stable Deployment and `<deployment>-canary` behind one Service. Each step gives the canary its
 * share: by replica ratio (works on any cluster), or, with trafficRouting gateway-api, by the weights of an
 * HTTPRoute's backends (`<service>` and `<service>-canary`) while the stable keeps all its replicas. After each
 * step but the last the checks run against the canary alone; a failed one sends everything back to stable.
 * The last step promotes: the stable Deployment rolls to the new version and the canary scales to zero.
 */
import type { ActivateResult } from '../types.js';
import { AbortError, CanaryFailedError, NotReadyError } from '../errors.js';
import { changeCause, progressDeadlineSeconds, templateFor, type Activation } from './context.js';
import { KubeRefusedError } from './errors.js';
import { activateRolling } from './rolling.js';
import { rolloutState } from './rollout-status.js';
import { scale, setTemplate, waitForRollout } from './rollout.js';
import { imageOf, versionOf, withLabels } from './templates.js';
import { LABEL, type Deployment, type KubernetesTargetConfig, type Service } from './types.js';

export const canaryName = (config: KubernetesTargetConfig) => `${config.deployment}-canary`;

interface Backend {
  name: string;
  port?: number;
  weight?: number;
  [k: string]: unknown;
}
interface HttpRoute {
  metadata: { name: string };
  spec: { rules?: { backendRefs?: Backend[]; [k: string]: unknown }[]; [k: string]: unknown };
}

/** The canary's share in replicas: at least one pod, never all of them before promotion. */
export function canaryReplicas(total: number, percent: number): number {
  return Math.min(Math.max(1, Math.round((total * percent) / 100)), Math.max(1, total - 1));
}

/** The route and its rules that send traffic to the Service; a route with none is refused. */
async function readRoute(a: Activation) {
  const { cluster, config } = a;
  const routeName = config.httpRoute!;
  const route = await cluster.read<HttpRoute>('HTTPRoute', routeName);
  const rules = route.spec.rules ?? [];
  const ours = rules.filter((r) => (r.backendRefs ?? []).some((b) => b.name === config.service));
  if (ours.length === 0)
    throw new KubeRefusedError(
      `httproute ${cluster.namespace}/${routeName} has no rule with a backend "${config.service}"; refusing to shift traffic`,
    );
  return { routeName, rules, ours };
}

/** Sets the route's weights: `percent` to the canary Service, the rest to the stable one. */
async function setWeights(a: Activation, service: Service, percent: number): Promise<void> {
  const { cluster, config } = a;
  const { routeName, rules, ours } = await readRoute(a);
  const port = config.servicePort ?? service.spec.ports?.[0]?.port;
  for (const rule of ours) {
    const rest = (rule.backendRefs ?? []).filter(
      (b) => b.name !== config.service && b.name !== `${config.service}-canary`,
    );
    rule.backendRefs = [
      ...rest,
      { name: config.service!, ...(port ? { port } : {}), weight: 100 - percent },
      { name: `${config.service}-canary`, ...(port ? { port } : {}), weight: percent },
    ];
  }
  await cluster.merge('HTTPRoute', routeName, { spec: { rules } });
  a.hooks.progress?.(`httproute ${routeName}: ${percent}% to the canary`);
}

/** The Service that reaches the canary alone (checks; the route's canary backend). */
async function ensureCanaryService(a: Activation, service: Service): Promise<void> {
  await a.cluster.apply('Service', `${a.config.service}-canary`, {
    spec: {
      selector: { ...service.spec.selector, [LABEL.track]: 'canary' },
      ports: (service.spec.ports ?? []).map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
        protocol: p.protocol ?? 'TCP',
      })),
    },
  });
}

async function ensureCanaryDeployment(a: Activation, stable: Deployment): Promise<void> {
  const { cluster, config } = a;
  if (await cluster.find('Deployment', canaryName(config))) return;
  const spec = structuredClone(stable.spec);
  spec.replicas = 0;
  spec.selector = {
    ...spec.selector,
    matchLabels: { ...spec.selector.matchLabels, [LABEL.track]: 'canary' },
  };
  spec.template = withLabels(spec.template, { [LABEL.track]: 'canary' });
  await cluster.create('Deployment', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: canaryName(config),
      namespace: cluster.namespace,
      labels: stable.metadata.labels ?? {},
    },
    spec,
  } as never);
}

/**
 * With route weights, the stable Service must not select the canary's pods too (the canary's real share would
 * exceed its weight): the stable pods get `shipgate.dev/track: stable` and the Service selects it, as Argo
 * Rollouts does with its pod-template hash. Once per environment; a merge patch, so the label is not shipgate's
 * applied state (a later apply without it does not remove it). Labelling the pods rolls the stable Deployment
 * once, with the same image.
 */
async function isolateStable(a: Activation, stable: Deployment, service: Service): Promise<void> {
  const { cluster, config, hooks } = a;
  if (service.spec.selector?.[LABEL.track] === 'stable') return;
  if (stable.spec.template.metadata?.labels?.[LABEL.track] !== 'stable') {
    hooks.progress?.(`labelling ${config.deployment}'s pods ${LABEL.track}=stable`);
    await cluster.merge('Deployment', config.deployment, {
      spec: { template: { metadata: { labels: { [LABEL.track]: 'stable' } } } },
    });
    await waitForRollout(cluster, config.deployment, {
      deadline: a.deadline(),
      signal: hooks.signal,
      progress: hooks.progress,
    });
  }
  await cluster.merge('Service', config.service!, { spec: { selector: { [LABEL.track]: 'stable' } } });
  service.spec.selector = { ...service.spec.selector, [LABEL.track]: 'stable' };
}

export async function activateCanary(a: Activation): Promise<ActivateResult> {
  const { cluster, config, req, hooks } = a;
  const stable = await cluster.read<Deployment>('Deployment', config.deployment);
  imageOf(stable, config.container);
  const service = await cluster.read<Service>('Service', config.service!);
  const previous = versionOf(stable);
  if (
    previous === req.version &&
    imageOf(stable, config.container) === req.artifact &&
    rolloutState(stable).done
  )
    return { serving: req.version, previous: null, alreadyServing: true, warm: false };
  const gateway = config.trafficRouting === 'gateway-api';
  const total = stable.spec.replicas ?? config.replicas;
  const steps = (req.canarySteps ?? [10, 50, 100]).filter((p) => p > 0 && p < 100);
  if (steps.length === 0) return activateRolling(a); // a single 100% step is a rolling update
  if (gateway) {
    await readRoute(a); // a route that cannot shift traffic is refused before anything changes
    await isolateStable(a, stable, service);
  }
  await ensureCanaryDeployment(a, stable);
  await ensureCanaryService(a, service);
  const template = withLabels(await templateFor(a, stable.spec.template), { [LABEL.track]: 'canary' });
  const back = async () => {
    if (gateway) await setWeights(a, service, 0).catch(() => {});
    await scale(cluster, config.deployment, total).catch(() => {});
    await scale(cluster, canaryName(config), 0).catch(() => {});
  };
  try {
    for (const percent of steps) {
      const replicas = canaryReplicas(total, percent);
      await setTemplate(cluster, canaryName(config), template, {
        replicas,
        progressDeadlineSeconds: progressDeadlineSeconds(a),
        annotations: changeCause(req),
      });
      await waitForRollout(cluster, canaryName(config), {
        deadline: a.deadline(),
        signal: hooks.signal,
        progress: hooks.progress,
      });
      if (gateway) await setWeights(a, service, percent);
      else await scale(cluster, config.deployment, Math.max(total - replicas, 1));
      hooks.progress?.(`canary ${req.version} at ${percent}%`);
      if (req.canaryPauseMs) await pause(req.canaryPauseMs, hooks.signal);
      if (hooks.checkStep)
        await hooks.checkStep(percent, a.probeFor('canary')).catch((err: unknown) => {
          throw new CanaryFailedError(
            `canary ${req.version} failed at ${percent}%: ${(err as Error).message}`,
          );
        });
    }
  } catch (err) {
    await back();
    if (hooks.signal?.aborted && !(err instanceof CanaryFailedError))
      throw new AbortError(`canary of ${req.version} aborted`);
    if (err instanceof NotReadyError || err instanceof CanaryFailedError) throw err;
    throw err;
  }
  // Promotion: the stable Deployment runs the new version at full size; then the canary leaves.
  await scale(cluster, config.deployment, total);
  const promoted = await activateRolling(a).catch(async (err: unknown) => {
    await back();
    throw err;
  });
  if (gateway) await setWeights(a, service, 0);
  await scale(cluster, canaryName(config), 0);
  return { ...promoted, previous };
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
