import { createHash } from 'node:crypto';
/**
 * The kubernetes target's rolling strategy on a real control plane (scripts/kube-plane.sh): what a user sees
 * with kubectl after each activation, a version that never becomes Ready, a rollback to a version 50 deploys
 * back, and drift made by hand with kubectl. The target runs as a ServiceAccount bound to exactly the
 * documented Role (docs/kubernetes-role.yaml); kubectl runs as the plane's admin, like the person at the
 * keyboard. Checks go to the loopback version reporter, which answers with the version the Service selects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotReadyError } from '../../src/targets/errors.js';
import type { DeploymentTarget } from '../../src/targets/types.js';
import type { PodTemplate } from '../../src/targets/kubernetes/types.js';
import {
  deploymentYaml,
  getDeployment,
  getJson,
  image,
  imageIn,
  kubectl,
  namespaceWith,
  openTarget,
  pods,
  request,
  rolledOut,
  serviceYaml,
  startBed,
  targetConfig,
  until,
  versionAt,
  versionIn,
  type Bed,
  type ManagedField,
} from './target-fixture.js';

let bed: Bed;

beforeAll(async () => {
  bed = await startBed();
}, 180_000);

afterAll(async () => {
  await bed?.stop();
});

/** A rolling target in `ns` whose credentials are a ServiceAccount token bound to the documented Role. */
async function rollingTarget(ns: string, yaml: string): Promise<DeploymentTarget> {
  await namespaceWith(bed, ns, yaml + serviceYaml('app', { app: 'app' }));
  const kubeconfig = await bed.plane.serviceAccountKubeconfig(ns, 'shipgate');
  return openTarget(
    targetConfig({
      namespace: ns,
      kubeconfig,
      service: 'app',
      url: `${bed.reporter.url}/${ns}/app`,
      progressDeadline: '5s',
    }),
  );
}

/** Whether `fields` (managedFields' fieldsV1) holds the nested path. */
function owns(fields: Record<string, unknown> | undefined, path: string[]): boolean {
  let at: unknown = fields;
  for (const key of path) {
    if (!at || typeof at !== 'object' || !(key in at)) return false;
    at = (at as Record<string, unknown>)[key];
  }
  return true;
}

const APP_CONTAINER = 'k:{"name":"app"}';

