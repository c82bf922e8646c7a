/**
 * The kubernetes target given bad input, on a real control plane (scripts/kube-plane.sh): each refusal names
 * what to fix, and nothing on the cluster changes. An apiserver that does not answer is a closed loopback
 * port; RBAC is the real apiserver's, with ServiceAccount tokens bound to the documented Role
 * (docs/kubernetes-role.yaml) or to that Role missing one verb.
 */
import { createServer } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { shipgateRole } from '../helpers/kube-plane.js';
import {
  KubeconfigError,
  KubeForbiddenError,
  KubeNotFoundError,
  KubeUnreachableError,
} from '../../src/targets/kubernetes/errors.js';
import {
  deploymentYaml,
  getDeployment,
  getJson,
  image,
  imageIn,
  namespaceWith,
  openTarget,
  request,
  rolledOut,
  serviceYaml,
  startBed,
  targetConfig,
  type Bed,
} from './target-fixture.js';

let bed: Bed;
const ns = 'bad';
let kubeconfig: string;

beforeAll(async () => {
  bed = await startBed();
  await namespaceWith(
    bed,
    ns,
    deploymentYaml('app', { image: image('1.0.0'), version: '1.0.0' }) +
      serviceYaml('app', { app: 'app' }) +
      deploymentYaml('web-blue', {
        labels: { app: 'web', color: 'blue' },
        image: image('1.0.0'),
        version: '1.0.0',
      }) +
      serviceYaml('web', { app: 'web', color: 'blue' }) +
      // A blue-green Service whose colours were never made.
      serviceYaml('shop', { app: 'shop', color: 'blue' }),
  );
  kubeconfig = await bed.plane.serviceAccountKubeconfig(ns, 'shipgate');
  await rolledOut(bed, ns, 'app');
  await rolledOut(bed, ns, 'web-blue');
}, 180_000);

afterAll(async () => {
  await bed?.stop();
});

async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected the activation to fail');
    },
    (e: unknown) => e as Error,
  );
}

