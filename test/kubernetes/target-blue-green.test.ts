/**
 * The kubernetes target's blue-green strategy on a real control plane (scripts/kube-plane.sh), the way the
 * teams run it by hand: Service `app` selecting `color: blue` in front of Deployment `app-blue`. The target runs
 * as a ServiceAccount bound to exactly the documented Role (docs/kubernetes-role.yaml); kubectl runs as the
 * plane's admin. Checks go to the loopback version reporter (pods run no containers here), which answers with
 * the version of the pods a Service's ready endpoints are.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CanaryFailedError } from '../../src/targets/errors.js';
import { KubeRefusedError } from '../../src/targets/kubernetes/errors.js';
import type { DeploymentTarget } from '../../src/targets/types.js';
import {
  deploymentYaml,
  getDeployment,
  getJson,
  getService,
  image,
  imageIn,
  kubectl,
  namespaceWith,
  openTarget,
  request,
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

const KEEP_MS = 600_000;
const blueGreen = (version: string) => request(version, { strategy: 'blue-green', keepPreviousMs: KEEP_MS });
const blue = { app: 'app', color: 'blue' };

async function blueGreenTarget(
  ns: string,
  serviceSelector: Record<string, string> = blue,
): Promise<DeploymentTarget> {
  await namespaceWith(
    bed,
    ns,
    deploymentYaml('app-blue', { labels: blue, image: image('1.0.0'), version: '1.0.0' }) +
      serviceYaml('app', serviceSelector),
  );
  const kubeconfig = await bed.plane.serviceAccountKubeconfig(ns, 'shipgate');
  await kubectl(bed, ['-n', ns, 'rollout', 'status', 'deployment/app-blue', '--timeout=90s']);
  return openTarget(
    targetConfig({
      namespace: ns,
      kubeconfig,
      strategy: 'blue-green',
      service: 'app',
      url: `${bed.reporter.url}/${ns}/app`,
      previewUrl: `${bed.reporter.url}/${ns}/app-preview`,
      progressDeadline: '5s',
    }),
  );
}

describe('blue-green deploys, as a ServiceAccount bound to exactly the documented Role', () => {
  const ns = 'bg';
  let target: DeploymentTarget;

  beforeAll(async () => {
    target = await blueGreenTarget(ns);
  });

  it('deploys 1.1.0 to a new app-green, checks it alone through app-preview while blue still takes the traffic, then switches the selector', async () => {
    const seen: unknown[] = [];
    const started = Date.now();
    const result = await target.activate(blueGreen('1.1.0'), {
      checkStep: async (percent, preview) => {
        const green = await getDeployment(bed, ns, 'app-green');
        seen.push({
          percent,
          preview: await versionAt(preview),
          main: await versionBehind(bed, ns, 'app'),
          previewSelector: (await getService(bed, ns, 'app-preview')).spec.selector,
          serviceSelector: (await getService(bed, ns, 'app')).spec.selector,
          greenAvailable: green.status?.availableReplicas,
        });
      },
    });
    const ended = Date.now();
    expect(seen).toEqual([
      {
        percent: 0,
        preview: '1.1.0',
        main: '1.0.0',
        previewSelector: { app: 'app', color: 'green' },
        serviceSelector: blue,
        greenAvailable: 2,
      },
    ]);
    expect(result).toEqual({
      serving: '1.1.0',
      previous: '1.0.0',
      alreadyServing: false,
      warm: false,
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });

    expect((await getService(bed, ns, 'app')).spec.selector).toEqual({ app: 'app', color: 'green' });
    expect(await versionAt(target.probe)).toBe('1.1.0');
    const green = await getDeployment(bed, ns, 'app-green');
    expect(imageIn(green)).toBe(image('1.1.0'));
    expect(versionIn(green)).toBe('1.1.0');
    expect(green.spec.replicas).toBe(2);
    expect(green.spec.selector.matchLabels).toEqual({ app: 'app', color: 'green' });
    expect(green.spec.template.metadata?.labels).toEqual({ app: 'app', color: 'green' });

    // The old colour stays scaled for keepPrevious, and says until when.
    const old = await getDeployment(bed, ns, 'app-blue');
    expect(old.spec.replicas).toBe(2);
    expect(versionIn(old)).toBe('1.0.0');
    const keepUntil = Date.parse(old.metadata.annotations?.['shipgate.dev/keep-until'] ?? '');
    expect(keepUntil).toBeGreaterThanOrEqual(started + KEEP_MS - 1000);
    expect(keepUntil).toBeLessThanOrEqual(ended + KEEP_MS);

    const status = await target.status();
    expect(status?.serving).toBe('1.1.0');
    expect(status?.versions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ version: '1.1.0', weight: 100, alive: true, ready: true }),
        expect.objectContaining({
          version: '1.0.0',
          weight: 0,
          alive: true,
          keepUntil: old.metadata.annotations?.['shipgate.dev/keep-until'],
        }),
      ]),
    );
  });

  it('answers a repeated activation of 1.1.0 as alreadyServing, changing nothing', async () => {
    const before = await getDeployment(bed, ns, 'app-green');
    expect(await target.activate(blueGreen('1.1.0'))).toEqual({
      serving: '1.1.0',
      previous: null,
      alreadyServing: true,
      warm: false,
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect((await getDeployment(bed, ns, 'app-green')).metadata.generation).toBe(before.metadata.generation);
  });

  it('names the selector as drift when someone patches the Service back to blue by hand', async () => {
    const expected = { version: '1.1.0', artifact: image('1.1.0') };
    expect(await target.drift!(expected)).toEqual([]);
    await kubectl(bed, ['-n', ns, 'patch', 'service', 'app', '-p', '{"spec":{"selector":{"color":"blue"}}}']);
    const found = await target.drift!(expected);
    expect(found).toContainEqual({
      what: 'selector',
      object: 'service/app',
      expected: 'deployment/app-green',
      actual: 'deployment/app-blue',
    });
    await kubectl(bed, [
      '-n',
      ns,
      'patch',
      'service',
      'app',
      '-p',
      '{"spec":{"selector":{"color":"green"}}}',
    ]);
    expect(await target.drift!(expected)).toEqual([]);
  });

  it('rolls back warm to 1.0.0 by switching only the selector', async () => {
    const before = {
      blue: await getDeployment(bed, ns, 'app-blue'),
      green: await getDeployment(bed, ns, 'app-green'),
    };
    const result = await target.activate(blueGreen('1.0.0'));
    expect(result).toEqual({
      serving: '1.0.0',
      previous: '1.1.0',
      alreadyServing: false,
      warm: true,
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect((await getService(bed, ns, 'app')).spec.selector).toEqual(blue);
    expect(await versionAt(target.probe)).toBe('1.0.0');
    // Neither Deployment's spec changed: no rollout, no scaling (an annotation still bumps a Deployment's
    // generation, so the spec itself is compared).
    for (const name of ['blue', 'green'] as const) {
      const now = await getDeployment(bed, ns, `app-${name}`);
      expect(now.spec).toEqual(before[name].spec);
    }
    // 1.1.0 is now the warm one; 1.0.0 serves and is kept for no deadline.
    const green = await getDeployment(bed, ns, 'app-green');
    expect(green.spec.replicas).toBe(2);
    const keepUntil = green.metadata.annotations?.['shipgate.dev/keep-until'];
    expect(keepUntil).toBeTruthy();
    const status = await target.status();
    expect(status?.serving).toBe('1.0.0');
    expect(status?.versions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ version: '1.0.0', weight: 100, keepUntil: null }),
        expect.objectContaining({ version: '1.1.0', weight: 0, keepUntil }),
      ]),
    );
  });

  it('keeps the idle colour until its keep-until, then reap() scales it to zero', async () => {
    const keepUntil = (await getDeployment(bed, ns, 'app-green')).metadata.annotations?.[
      'shipgate.dev/keep-until'
    ];
    await target.reap(new Date(Date.parse(keepUntil!) - 1000));
    expect((await getDeployment(bed, ns, 'app-green')).spec.replicas).toBe(2);
    await target.reap(new Date(Date.parse(keepUntil!) + 1000));
    expect((await getDeployment(bed, ns, 'app-green')).spec.replicas).toBe(0);
    expect((await getDeployment(bed, ns, 'app-blue')).spec.replicas).toBe(2);
    expect(await versionAt(target.probe)).toBe('1.0.0');
  });

  it('leaves the traffic on blue and scales green to zero when the check before the switch fails', async () => {
    const blueBefore = await getDeployment(bed, ns, 'app-blue');
    let checked = 0;
    const err = await target
      .activate(blueGreen('1.2.0'), {
        checkStep: async (_, preview) => {
          checked++;
          expect(await versionAt(preview)).toBe('1.2.0');
          throw new Error('GET /checkout answered 500, expected 200');
        },
      })
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect(checked).toBe(1);
    expect(err).toBeInstanceOf(CanaryFailedError);
    expect(err!.message).toContain('1.2.0 failed its checks before the switch: GET /checkout answered 500');
    expect((await getService(bed, ns, 'app')).spec.selector).toEqual(blue);
    expect(await versionAt(target.probe)).toBe('1.0.0');
    expect((await getDeployment(bed, ns, 'app-green')).spec.replicas).toBe(0);
    const blueAfter = await getDeployment(bed, ns, 'app-blue');
    expect(blueAfter.spec).toEqual(blueBefore.spec);
    await until(
      'green has no pods left',
      async () => (await getDeployment(bed, ns, 'app-green')).status?.replicas ?? 0,
      0,
    );
  });
});

describe('a Service whose selector fits neither colour', () => {
  it.each([
    ['selects no colour', 'bg-nocolour', { app: 'app' }, /expected a "color" of blue or green/],
    [
      'selects another colour',
      'bg-purple',
      { app: 'app', color: 'purple' },
      /expected a "color" of blue or green/,
    ],
    [
      "would not select the colours' pods",
      'bg-other',
      { app: 'other', color: 'blue' },
      /would not select deployment app-blue's pods .*differ on app/,
    ],
  ])('is refused before anything changes when it %s', async (_, ns, selector, message) => {
    const target = await blueGreenTarget(ns, selector);
    const before = {
      service: await getService(bed, ns, 'app'),
      blue: await getDeployment(bed, ns, 'app-blue'),
    };
    const err = await target.activate(blueGreen('1.1.0')).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(KubeRefusedError);
    expect(err!.message).toContain(`service ${ns}/app`);
    expect(err!.message).toContain(JSON.stringify(selector));
    expect(err!.message).toMatch(message);
    expect(err!.message).toContain('refusing to switch');
    expect((await getService(bed, ns, 'app')).metadata.resourceVersion).toBe(
      before.service.metadata.resourceVersion,
    );
    const blueAfter = await getDeployment(bed, ns, 'app-blue');
    expect(blueAfter.metadata.generation).toBe(before.blue.metadata.generation);
    expect(blueAfter.metadata.annotations).toEqual(before.blue.metadata.annotations);
    const names = (kind: string) =>
      getJson<{ items: { metadata: { name: string } }[] }>(bed, ns, kind).then((l) =>
        l.items.map((i) => i.metadata.name).sort(),
      );
    expect(await names('deployments')).toEqual(['app-blue']);
    expect(await names('services')).toEqual(['app']);
    expect(await names('controllerrevisions')).toEqual([]);
  });
});