describe('rolling deploys, as a ServiceAccount bound to exactly the documented Role', () => {
  const ns = 'rolling';
  let target: DeploymentTarget;

  beforeAll(async () => {
    target = await rollingTarget(ns, deploymentYaml('app'));
    await rolledOut(bed, ns, 'app');
  });

  it('rolls the Deployment to 1.0.0 then 1.1.0: image, version, release and change-cause as shipgate applied them', async () => {
    for (const [version, previous] of [
      ['1.0.0', null],
      ['1.1.0', '1.0.0'],
    ] as const) {
      const progress: string[] = [];
      const result = await target.activate(
        request(version, { releaseId: `rel-${version}`, changeCause: `deploy ${version} by alice` }),
        { progress: (m) => progress.push(m) },
      );
      // The digest is the one the cluster reports for the pods (the plane's kwok derives it from the reference).
      const digest = `sha256:${createHash('sha256').update(image(version)).digest('hex')}`;
      expect(result).toEqual({ serving: version, previous, alreadyServing: false, warm: false, digest });
      expect(progress).toContain(`rolling app to ${version}`);

      const d = await getDeployment(bed, ns, 'app');
      expect(imageIn(d)).toBe(image(version));
      // Only shipgate's container changes; the sidecar keeps its image.
      expect(imageIn(d, 'log-shipper')).toBe('registry.example.com/log-shipper:3');
      expect(d.spec.template.metadata?.annotations).toMatchObject({
        'shipgate.dev/version': version,
        'shipgate.dev/release': `rel-${version}`,
      });
      expect(d.metadata.annotations?.['kubernetes.io/change-cause']).toBe(`deploy ${version} by alice`);
      // Server-side apply as field manager shipgate: it owns exactly the image and its annotations.
      const mine = d.metadata.managedFields?.find(
        (m: ManagedField) => m.manager === 'shipgate' && m.operation === 'Apply',
      );
      expect(mine, JSON.stringify(d.metadata.managedFields)).toBeDefined();
      const f = mine!.fieldsV1;
      expect(owns(f, ['f:spec', 'f:template', 'f:spec', 'f:containers', APP_CONTAINER, 'f:image'])).toBe(
        true,
      );
      expect(owns(f, ['f:spec', 'f:template', 'f:metadata', 'f:annotations', 'f:shipgate.dev/version'])).toBe(
        true,
      );
      expect(owns(f, ['f:metadata', 'f:annotations', 'f:kubernetes.io/change-cause'])).toBe(true);
      expect(owns(f, ['f:spec', 'f:template', 'f:spec', 'f:containers', APP_CONTAINER, 'f:ports'])).toBe(
        false,
      );

      await rolledOut(bed, ns, 'app');
      const running = await until(
        `the pods of ${ns}/app run ${version} only`,
        async () => [...new Set((await pods(bed, ns, 'app=app')).map((p) => p.spec.containers[0]?.image))],
        [image(version)],
      );
      expect(running).toEqual([image(version)]);
      await until(`the Service answers ${version}`, () => versionAt(target.probe), version);
    }
  });

  it('answers a repeated activation of the serving version as alreadyServing, changing nothing (an idempotent retry)', async () => {
    const before = await getDeployment(bed, ns, 'app');
    const result = await target.activate(request('1.1.0', { releaseId: 'rel-1.1.0' }));
    expect(result).toEqual({
      serving: '1.1.0',
      previous: null,
      alreadyServing: true,
      warm: false,
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    const after = await getDeployment(bed, ns, 'app');
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.spec.template).toEqual(before.spec.template);
  });

  it("reports status and liveness from the Deployment's available replicas", async () => {
    expect(await target.status()).toEqual({
      app: 'app',
      env: 'production',
      reachable: true,
      serving: '1.1.0',
      versions: [
        {
          version: '1.1.0',
          alive: true,
          ready: true,
          weight: 100,
          keepUntil: null,
          startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        },
      ],
    });
    expect(await target.liveness('1.1.0')).toBeNull();
  });

  it('fails a version whose pods never become Ready with ProgressDeadlineExceeded, and 1.1.0 serves again', async () => {
    const progress: string[] = [];
    const err = await target
      .activate(request('2.0.0', { artifact: image('2.0.0-never-ready') }), {
        progress: (m) => progress.push(m),
      })
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect(err).toBeInstanceOf(NotReadyError);
    expect(err!.message).toContain('ProgressDeadlineExceeded');
    expect(err!.message).toContain('the previous pod template (1.1.0) was restored');
    expect(progress).toContain('restoring 1.1.0 on app');

    // What served before serves again: its template, rolled out, and no pod of the broken image left.
    const d = await getDeployment(bed, ns, 'app');
    expect(imageIn(d)).toBe(image('1.1.0'));
    expect(versionIn(d)).toBe('1.1.0');
    await rolledOut(bed, ns, 'app');
    await until(
      'only 1.1.0 pods run, all Ready',
      async () =>
        (await pods(bed, ns, 'app=app')).map((p) => [
          p.spec.containers[0]?.image,
          p.status.conditions?.find((c) => c.type === 'Ready')?.status,
        ]),
      [
        [image('1.1.0'), 'True'],
        [image('1.1.0'), 'True'],
      ],
    );
    await until('the Service answers 1.1.0', () => versionAt(target.probe), '1.1.0');
    expect((await target.status())?.serving).toBe('1.1.0');
  });
});

describe('a rollback to a version 50 deploys back', () => {
  const ns = 'history';
  let target: DeploymentTarget;
  const v = (n: number) => `1.0.${n}`;

  beforeAll(async () => {
    target = await rollingTarget(
      ns,
      deploymentYaml('app', { replicas: 1, revisionHistoryLimit: 10, env: { MODE: 'classic' } }),
    );
    await rolledOut(bed, ns, 'app');
  });

  it('restores the whole pod template #1 ran with, which kubectl rollout undo can no longer reach', async () => {
    await target.activate(request(v(1), { releaseId: 'rel-1' }));
    const first = await getDeployment(bed, ns, 'app');
    const firstRevision = first.metadata.annotations?.['deployment.kubernetes.io/revision'];
    expect(firstRevision).toBeDefined();
    const firstTemplate = first.spec.template;

    // Someone changes the template by hand after #1; every later deploy keeps that change (shipgate applies
    // only the image and its annotations).
    await kubectl(bed, ['-n', ns, 'set', 'env', 'deployment/app', 'MODE=modern', 'FEATURE_X=on']);
    await rolledOut(bed, ns, 'app');
    for (let n = 2; n <= 51; n++) await target.activate(request(v(n), { releaseId: `rel-${n}` }));
    const latest = await getDeployment(bed, ns, 'app');
    expect(versionIn(latest)).toBe(v(51));
    expect(latest.spec.template.spec?.containers[0]?.env).toEqual([
      { name: 'MODE', value: 'modern' },
      { name: 'FEATURE_X', value: 'on' },
    ]);

    // revisionHistoryLimit 10: #1's ReplicaSet is gone, so kubectl cannot go back to it.
    const sets = await getJson<{ items: { spec: { template: PodTemplate } }[] }>(bed, ns, 'replicasets');
    expect(sets.items.length).toBeLessThanOrEqual(11);
    expect(
      sets.items.filter((rs) => rs.spec.template.metadata?.annotations?.['shipgate.dev/version'] === v(1)),
    ).toEqual([]);
    const undo = await bed.plane.kubectl([
      '-n',
      ns,
      'rollout',
      'undo',
      'deployment/app',
      `--to-revision=${firstRevision}`,
    ]);
    expect(undo.code).not.toBe(0);
    expect(undo.stderr).toContain(`unable to find specified revision ${firstRevision} in history`);

    const result = await target.activate(
      request(v(1), { releaseId: 'rel-rollback', changeCause: `rollback to ${v(1)} by bob: 51 is slow` }),
    );
    expect(result).toEqual({
      serving: v(1),
      previous: v(51),
      alreadyServing: false,
      warm: false,
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    await rolledOut(bed, ns, 'app');
    const back = await getDeployment(bed, ns, 'app');
    // The whole template #1 ran with (its env, sidecar, ports, labels...), not only its image; the release
    // annotation names the rollback.
    const withoutRelease = (t: PodTemplate) => {
      const copy = structuredClone(t);
      delete copy.metadata?.annotations?.['shipgate.dev/release'];
      return copy;
    };
    expect(withoutRelease(back.spec.template)).toEqual(withoutRelease(firstTemplate));
    expect(back.spec.template.spec?.containers[0]?.env).toEqual([{ name: 'MODE', value: 'classic' }]);
    expect(back.spec.template.metadata?.annotations?.['shipgate.dev/release']).toBe('rel-rollback');
    expect(back.metadata.annotations?.['kubernetes.io/change-cause']).toBe(
      `rollback to ${v(1)} by bob: 51 is slow`,
    );
    await until('the Service answers #1', () => versionAt(target.probe), v(1));
  }, 900_000);
});

describe('drift made by hand with kubectl', () => {
  const ns = 'drift';
  let target: DeploymentTarget;
  const expected = { version: '1.0.0', artifact: image('1.0.0') };

  beforeAll(async () => {
    target = await rollingTarget(ns, deploymentYaml('app', { replicas: 1 }));
    await target.activate(request('1.0.0'));
  });

  it('finds none while the Deployment runs what the ledger says', async () => {
    expect(await target.drift!(expected)).toEqual([]);
  });

  it('names the image, expected and actual, after kubectl set image; redeploying puts the recorded template back', async () => {
    await kubectl(bed, ['-n', ns, 'set', 'image', 'deployment/app', `app=${image('1.0.0-patched')}`]);
    expect(await target.drift!(expected)).toEqual([
      { what: 'image', object: 'deployment/app', expected: image('1.0.0'), actual: image('1.0.0-patched') },
    ]);
    const result = await target.activate(request('1.0.0'));
    expect(result.alreadyServing).toBe(false);
    expect(imageIn(await getDeployment(bed, ns, 'app'))).toBe(image('1.0.0'));
    expect(await target.drift!(expected)).toEqual([]);
  });

  it('names the replicas after kubectl scale --replicas=0, and liveness says 1.0.0 has no available replicas', async () => {
    await kubectl(bed, ['-n', ns, 'scale', 'deployment/app', '--replicas=0']);
    await rolledOut(bed, ns, 'app');
    expect(await target.drift!(expected)).toEqual([
      { what: 'replicas', object: 'deployment/app', expected: 'at least 1', actual: '0' },
    ]);
    expect(await target.liveness('1.0.0')).toContain('1.0.0 has no available replicas');
    await kubectl(bed, ['-n', ns, 'scale', 'deployment/app', '--replicas=1']);
    await rolledOut(bed, ns, 'app');
    expect(await target.drift!(expected)).toEqual([]);
    expect(await target.liveness('1.0.0')).toBeNull();
  });

  it('names the template after kubectl set env', async () => {
    await kubectl(bed, ['-n', ns, 'set', 'env', 'deployment/app', 'DEBUG=1']);
    expect(await target.drift!(expected)).toEqual([
      {
        what: 'template',
        object: 'deployment/app',
        expected: 'the pod template it rolled out with',
        actual: expect.stringContaining('spec.containers[0].env'),
      },
    ]);
  });

  it('adopts a hand-edited template of the serving version, so the edit is no longer drift', async () => {
    await rolledOut(bed, ns, 'app');
    expect(await target.adopt!()).toEqual(expected);
    expect(await target.drift!(expected)).toEqual([]);
  });

  it('adopts what runs: the version read from the image under the build template, its template recorded', async () => {
    await kubectl(bed, ['-n', ns, 'set', 'image', 'deployment/app', `app=${image('1.0.1-hotfix')}`]);
    await rolledOut(bed, ns, 'app');
    const adopted = await target.adopt!();
    expect(adopted).toEqual({ version: '1.0.1-hotfix', artifact: image('1.0.1-hotfix') });
    // The live template, hand-set env included, is now what 1.0.1-hotfix runs with.
    expect(await target.drift!(adopted)).toEqual([]);
    const revisions = await getJson<{
      items: { data: { version: string; image: string; template: PodTemplate } }[];
    }>(bed, ns, 'controllerrevisions');
    const recorded = revisions.items.find((r) => r.data.version === '1.0.1-hotfix');
    expect(recorded?.data.image).toBe(image('1.0.1-hotfix'));
    expect(recorded?.data.template.spec?.containers[0]?.env).toEqual([{ name: 'DEBUG', value: '1' }]);
    // A later hand edit is drift against the adopted template.
    await kubectl(bed, ['-n', ns, 'set', 'env', 'deployment/app', 'DEBUG-']);
    expect((await target.drift!(adopted)).map((f) => f.what)).toEqual(['template']);
  });

  it('adopts an image that fits no build template under a name derived from the image', async () => {
    await kubectl(bed, ['-n', ns, 'set', 'image', 'deployment/app', 'app=other.example.com/thing:latest']);
    const adopted = await target.adopt!();
    expect(adopted.version).toMatch(/^adopted-[0-9a-f]{12}$/);
    expect(adopted.artifact).toBe('other.example.com/thing:latest');
    expect(await target.drift!(adopted)).toEqual([]);
  });
});
