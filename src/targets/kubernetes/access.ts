/**
 * What each strategy needs RBAC to allow, asked of the apiserver (SelfSubjectAccessReview, which every
 * authenticated identity may create) before anything changes: a Role missing a verb fails the deploy up
 * front, naming verb and resource, instead of halfway (e.g. after a Service selector already switched).
 */
import { AuthorizationV1Api } from '@kubernetes/client-node';
import type { Cluster } from './cluster.js';
import { KubeForbiddenError } from './errors.js';
import type { KubernetesTargetConfig } from './types.js';

export interface Permission {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
}

const p = (verb: string, group: string, resource: string, subresource?: string): Permission => ({
  verb,
  group,
  resource,
  ...(subresource ? { subresource } : {}),
});

/** The verbs an activation of `config`'s strategy uses; docs/kubernetes-role.yaml grants exactly these. */
export function permissionsFor(config: KubernetesTargetConfig): Permission[] {
  const common = [
    p('get', 'apps', 'deployments'),
    p('watch', 'apps', 'deployments'),
    p('patch', 'apps', 'deployments'),
    p('update', 'apps', 'deployments'),
    p('get', 'apps', 'controllerrevisions'),
    p('create', 'apps', 'controllerrevisions'),
    p('patch', 'apps', 'controllerrevisions'),
    p('delete', 'apps', 'controllerrevisions'),
    p('list', '', 'pods'),
  ];
  // Checks given as a path go through the apiserver's service proxy unless the config names URLs.
  const proxy =
    config.service && (!config.url || !config.previewUrl) ? [p('get', '', 'services', 'proxy')] : [];
  if (config.strategy === 'rolling') return [...common, ...proxy];
  const twoDeployments = [
    ...common,
    ...proxy,
    p('create', 'apps', 'deployments'),
    p('get', '', 'services'),
    p('create', '', 'services'),
    p('patch', '', 'services'),
    p('list', 'discovery.k8s.io', 'endpointslices'),
  ];
  if (config.strategy === 'canary' && config.trafficRouting === 'gateway-api')
    return [
      ...twoDeployments,
      p('get', 'gateway.networking.k8s.io', 'httproutes'),
      p('patch', 'gateway.networking.k8s.io', 'httproutes'),
    ];
  return twoDeployments;
}

/** As RBAC rules and kubectl name it: `deployments`, `services/proxy`, `httproutes.gateway.networking.k8s.io`. */
const resourceName = (x: Permission) =>
  `${x.resource}${x.subresource ? `/${x.subresource}` : ''}${x.group && x.group !== 'apps' ? `.${x.group}` : ''}`;

/** `"get", "watch" on "deployments"; "list" on "pods"`: what a Role must add. */
function grants(missing: Permission[]): string {
  const byResource = new Map<string, string[]>();
  for (const x of missing)
    byResource.set(resourceName(x), [...(byResource.get(resourceName(x)) ?? []), x.verb]);
  return [...byResource].map(([r, verbs]) => `${verbs.map((v) => `"${v}"`).join(', ')} on "${r}"`).join('; ');
}

/** Refuses, before any change, when the credentials lack a permission the strategy needs. */
export async function checkAccess(cluster: Cluster, config: KubernetesTargetConfig): Promise<void> {
  const api = cluster.kc.makeApiClient(AuthorizationV1Api);
  const needed = permissionsFor(config);
  const answers = await Promise.all(
    needed.map((x) =>
      cluster.call(
        {
          verb: 'create',
          resource: 'selfsubjectaccessreviews.authorization.k8s.io',
          namespace: cluster.namespace,
        },
        () =>
          api.createSelfSubjectAccessReview({
            body: {
              spec: {
                resourceAttributes: {
                  namespace: cluster.namespace,
                  verb: x.verb,
                  group: x.group,
                  resource: x.resource,
                  ...(x.subresource ? { subresource: x.subresource } : {}),
                },
              },
            },
          }),
      ),
    ),
  );
  const missing = needed.filter((_, i) => !answers[i]!.status?.allowed);
  if (missing.length)
    throw new KubeForbiddenError(
      `forbidden: shipgate's credentials may not ${missing.map((x) => `${x.verb} ${resourceName(x)}`).join(', ')} ` +
        `in namespace ${cluster.namespace} (RBAC: grant ${grants(missing)}; see docs/kubernetes-role.yaml). ` +
        `Strategy ${config.strategy} needs them; nothing was changed`,
    );
}
