/**
 * Blue-green: `<deployment>-blue` and `<deployment>-green` behind one Service whose selector names a colour.
 * The idle colour gets the new version and scales to the serving colour's replicas; once all its pods are
 * Ready, the checks run against it alone (the `<service>-preview` Service, or target.previewUrl); then one
 * selector patch switches traffic. The old colour stays scaled for keepPrevious, so a rollback to it is that
 * one patch again; the reaper scales it to zero afterwards.
 */
import type { ActivateResult } from '../types.js';
import { AbortError, CanaryFailedError, NotReadyError } from '../errors.js';
import type { Cluster } from './cluster.js';
import { changeCause, progressDeadlineSeconds, templateFor, type Activation } from './context.js';
import { KubeNotFoundError, KubeRefusedError } from './errors.js';
import { scale, setTemplate, waitForRollout } from './rollout.js';
import { imageOf, versionOf, withLabels } from './templates.js';
import { ANNOTATION, type Deployment, type KubernetesTargetConfig, type Service } from './types.js';

export const COLOURS = ['blue', 'green'] as const;
export type Colour = (typeof COLOURS)[number];
/** The selector key whose value is the colour, as the teams' own Services have it. */
export const COLOUR_KEY = 'color';

const other = (c: Colour): Colour => (c === 'blue' ? 'green' : 'blue');
export const colourName = (config: KubernetesTargetConfig, c: Colour) => `${config.deployment}-${c}`;

export interface BlueGreenState {
  service: Service;
  active: Colour;
  deployments: Record<Colour, Deployment | null>;
}

/** Reads the Service and both colours, refusing (before anything changes) a layout the switch would break. */
export async function readBlueGreen(
  cluster: Cluster,
  config: KubernetesTargetConfig,
): Promise<BlueGreenState> {
  const serviceName = config.service!;
  // The Service and both colours at once: a warm rollback is only as fast as its reads.
  const [service, blue, green] = await Promise.all([
    cluster.read<Service>('Service', serviceName),
    ...COLOURS.map((c) => cluster.find<Deployment>('Deployment', colourName(config, c))),
  ] as const);
  const selector = service.spec.selector ?? {};
  const active = selector[COLOUR_KEY] as Colour | undefined;
  const where = `service ${cluster.namespace}/${serviceName}`;
  if (active !== 'blue' && active !== 'green')
    throw new KubeRefusedError(
      `${where} selects ${JSON.stringify(selector)}: expected a "${COLOUR_KEY}" of blue or green in its selector; refusing to switch`,
    );
  const deployments: Record<Colour, Deployment | null> = { blue: blue ?? null, green: green ?? null };
  if (!deployments.blue && !deployments.green)
    throw new KubeNotFoundError(
      `blue-green needs deployment ${cluster.namespace}/${colourName(config, 'blue')} or ${colourName(config, 'green')} (the other is made from it); neither exists`,
    );
  // The Service must select each colour's pods by exactly the colour: otherwise the switch moves no traffic.
  for (const c of COLOURS) {
    const d = deployments[c];
    if (!d) continue;
    const labels = d.spec.template.metadata?.labels ?? {};
    const misses = Object.entries({ ...selector, [COLOUR_KEY]: c }).filter(([k, v]) => labels[k] !== v);
    if (misses.length)
      throw new KubeRefusedError(
        `${where}'s selector ${JSON.stringify(selector)} would not select deployment ${d.metadata.name}'s pods ` +
          `(labels ${JSON.stringify(labels)}; differ on ${misses.map(([k]) => k).join(', ')}); refusing to switch`,
      );
  }
  return { service, active, deployments };
}

/** A colour's Deployment made from the other's: same spec, its own name, selector and pod labels. */
function derived(from: Deployment, config: KubernetesTargetConfig, c: Colour): Deployment {
  const spec = structuredClone(from.spec);
  spec.selector = { ...spec.selector, matchLabels: { ...spec.selector.matchLabels, [COLOUR_KEY]: c } };
  spec.template = withLabels(spec.template, { [COLOUR_KEY]: c });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: colourName(config, c), labels: from.metadata.labels ?? {} },
    spec,
  };
}

