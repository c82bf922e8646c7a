/**
 * The whole pipeline on a real Kubernetes control plane (scripts/kube-plane.sh: etcd, kube-apiserver with
 * RBAC, controller-manager, scheduler, kwok as the kubelet): a worker process whose production credentials
 * are a ServiceAccount token bound to exactly the documented Role, the CLI, a Temporal dev server. Pods run no
 * containers here, so checks go to a loopback stand-in that answers with the version the Service selects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startKubePlane, type KubePlane } from '../helpers/kube-plane.js';
import {
  eventually,
  startStack,
  waitForRelease,
  type ExampleConfig,
  type Stack,
} from '../helpers/fixture.js';
import { startWorker } from '../helpers/processes.js';
import { startVersionReporter, type VersionReporter } from '../../src/dev/kube-version-reporter.js';

const STAGING = 'hello-staging';
const PROD = 'hello-prod';
const IMAGE = 'registry.example.com/hello:{{version}}';

function objects(ns: string, blueGreen: boolean): string {
  const labels = blueGreen ? '{app: hello, color: blue}' : '{app: hello}';
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${blueGreen ? 'hello-blue' : 'hello'}, namespace: ${ns}}
spec:
  replicas: 2
  revisionHistoryLimit: 10
  selector: {matchLabels: ${labels}}
  template:
    metadata: {labels: ${labels}}
    spec: {containers: [{name: hello, image: 'registry.example.com/hello:0.9.0', ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: hello, namespace: ${ns}}
spec: {selector: ${labels}, ports: [{port: 80, targetPort: 8080}]}
`;
}

describe('the pipeline on a real Kubernetes control plane', () => {
  let plane: KubePlane;
  let reporter: VersionReporter;
  let stack: Stack;
  let prodKubeconfig: string;

  const kube = (c: ExampleConfig) => {
    c.apps.hello.build = { kind: 'image', image: IMAGE } as never;
    const target = (ns: string, extra: Record<string, unknown>) => ({
      kind: 'kubernetes',
      namespace: ns,
      deployment: 'hello',
      container: 'hello',
      service: 'hello',
      url: `${reporter.url}/${ns}/hello`,
      previewUrl: `${reporter.url}/${ns}/hello-preview`,
      progressDeadline: '8s',
      ...extra,
    });
    c.apps.hello.environments.staging = {
      branches: ['main'],
      target: target(STAGING, { kubeconfig: plane.kubeconfigPath, strategy: 'rolling' }),
      smoke: [{ path: '/version', json: { version: '{{version}}' } }],
    };
    c.apps.hello.environments.production = {
      after: 'staging',
      branches: ['main'],
      // Production's worker holds only a ServiceAccount token with the documented Role.
      target: target(PROD, { kubeconfig: prodKubeconfig, strategy: 'blue-green' }),
      approvals: [{ group: 'team-leads', count: 2 }],
      keepPrevious: '10m',
      driftInterval: '2s',
      smoke: [{ path: '/version', json: { version: '{{version}}' } }],
    };
  };

  beforeAll(async () => {
    plane = await startKubePlane();
    for (const ns of [STAGING, PROD]) {
      await plane.createNamespace(ns);
      const applied = await plane.kubectl(['apply', '-f', '-'], { input: objects(ns, ns === PROD) });
      expect(applied.code, applied.stderr).toBe(0);
    }
    prodKubeconfig = await plane.serviceAccountKubeconfig(PROD, 'shipgate');
    reporter = await startVersionReporter(plane.kubeconfigPath);
    stack = await startStack(kube);
  }, 240_000);

  afterAll(async () => {
    if (process.env.SHOW_WORKER_LOGS) console.log(stack?.worker.logs());
    await stack?.stop();
    await reporter?.close();
    await plane?.stop();
  });

  const get = async (ns: string, what: string, jsonpath: string) => {
    const r = await plane.kubectl(['-n', ns, 'get', what, '-o', `jsonpath=${jsonpath}`]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const answers = async (ns: string) => {
    const res = await fetch(`${reporter.url}/${ns}/hello`);
    return ((await res.json()) as { version: string }).version;
  };
  const ship = async (version: string) => {
    const r = await stack.run([
      ...['release', 'hello', version, '--commit', `c-${version}`, '--branch', 'main', '--actor', 'dave'],
    ]);
    expect(r.code, r.stderr).toBe(0);
    await waitForRelease(stack.sg, version, (s) => s.stage === 'awaiting-approval');
    for (const lead of ['alice', 'bob']) {
      const a = await stack.run(['approve', 'hello', version, '--as', lead]);
      expect(a.code, a.stderr).toBe(0);
    }
    return waitForRelease(stack.sg, version, (s) => s.state !== 'running');
  };

  it('deploys a release to staging by rolling update and to production by blue-green, as the cluster shows', async () => {
    const first = await ship('1.0.0');
    expect(first.state, first.reason ?? '').toBe('succeeded');
    expect(await get(STAGING, 'deploy/hello', '{.spec.template.spec.containers[0].image}')).toBe(
      'registry.example.com/hello:1.0.0',
    );
    expect(
      await get(STAGING, 'deploy/hello', "{.spec.template.metadata.annotations['shipgate\\.dev/version']}"),
    ).toBe('1.0.0');
    expect(await get(PROD, 'service/hello', '{.spec.selector.color}')).toBe('green');
    expect(await get(PROD, 'deploy/hello-green', '{.spec.template.spec.containers[0].image}')).toBe(
      'registry.example.com/hello:1.0.0',
    );
    expect(await answers(PROD)).toBe('1.0.0');

    const second = await ship('1.1.0');
    expect(second.state, second.reason ?? '').toBe('succeeded');
    expect(await get(PROD, 'service/hello', '{.spec.selector.color}')).toBe('blue');
    expect(await answers(PROD)).toBe('1.1.0');
    // The colour that served 1.0.0 stays scaled, so going back is one selector patch.
    expect(await get(PROD, 'deploy/hello-green', '{.spec.replicas}')).toBe('2');

    const status = await stack.run(['status', 'hello', '1.1.0', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'succeeded' });
    const history = await stack.run(['history', 'hello', 'production']);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toContain('1.1.0');
    // The ledger keeps the digest the cluster reported for the pods (the plane's kwok derives it from the image).
    const rows = JSON.parse((await stack.run(['history', 'hello', 'production', '--json'])).stdout) as {
      version: string;
      digest?: string;
    }[];
    const digest = createHash('sha256').update('registry.example.com/hello:1.1.0').digest('hex');
    expect(rows.find((r) => r.version === '1.1.0')?.digest).toBe(`sha256:${digest}`);
  });

  it('rolls production back with one command: the warm colour takes traffic again and the ledger says who and why', async () => {
    const r = await stack.run([
      ...['rollback', 'hello', 'production', '--to', '1.0.0', '--as', 'alice'],
      ...['--reason', 'checkout errors on 1.1.0', '--wait'],
    ]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await get(PROD, 'service/hello', '{.spec.selector.color}')).toBe('green');
    expect(await answers(PROD)).toBe('1.0.0');
    const ledger = (await stack.sg.environmentState('hello', 'production'))!.ledger;
    expect(ledger.at(-1)).toMatchObject({
      action: 'rollback',
      version: '1.0.0',
      actor: 'alice',
      reason: 'checkout errors on 1.1.0',
      outcome: 'succeeded',
    });
  });

  it('fails a deploy whose image never becomes Ready, and staging keeps serving what it served', async () => {
    const bad = '1.2.0-never-ready';
    const r = await stack.run([
      'release',
      'hello',
      bad,
      '--commit',
      'c-bad',
      '--branch',
      'main',
      '--actor',
      'dave',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const ended = await waitForRelease(stack.sg, bad, (s) => s.state !== 'running');
    expect(ended.state).toBe('failed');
    const entry = (await stack.sg.environmentState('hello', 'staging'))!.ledger.at(-1)!;
    expect(entry).toMatchObject({ version: bad, outcome: 'failed' });
    expect(entry.failure).toContain('ProgressDeadlineExceeded');
    expect(await get(STAGING, 'deploy/hello', '{.spec.template.spec.containers[0].image}')).toBe(
      'registry.example.com/hello:1.1.0',
    );
    expect(await answers(STAGING)).toBe('1.1.0');
  });

  it('refuses to start a worker whose kubeconfig cannot be loaded, naming the environment', async () => {
    const broken = path.join(stack.home, 'broken.yaml');
    const text = await readFile(stack.configFile, 'utf8');
    await writeFile(broken, text.replaceAll(prodKubeconfig, path.join(stack.home, 'missing-kubeconfig')));
    const failed = await startWorker({
      config: broken,
      address: stack.server.address,
      home: stack.home,
    }).then(
      (w) => w.stop().then(() => 'started'),
      (err: Error) => err.message,
    );
    expect(failed).toMatch(/environment hello\/production: cannot load kubeconfig .*missing-kubeconfig/);
  });

  it('starts a worker that serves only staging without production credentials: it never reads them', async () => {
    const text = await readFile(stack.configFile, 'utf8');
    const noProdCredentials = path.join(stack.home, 'staging-only.yaml');
    await writeFile(noProdCredentials, text.replaceAll(prodKubeconfig, path.join(stack.home, 'not-here')));
    const staging = await startWorker({
      config: noProdCredentials,
      address: stack.server.address,
      home: stack.home,
      extraArgs: ['--environments', 'staging'],
    });
    try {
      expect(staging.running()).toBe(true);
      expect(staging.logs()).not.toContain('not-here');
    } finally {
      await staging.stop();
    }
  });

  it('answers the rollback of a version that never ran here with the versions that can be restored', async () => {
    const r = await stack.run([
      ...['rollback', 'hello', 'production', '--to', '0.1.0', '--as', 'alice', '--reason', 'try'],
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/0\.1\.0 was never deployed here/);
    expect(r.stderr).toContain('1.1.0');
    await eventually('nothing changed', async () => ((await answers(PROD)) === '1.0.0' ? true : undefined));
  });

  it('catches an image set by hand with kubectl as drift, holds the next release until someone adopts it, then lets it through', async () => {
    const hotfix = 'registry.example.com/hello:1.0.0-hotfix';
    const set = await plane.kubectl(['-n', PROD, 'set', 'image', 'deploy/hello-green', `hello=${hotfix}`]);
    expect(set.code, set.stderr).toBe(0);
    // The environment's periodic check (driftInterval 2s) finds it without any deploy.
    const drift = await eventually('drift in history', async () => {
      const h = await stack.run(['history', 'hello', 'production', '--json']);
      const rows = JSON.parse(h.stdout) as {
        action: string;
        findings?: { what: string; expected: string; actual: string }[];
      }[];
      return rows.find((r) => r.action === 'drift');
    });
    expect(drift.findings).toContainEqual(
      expect.objectContaining({
        what: 'image',
        expected: 'registry.example.com/hello:1.0.0',
        actual: hotfix,
      }),
    );
    const r = await stack.run([
      'release',
      'hello',
      '1.3.0',
      '--commit',
      'c-1.3.0',
      '--branch',
      'main',
      '--actor',
      'dave',
    ]);
    expect(r.code, r.stderr).toBe(0);
    await waitForRelease(stack.sg, '1.3.0', (st) => st.stage === 'awaiting-approval');
    for (const lead of ['alice', 'bob'])
      expect((await stack.run(['approve', 'hello', '1.3.0', '--as', lead])).code).toBe(0);
    const held = await waitForRelease(stack.sg, '1.3.0', (st) => st.blockedBy?.startsWith('drift') ?? false);
    expect(held.stage).toBe('awaiting-gate');
    expect(await get(PROD, 'deploy/hello-green', '{.spec.template.spec.containers[0].image}')).toBe(hotfix);

    const adopt = await stack.run([
      ...[
        'adopt',
        'hello',
        'production',
        '--as',
        'alice',
        '--reason',
        'hotfix applied by hand during the incident',
      ],
    ]);
    expect(adopt.code, adopt.stderr + adopt.stdout).toBe(0);
    const ended = await waitForRelease(stack.sg, '1.3.0', (st) => st.state !== 'running');
    expect(ended.state, ended.reason ?? '').toBe('succeeded');
    const ledger = (await stack.sg.environmentState('hello', 'production'))!.ledger;
    expect(ledger.find((e) => e.action === 'adopt')).toMatchObject({
      version: '1.0.0-hotfix',
      artifact: hotfix,
      actor: 'alice',
      reason: 'hotfix applied by hand during the incident',
    });
    expect(await answers(PROD)).toBe('1.3.0');
  });
});
