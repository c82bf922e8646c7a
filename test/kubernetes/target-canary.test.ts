/**
 * The kubernetes target's canary strategy on a real control plane (scripts/kube-plane.sh): by replica ratio
 * between `app` and `app-canary` behind Service `app` (works on any cluster), and by Gateway API HTTPRoute
 * weights (the CRDs are installed in the plane; no data plane is needed to read what shipgate writes). The
 * target runs as a ServiceAccount bound to exactly the documented Role (docs/kubernetes-role.yaml). Checks go
 * to the loopback version reporter, which answers with the version of the pods a Service's ready endpoints are.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CanaryFailedError } from '../../src/targets/errors.js';
import type { DeploymentTarget } from '../../src/targets/types.js';
import {
  deploymentYaml,
  getDeployment,
  getJson,
  image,
  imageIn,
  kubectl,
  namespaceWith,
  openTarget,
  request,
  rolledOut,
  serviceYaml,
  startBed,
  targetConfig,
  until,
  versionAt,
  versionBehind,
  versionIn,
  type Bed,
} from './target-fixture.js';

let bed: Bed;

beforeAll(async () => {
  bed = await startBed();
}, 180_000);

afterAll(async () => {
  await bed?.stop();
});

const canary = (version: string) => request(version, { strategy: 'canary', canarySteps: [25, 50, 100] });

interface Route {
  spec: { parentRefs?: { name: string }[]; rules: { backendRefs: { name: string; weight?: number }[] }[] };
}

const ROUTE = `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app}
spec:
  parentRefs: [{name: edge}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: app, port: 80}]
`;

async function canaryTarget(ns: string, extra: Record<string, unknown> = {}, yaml = '') {
  await namespaceWith(
    bed,
    ns,
    deploymentYaml('app', { replicas: 4, image: image('1.0.0'), version: '1.0.0' }) +
      serviceYaml('app', { app: 'app' }) +
      yaml,
  );
  const kubeconfig = await bed.plane.serviceAccountKubeconfig(ns, 'shipgate');
  await rolledOut(bed, ns, 'app');
  return openTarget(
    targetConfig({
      namespace: ns,
      kubeconfig,
      strategy: 'canary',
      service: 'app',
      url: `${bed.reporter.url}/${ns}/app`,
      previewUrl: `${bed.reporter.url}/${ns}/app-canary`,
      progressDeadline: '5s',
      ...extra,
    }),
  );
}

describe('canary by replica ratio, as a ServiceAccount bound to exactly the documented Role', () => {
  const ns = 'canary';
  let target: DeploymentTarget;

  beforeAll(async () => {
    target = await canaryTarget(ns);
  });

  it('gives app-canary 1 then 2 of 4 replicas, checks the canary alone at each step, then promotes 1.1.0 on app', async () => {
    const seen: unknown[] = [];
    const result = await target.activate(canary('1.1.0'), {
      checkStep: async (percent, probe) => {
        const [stable, c] = [await getDeployment(bed, ns, 'app'), await getDeployment(bed, ns, 'app-canary')];
        seen.push({
          percent,
          canary: [c.spec.replicas, c.status?.availableReplicas, versionIn(c)],
          stable: [stable.spec.replicas, versionIn(stable)],
          answers: await versionAt(probe),
        });
      },
    });
    expect(seen).toEqual([
      { percent: 25, canary: [1, 1, '1.1.0'], stable: [3, '1.0.0'], answers: '1.1.0' },
      { percent: 50, canary: [2, 2, '1.1.0'], stable: [2, '1.0.0'], answers: '1.1.0' },
    ]);
    expect(result).toEqual({
      serving: '1.1.0',
      previous: '1.0.0',
      alreadyServing: false,
      warm: false,
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });

    const stable = await getDeployment(bed, ns, 'app');
    expect(imageIn(stable)).toBe(image('1.1.0'));
    expect(versionIn(stable)).toBe('1.1.0');
    expect(stable.spec.replicas).toBe(4);
    expect((await getDeployment(bed, ns, 'app-canary')).spec.replicas).toBe(0);
    await rolledOut(bed, ns, 'app');
    await until('the Service answers 1.1.0 only', () => versionAt(target.probe), '1.1.0');
    expect((await target.status())?.serving).toBe('1.1.0');
  });

  it('puts all 4 replicas back on app and app-canary to 0 when the check at 50% fails', async () => {
    const err = await target
      .activate(canary('1.2.0'), {
        checkStep: async (percent) => {
          if (percent === 50) throw new Error('GET /checkout answered 500, expected 200');
        },
      })
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect(err).toBeInstanceOf(CanaryFailedError);
    expect(err!.message).toContain('canary 1.2.0 failed at 50%: GET /checkout answered 500');
    const stable = await getDeployment(bed, ns, 'app');
    expect(stable.spec.replicas).toBe(4);
    expect(imageIn(stable)).toBe(image('1.1.0'));
    expect((await getDeployment(bed, ns, 'app-canary')).spec.replicas).toBe(0);
    await rolledOut(bed, ns, 'app');
    await until('the Service answers 1.1.0 only', () => versionBehind(bed, ns, 'app'), '1.1.0');
  });
});

describe('canary by Gateway API HTTPRoute weights', () => {
  const ns = 'canary-gw';
  let target: DeploymentTarget;
  const weights = async () =>
    (await getJson<Route>(bed, ns, 'httproute', 'app')).spec.rules.map((r) =>
      r.backendRefs.map((b) => [b.name, b.weight]),
    );

  beforeAll(async () => {
    target = await canaryTarget(ns, { trafficRouting: 'gateway-api', httpRoute: 'app' }, ROUTE);
  });

  it('sets the weights of app and app-canary to 75/25 then 50/50 while app keeps its 4 replicas, and 100/0 after promotion', async () => {
    const seen: unknown[] = [];
    const result = await target.activate(canary('1.1.0'), {
      checkStep: async (percent, probe) => {
        seen.push({
          percent,
          weights: await weights(),
          stable: (await getDeployment(bed, ns, 'app')).spec.replicas,
          canary: (await getDeployment(bed, ns, 'app-canary')).spec.replicas,
          answers: await versionAt(probe),
        });
      },
    });
    expect(seen).toEqual([
      {
        percent: 25,
        weights: [
          [
            ['app', 75],
            ['app-canary', 25],
          ],
        ],
        stable: 4,
        canary: 1,
        answers: '1.1.0',
      },
      {
        percent: 50,
        weights: [
          [
            ['app', 50],
            ['app-canary', 50],
          ],
        ],
        stable: 4,
        canary: 2,
        answers: '1.1.0',
      },
    ]);
    expect(result).toEqual({
      serving: '1.1.0',
      previous: '1.0.0',
      alreadyServing: false,
      warm: false,
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect(await weights()).toEqual([
      [
        ['app', 100],
        ['app-canary', 0],
      ],
    ]);
    const route = await getJson<Route>(bed, ns, 'httproute', 'app');
    expect(route.spec.parentRefs).toEqual([expect.objectContaining({ name: 'edge' })]);
    const stable = await getDeployment(bed, ns, 'app');
    expect(imageIn(stable)).toBe(image('1.1.0'));
    expect(stable.spec.replicas).toBe(4);
    expect((await getDeployment(bed, ns, 'app-canary')).spec.replicas).toBe(0);
  });

  it('sets the weights back to 100/0 when a step check fails', async () => {
    const err = await target
      .activate(canary('1.2.0'), {
        checkStep: async () => {
          throw new Error('p99 latency 900 ms, expected under 300 ms');
        },
      })
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect(err).toBeInstanceOf(CanaryFailedError);
    expect(err!.message).toContain('canary 1.2.0 failed at 25%');
    expect(await weights()).toEqual([
      [
        ['app', 100],
        ['app-canary', 0],
      ],
    ]);
    expect((await getDeployment(bed, ns, 'app')).spec.replicas).toBe(4);
    expect((await getDeployment(bed, ns, 'app-canary')).spec.replicas).toBe(0);
    expect(imageIn(await getDeployment(bed, ns, 'app'))).toBe(image('1.1.0'));
  });

  it('refuses to shift traffic on a route with no backend for the Service, changing nothing', async () => {
    await kubectl(
      bed,
      ['-n', ns, 'apply', '-f', '-'],
      ROUTE.replace('name: app}', 'name: other}').replace(
        '[{name: app, port: 80}]',
        '[{name: legacy, port: 80}]',
      ),
    );
    const before = await getDeployment(bed, ns, 'app-canary');
    const other = openTarget(
      targetConfig({
        namespace: ns,
        kubeconfig: await bed.plane.serviceAccountKubeconfig(ns, 'shipgate-other'),
        strategy: 'canary',
        service: 'app',
        trafficRouting: 'gateway-api',
        httpRoute: 'other',
        previewUrl: `${bed.reporter.url}/${ns}/app-canary`,
        progressDeadline: '5s',
      }),
    );
    const err = await other.activate(canary('1.3.0')).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain(
      `httproute ${ns}/other has no rule with a backend "app"; refusing to shift traffic`,
    );
    expect(
      (await getJson<Route>(bed, ns, 'httproute', 'other')).spec.rules.map((r) =>
        r.backendRefs.map((b) => b.name),
      ),
    ).toEqual([['legacy']]);
    expect((await getDeployment(bed, ns, 'app')).spec.replicas).toBe(4);
    const after = await getDeployment(bed, ns, 'app-canary');
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.spec).toEqual(before.spec);
  });
});