/**
 * Warm enough to take traffic at once: scaled, the latest spec observed, every replica updated and available.
 * Old pods still terminating (kubectl's last rule) do not matter to a Service that selects only ready pods.
 */
export function warm(d: Deployment | null): boolean {
  if (!d || (d.spec.replicas ?? 0) === 0) return false;
  const s = d.status ?? {};
  const want = d.spec.replicas ?? 0;
  return (
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
    (s.updatedReplicas ?? 0) >= want &&
    (s.availableReplicas ?? 0) >= want
  );
}

/** One selector patch, then a wait until the Service's endpoints are the new colour's pods only. */
async function switchTo(a: Activation, state: BlueGreenState, c: Colour): Promise<void> {
  const { cluster, config } = a;
  await cluster.merge('Service', config.service!, { spec: { selector: { [COLOUR_KEY]: c } } });
  a.hooks.progress?.(`service ${config.service} selects ${c}`);
  // The bookkeeping patches go out while the endpoints follow the selector.
  await Promise.all([
    waitForEndpoints(cluster, config.service!, colourName(config, c), colourName(config, other(c))),
    // A colour that serves again (a warm rollback) is kept for no deadline: drop the one it had while idle.
    state.deployments[c]?.metadata.annotations?.[ANNOTATION.keepUntil]
      ? cluster.merge('Deployment', colourName(config, c), {
          metadata: { annotations: { [ANNOTATION.keepUntil]: null } },
        })
      : null,
    keepWarm(a, other(c)),
  ]);
}

/** The EndpointSlices follow the selector within moments; waiting makes "switched" mean traffic moved. */
async function waitForEndpoints(
  cluster: Cluster,
  service: string,
  want: string,
  gone: string,
): Promise<void> {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    const slices = await cluster.list<{
      endpoints?: { targetRef?: { name?: string }; conditions?: { ready?: boolean } }[];
    }>('EndpointSlice', `kubernetes.io/service-name=${service}`);
    const pods = slices.flatMap((s) =>
      (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.targetRef?.name ?? ''),
    );
    if (
      pods.length > 0 &&
      pods.every((p) => p.startsWith(`${want}-`)) &&
      !pods.some((p) => p.startsWith(`${gone}-`))
    )
      return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The Service that reaches one colour alone, for checks before it takes traffic. */
async function ensurePreview(a: Activation, state: BlueGreenState, c: Colour): Promise<void> {
  await a.cluster.apply('Service', `${a.config.service}-preview`, {
    spec: {
      selector: { ...state.service.spec.selector, [COLOUR_KEY]: c },
      ports: (state.service.spec.ports ?? []).map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
        protocol: p.protocol ?? 'TCP',
      })),
    },
  });
}