/** What the namespace holds that shipgate could have changed, to compare before and after. */
async function snapshot() {
  const list = async (kind: string) =>
    (
      await getJson<{
        items: { metadata: { name: string; generation?: number; annotations?: unknown }; spec?: unknown }[];
      }>(bed, ns, kind)
    ).items
      .map((i) => ({
        name: i.metadata.name,
        generation: i.metadata.generation,
        annotations: i.metadata.annotations,
        spec: i.spec,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  return {
    deployments: await list('deployments'),
    services: await list('services'),
    controllerrevisions: await list('controllerrevisions'),
  };
}

describe('an apiserver that does not answer', () => {
  it('is waited for with progress messages, then named by address in the failure', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const config = parse(await readFile(bed.plane.kubeconfigPath, 'utf8')) as {
      clusters: { cluster: { server: string } }[];
    };
    config.clusters[0]!.cluster.server = `https://127.0.0.1:${port}`;
    const file = path.join(bed.plane.dir, 'closed-port.kubeconfig');
    await writeFile(file, stringify(config));

    const target = openTarget(targetConfig({ namespace: ns, kubeconfig: file }), {
      unreachableTimeoutMs: 1500,
    });
    const progress: string[] = [];
    const err = await failure(target.activate(request('1.1.0'), { progress: (m) => progress.push(m) }));
    expect(err).toBeInstanceOf(KubeUnreachableError);
    expect(err.message).toContain(`the apiserver https://127.0.0.1:${port} did not answer`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain(`in namespace ${ns} was not done`);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toContain(`waiting for the apiserver https://127.0.0.1:${port}`);
  });
});

describe('a kubeconfig that cannot be used is refused when the environment is opened, naming it', () => {
  it('a kubeconfig file that does not exist', () => {
    const missing = path.join(bed.plane.dir, 'no-such.kubeconfig');
    expect(() => openTarget(targetConfig({ namespace: ns, kubeconfig: missing }))).toThrow(KubeconfigError);
    expect(() => openTarget(targetConfig({ namespace: ns, kubeconfig: missing }))).toThrow(
      `environment app/production: cannot load kubeconfig ${missing}: file not found`,
    );
  });

  it('a file that is not a kubeconfig', async () => {
    const file = path.join(bed.plane.dir, 'garbage.kubeconfig');
    await writeFile(file, 'clusters: [unclosed\n');
    expect(() => openTarget(targetConfig({ namespace: ns, kubeconfig: file }))).toThrow(
      new RegExp(`^environment app/production: cannot load kubeconfig ${file}: `),
    );
  });

  it('a kubeconfig that names no cluster', async () => {
    const file = path.join(bed.plane.dir, 'empty.kubeconfig');
    await writeFile(file, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    expect(() => openTarget(targetConfig({ namespace: ns, kubeconfig: file }))).toThrow(
      `environment app/production: kubeconfig ${file} names no cluster server for its current context`,
    );
  });

  it('a context the kubeconfig does not have', () => {
    const open = () =>
      openTarget(targetConfig({ namespace: ns, kubeconfig: bed.plane.kubeconfigPath, context: 'prod-eu' }));
    expect(open).toThrow(KubeconfigError);
    expect(open).toThrow(
      `environment app/production: context "prod-eu" is not in kubeconfig ${bed.plane.kubeconfigPath} (contexts: kube-plane)`,
    );
  });
});

describe('objects that are not there are named, before anything changes', () => {
  it.each([
    ['rolling', { deployment: 'checkout' }, `deployments ${ns}/checkout not found`],
    ['canary', { deployment: 'checkout', service: 'app' }, `deployments ${ns}/checkout not found`],
    [
      'blue-green',
      { deployment: 'shop', service: 'shop' },
      `blue-green needs deployment ${ns}/shop-blue or shop-green (the other is made from it); neither exists`,
    ],
    ['blue-green', { deployment: 'web', service: 'checkout' }, `services ${ns}/checkout not found`],
  ] as const)('%s: %j', async (strategy, fields, message) => {
    const before = await snapshot();
    const target = openTarget(targetConfig({ namespace: ns, kubeconfig, strategy, ...fields }));
    const err = await failure(target.activate(request('1.1.0', { strategy })));
    expect(err).toBeInstanceOf(KubeNotFoundError);
    expect(err.message).toContain(message);
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['rolling', { deployment: 'app' }, `deployment ${ns}/app`],
    ['canary', { deployment: 'app', service: 'app' }, `deployment ${ns}/app`],
    ['blue-green', { deployment: 'web', service: 'web' }, `deployment ${ns}/web-blue`],
  ] as const)(
    '%s: a container that is not in the pod template, listing those that are',
    async (strategy, fields, where) => {
      const before = await snapshot();
      const target = openTarget(
        targetConfig({ namespace: ns, kubeconfig, strategy, container: 'web', ...fields }),
      );
      const err = await failure(target.activate(request('1.1.0', { strategy })));
      expect(err).toBeInstanceOf(KubeNotFoundError);
      expect(err.message).toContain(
        `container "web" is not in ${where}'s pod template (containers: app, log-shipper)`,
      );
      expect(await snapshot()).toEqual(before);
    },
  );
});

describe('RBAC', () => {
  it('a Role without patch on deployments: the deploy fails naming the verb and resource, and nothing changes', async () => {
    const limited = await bed.plane.serviceAccountKubeconfig(
      ns,
      'no-patch',
      await shipgateRole(ns, { without: { verb: 'patch', resource: 'deployments' } }),
    );
    const before = await snapshot();
    const target = openTarget(targetConfig({ namespace: ns, kubeconfig: limited }));
    const err = await failure(target.activate(request('1.1.0')));
    expect(err).toBeInstanceOf(KubeForbiddenError);
    expect(err.message).toContain(`shipgate's credentials may not patch deployments in namespace ${ns}`);
    expect(err.message).toContain('grant "patch" on "deployments"; see docs/kubernetes-role.yaml');
    expect(await snapshot()).toEqual(before);
    expect(imageIn(await getDeployment(bed, ns, 'app'))).toBe(image('1.0.0'));
  });

  it('credentials for another namespace: refused naming the verb, resource and namespace', async () => {
    await bed.plane.createNamespace('elsewhere');
    const foreign = await bed.plane.serviceAccountKubeconfig('elsewhere', 'shipgate');
    const before = await snapshot();
    const target = openTarget(targetConfig({ namespace: ns, kubeconfig: foreign }));
    const err = await failure(target.activate(request('1.1.0')));
    expect(err).toBeInstanceOf(KubeForbiddenError);
    // Every missing permission is named at once, before anything changes.
    expect(err.message).toMatch(
      new RegExp(`may not get deployments, watch deployments, .* in namespace ${ns}`),
    );
    expect(err.message).toContain('"get", "watch", "patch", "update" on "deployments"');
    expect(await snapshot()).toEqual(before);
  });
});
