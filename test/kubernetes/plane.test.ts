/**
 * The Kubernetes test bed itself: what every Kubernetes test relies on, proved against the real control plane
 * scripts/kube-plane.sh starts (real apiserver, controllers and scheduler; kwok plays the kubelet).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shipgateRole, startKubePlane, type KubePlane } from '../helpers/kube-plane.js';

let plane: KubePlane;

beforeAll(async () => {
  plane = await startKubePlane();
}, 180_000);

afterAll(async () => {
  await plane?.stop();
});

interface Condition {
  type: string;
  status: string;
  reason?: string;
}

async function json<T>(args: string[]): Promise<T> {
  const r = await plane.kubectl([...args, '-o', 'json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
}

function deployment(
  name: string,
  opts: { annotations?: Record<string, string>; progressDeadlineSeconds?: number } = {},
) {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 2,
      progressDeadlineSeconds: opts.progressDeadlineSeconds,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: opts.annotations },
        spec: { containers: [{ name: 'web', image: `registry.example.com/${name}:1.0.0` }] },
      },
    },
  });
}

describe('a fresh control plane', () => {
  it('has one Ready node that pods can be scheduled on', async () => {
    const nodes = await json<{
      items: { metadata: { name: string }; status: { conditions: Condition[] } }[];
    }>(['get', 'nodes']);
    expect(nodes.items.map((n) => n.metadata.name)).toEqual(['kwok-node-0']);
    expect(nodes.items[0]?.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Ready', status: 'True' }),
    );
  });

  it('serves the Gateway API HTTPRoute resource and keeps the backend weights written to it', async () => {
    const crd = await json<{ status: { conditions: Condition[] } }>([
      'get',
      'crd',
      'httproutes.gateway.networking.k8s.io',
    ]);
    expect(crd.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Established', status: 'True' }),
    );
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'checkout', namespace: 'default' },
      spec: {
        parentRefs: [{ name: 'edge' }],
        rules: [
          {
            backendRefs: [
              { name: 'checkout-stable', port: 80, weight: 90 },
              { name: 'checkout-canary', port: 80, weight: 10 },
            ],
          },
        ],
      },
    };
    const applied = await plane.kubectl(['apply', '--server-side', '-f', '-'], {
      input: JSON.stringify(route),
    });
    expect(applied.stderr).toBe('');
    const read = await json<typeof route>(['get', 'httproute', 'checkout']);
    expect(read.spec.rules[0]?.backendRefs.map((b) => [b.name, b.weight])).toEqual([
      ['checkout-stable', 90],
      ['checkout-canary', 10],
    ]);
  });

  it('gives a kubectl for the plane that needs no kubeconfig of its own', async () => {
    const env = { ...process.env };
    delete env.KUBECONFIG;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(plane.kubectlPath, ['get', 'namespace', 'default', '-o', 'name'], { env }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    expect(out.trim()).toBe('namespace/default');
  });
});

describe('Deployments on the plane', () => {
  beforeAll(async () => {
    await plane.createNamespace('rollouts');
  });

  it('roll out: every pod of a new Deployment becomes Ready and the rollout completes', async () => {
    expect(
      (await plane.kubectl(['-n', 'rollouts', 'apply', '-f', '-'], { input: deployment('web') })).code,
    ).toBe(0);
    const status = await plane.kubectl([
      '-n',
      'rollouts',
      'rollout',
      'status',
      'deployment/web',
      '--timeout=60s',
    ]);
    expect(status.stdout).toContain('successfully rolled out');
    expect(status.code).toBe(0);
    const pods = await json<{ items: { status: { phase: string; conditions: Condition[] } }[] }>([
      '-n',
      'rollouts',
      'get',
      'pods',
      '-l',
      'app=web',
    ]);
    expect(pods.items).toHaveLength(2);
    for (const p of pods.items) {
      expect(p.status.phase).toBe('Running');
      expect(p.status.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True' }));
    }
  });

  it('keep pods annotated kwok.x-k8s.io/never-ready unready, so the rollout exceeds its progress deadline', async () => {
    const stuck = deployment('stuck', {
      annotations: { 'kwok.x-k8s.io/never-ready': 'true' },
      progressDeadlineSeconds: 3,
    });
    expect((await plane.kubectl(['-n', 'rollouts', 'apply', '-f', '-'], { input: stuck })).code).toBe(0);
    const status = await plane.kubectl([
      '-n',
      'rollouts',
      'rollout',
      'status',
      'deployment/stuck',
      '--timeout=60s',
    ]);
    expect(status.stderr).toContain('exceeded its progress deadline');
    expect(status.code).toBe(1);
    const d = await json<{ status: { conditions: Condition[]; readyReplicas?: number } }>([
      '-n',
      'rollouts',
      'get',
      'deployment',
      'stuck',
    ]);
    expect(d.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }),
    );
    expect(d.status.readyReplicas ?? 0).toBe(0);
    const pods = await json<{ items: { status: { phase: string; conditions: Condition[] } }[] }>([
      '-n',
      'rollouts',
      'get',
      'pods',
      '-l',
      'app=stuck',
    ]);
    expect(pods.items).toHaveLength(2);
    for (const p of pods.items) {
      expect(p.status.phase).toBe('Running');
      expect(p.status.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'False' }));
    }
  });
});

describe('RBAC with the documented Role', () => {
  let kubeconfig: string;

  beforeAll(async () => {
    await plane.createNamespace('app');
    await plane.createNamespace('other');
    for (const ns of ['app', 'other']) {
      const r = await plane.kubectl(['-n', ns, 'apply', '-f', '-'], { input: deployment('checkout') });
      expect(r.stderr).toBe('');
    }
    kubeconfig = await plane.serviceAccountKubeconfig('app', 'shipgate');
  });

  it('authenticates as the ServiceAccount with a bearer token, not a client certificate', async () => {
    const file = await readFile(kubeconfig, 'utf8');
    expect(file).toMatch(/token: /);
    expect(file).not.toMatch(/client-certificate|client-key/);
    const who = await plane.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], {
      kubeconfig,
    });
    expect(who.stdout).toBe('system:serviceaccount:app:shipgate');
  });

  it('lets the ServiceAccount patch Deployments and write HTTPRoutes in its own namespace', async () => {
    const patch = await plane.kubectl(
      [
        '-n',
        'app',
        'patch',
        'deployment',
        'checkout',
        '-p',
        '{"metadata":{"annotations":{"shipgate.dev/v":"2"}}}',
      ],
      { kubeconfig },
    );
    expect(patch.stderr).toBe('');
    expect(patch.code).toBe(0);
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'checkout' },
      spec: { rules: [{ backendRefs: [{ name: 'checkout', port: 80, weight: 100 }] }] },
    };
    // The app's team owns its HTTPRoute; shipgate only shifts its weights.
    const created = await plane.kubectl(['-n', 'app', 'create', '-f', '-'], { input: JSON.stringify(route) });
    expect(created.code, created.stderr).toBe(0);
    const weights = await plane.kubectl(
      [
        '-n',
        'app',
        'patch',
        'httproute',
        'checkout',
        '--type=merge',
        '-p',
        JSON.stringify({ spec: route.spec }),
      ],
      { kubeconfig },
    );
    expect(weights.stderr).toBe('');
    expect(weights.code).toBe(0);
  });

  it('forbids the same patch in another namespace, naming the resource and namespace', async () => {
    const r = await plane.kubectl(
      ['-n', 'other', 'patch', 'deployment', 'checkout', '-p', '{"metadata":{"annotations":{"x":"y"}}}'],
      { kubeconfig },
    );
    expect(r.code).not.toBe(0);
    // kubectl reads the object before patching it, so the first refusal it meets is the read.
    expect(r.stderr).toContain(
      'User "system:serviceaccount:app:shipgate" cannot get resource "deployments" in API group "apps" in the namespace "other"',
    );
    const untouched = await plane.kubectl(['-n', 'other', 'get', 'deployment', 'checkout', '-o', 'json']);
    expect(JSON.parse(untouched.stdout).metadata.annotations?.x).toBeUndefined();
  });

  it('forbids a verb the Role does not grant, naming the verb and resource', async () => {
    const role = await shipgateRole('app', { without: { verb: 'patch', resource: 'deployments' } });
    expect(role.rules.find((r) => r.resources.includes('deployments'))?.verbs).not.toContain('patch');
    const limited = await plane.serviceAccountKubeconfig('app', 'no-patch', role);
    const r = await plane.kubectl(
      ['-n', 'app', 'patch', 'deployment', 'checkout', '-p', '{"metadata":{"annotations":{"x":"y"}}}'],
      { kubeconfig: limited },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      'User "system:serviceaccount:app:no-patch" cannot patch resource "deployments" in API group "apps"',
    );
    // Everything else the Role grants still works.
    const get = await plane.kubectl(['-n', 'app', 'get', 'deployment', 'checkout', '-o', 'name'], {
      kubeconfig: limited,
    });
    expect(get.stdout.trim()).toBe('deployment.apps/checkout');
  });
});

describe('stopping the plane', () => {
  it('leaves none of its processes running and its API port closed', async () => {
    const pids = await plane.pids();
    expect(pids.map((p) => p.name).sort()).toEqual([
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'kwok',
    ]);
    await plane.stop();
    const alive = async (pid: number) => {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
      // A zombie has exited; only its parent's bookkeeping remains.
      return stat !== null && stat.split(') ')[1]?.[0] !== 'Z';
    };
    for (const { name, pid } of pids)
      expect({ name, alive: await alive(pid) }).toEqual({ name, alive: false });
    const port = Number(new URL(plane.apiUrl).port);
    const refused = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