export async function activateBlueGreen(a: Activation): Promise<ActivateResult> {
  const { cluster, config, req, hooks } = a;
  const state = await readBlueGreen(cluster, config);
  const activeDep = state.deployments[state.active];
  const previous = versionOf(activeDep);
  const idle = other(state.active);
  const idleDep = state.deployments[idle];
  // A container missing from either colour is refused before anything changes, naming the Deployment.
  for (const d of [activeDep, idleDep]) if (d) imageOf(d, config.container);
  const runs = (d: Deployment | null) =>
    !!d && versionOf(d) === req.version && imageOf(d, config.container) === req.artifact;
  if (runs(activeDep) && warm(activeDep))
    return { serving: req.version, previous: null, alreadyServing: true, warm: false };
  // The new colour takes over the serving colour's size; target.replicas only when neither is scaled.
  const replicas = activeDep?.spec.replicas || idleDep?.spec.replicas || config.replicas;

  // Warm: the idle colour still runs this version, scaled and ready; the rollback is one selector patch.
  if (runs(idleDep) && warm(idleDep)) {
    await switchTo(a, state, idle);
    return { serving: req.version, previous, alreadyServing: false, warm: true };
  }

  const base = (activeDep ?? idleDep)!;
  const template = withLabels(await templateFor(a, base.spec.template), { [COLOUR_KEY]: idle });
  if (idleDep)
    await setTemplate(cluster, colourName(config, idle), template, {
      replicas,
      progressDeadlineSeconds: progressDeadlineSeconds(a),
      annotations: { ...changeCause(req), [ANNOTATION.keepUntil]: '' },
    });
  else {
    // The missing colour is made from the serving one, already with the new template.
    const made = derived(base, config, idle);
    made.spec = { ...made.spec, template, replicas, progressDeadlineSeconds: progressDeadlineSeconds(a) };
    made.metadata = { ...made.metadata, namespace: cluster.namespace, annotations: changeCause(req) };
    await cluster.create('Deployment', made);
  }
  hooks.progress?.(`deploying ${req.version} to ${colourName(config, idle)}`);
  try {
    const done = await waitForRollout(cluster, colourName(config, idle), {
      deadline: a.deadline(),
      signal: hooks.signal,
      progress: hooks.progress,
    });
    await a.templates.save(req.version, req.artifact, done.spec.template);
    await ensurePreview(a, state, idle);
    if (hooks.checkStep) {
      // A check runs once: the preview Service's endpoints (made moments ago) must be the new colour's first.
      await waitForEndpoints(
        cluster,
        `${config.service}-preview`,
        colourName(config, idle),
        colourName(config, state.active),
      );
      hooks.progress?.(`checking ${req.version} on ${colourName(config, idle)} before it takes traffic`);
      await hooks.checkStep(0, a.probeFor('preview')).catch((err: unknown) => {
        throw new CanaryFailedError(
          `${req.version} failed its checks before the switch: ${(err as Error).message}`,
        );
      });
    }
  } catch (err) {
    // Nothing switched: the serving colour still has all traffic. The idle colour goes back to zero.
    await scale(cluster, colourName(config, idle), 0).catch(() => {});
    if (err instanceof NotReadyError || err instanceof CanaryFailedError || err instanceof AbortError)
      throw err;
    if (hooks.signal?.aborted) throw new AbortError(`activation of ${req.version} aborted`);
    throw err;
  }
  if (hooks.signal?.aborted) {
    await scale(cluster, colourName(config, idle), 0).catch(() => {});
    throw new AbortError(`activation of ${req.version} aborted before the switch`);
  }
  await switchTo(a, state, idle);
  return { serving: req.version, previous, alreadyServing: false, warm: false };
}

/** The colour that just lost traffic stays scaled until keepPrevious passes (then the reaper scales it down). */
async function keepWarm(a: Activation, colour: Colour): Promise<void> {
  const name = colourName(a.config, colour);
  if (a.req.keepPreviousMs <= 0) {
    await scale(a.cluster, name, 0);
    return;
  }
  const until = new Date(Date.now() + a.req.keepPreviousMs).toISOString();
  await a.cluster.merge('Deployment', name, { metadata: { annotations: { [ANNOTATION.keepUntil]: until } } });
}

/** Scales the colour that takes no traffic to zero once its keep-until has passed by `at`. */
export async function reapBlueGreen(
  cluster: Cluster,
  config: KubernetesTargetConfig,
  at: Date,
): Promise<void> {
  const state = await readBlueGreen(cluster, config);
  const idle = state.deployments[other(state.active)];
  if (!idle || (idle.spec.replicas ?? 0) === 0) return;
  const until = idle.metadata.annotations?.[ANNOTATION.keepUntil];
  if (until && Date.parse(until) > at.getTime()) return;
  await scale(cluster, idle.metadata.name, 0);
}
