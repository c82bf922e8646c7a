/**
 * (k) Kubernetes, side by side on one real control plane (scripts/kube-plane.sh: etcd, kube-apiserver,
 *     controller-manager, scheduler, kwok as the kubelet; pods become Ready but run no containers) started for
 *     this benchmark and stopped after it, whatever happens:
 *
 *   1. Rollback to the previous version, time from the command's start until the Service's EndpointSlices list
 *      only the old version's pods, all Ready (at least the Deployment's size), as a watch of the slices and
 *      pods sees it:
 *        - the seed's rollback: `kubectl set image deployment/app app=<previous image>` + `kubectl rollout status`
 *        - `shipgate rollback <app> production --to <v> --wait` (the compiled CLI, a `shipgate worker` process
 *          and a Temporal dev server; signed with an SSH key) on a rolling environment, and on a blue-green one
 *          whose previous colour is still scaled (warm: one selector patch)
 *        - the bare selector patch, `kubectl patch service app` of its color selector, and the same merge patch
 *          in process (client-node), over two colours both scaled
 *        - the target alone in process: KubernetesTarget.activate of the warm version (blue-green)
 *      Each round runs every kind once, in an order that rotates, so machine load falls on all of them alike.
 *      Each kind has its own namespace with the same objects (a Deployment of REPLICAS, or two, and a Service).
 *   2. Rolling deploy of a new image: KubernetesTarget.activate in process against `kubectl set image` +
 *      `kubectl rollout status`, same Deployment size, alternating.
 *
 * Pods on this plane run no containers, so the smoke checks of the shipgate environments go to the loopback
 * stand-in (src/dev/kube-version-reporter.ts) that answers with the version the Service's ready pods run.
 */
import { spawn } from 'node:child_process';
import { AppsV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { kubernetesTargetSchema } from '../src/config/schema.js';
import { startVersionReporter } from '../src/dev/kube-version-reporter.js';
import { createKubernetesTarget } from '../src/targets/kubernetes/index.js';
import type { ActivateRequest, DeploymentTarget } from '../src/targets/types.js';
import { startKubePlane, type KubePlane } from '../test/helpers/kube-plane.js';
import { cli } from '../test/helpers/processes.js';
import { onlyReady, ServiceEndpoints } from './lib/kube-endpoints.js';
import { cliEnv, releaseOutcome, startStack, withTimeout, type Cleanup, type Stack } from './lib/stack.js';
import { ms, ratio, summarize, type ResultRow, type Summary } from './lib/stats.js';

const BENCH = 'k. kubernetes';
const IMAGE = 'registry.example.com/app:{{version}}';
const image = (version: string) => IMAGE.replace('{{version}}', version);
/** Every Deployment's size (each colour's, for blue-green). */
const REPLICAS = 3;
/** The two versions every rollback moves between; each rollback goes to the one not serving. */
const OLD = '1.0.0';
const NEW = '1.1.0';
const other = (v: string) => (v === OLD ? NEW : OLD);
/** On the bare blue-green pair, blue runs NEW and green OLD, so a colour switch is a version switch. */
const colourOf = (v: string) => (v === NEW ? 'blue' : 'green');
const WARMUP_ROUNDS = 2;
const OP_TIMEOUT_MS = 90_000;
const KEEP_PREVIOUS = '30m';
const RELEASER = 'dave';
const ROLLER = 'alice';
/** Goals the issue sets for a warm blue-green rollback. */
const GOAL_CLI_MS = 1000;
const GOAL_RATIO = 3;

/** Namespaces, one per kind, so no kind's objects or drift checks meet another's. */
const NS = {
  seed: 'seed-rolling',
  cliRolling: 'shipgate-rolling',
  cliBlueGreen: 'shipgate-blue-green',
  bare: 'bare-blue-green',
  target: 'target-blue-green',
  deployTarget: 'target-rolling',
  deployBare: 'bare-rolling',
} as const;

function deploymentYaml(name: string, labels: Record<string, string>, version: string): string {
  const l = JSON.stringify(labels);
  return `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, labels: {app: app}}
spec:
  replicas: ${REPLICAS}
  selector: {matchLabels: ${l}}
  template:
    metadata: {labels: ${l}}
    spec: {containers: [{name: app, image: '${image(version)}', ports: [{containerPort: 8080}]}]}
`;
}

function serviceYaml(selector: Record<string, string>): string {
  return `---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {selector: ${JSON.stringify(selector)}, ports: [{port: 80, targetPort: 8080}]}
`;
}

/** What each namespace starts with: what a team has before shipgate (or the bare baselines' own layout). */
function startingObjects(ns: string): string {
  const rolling = { app: 'app' };
  const blue = { app: 'app', color: 'blue' };
  const green = { app: 'app', color: 'green' };
  switch (ns) {
    case NS.bare:
      // Both colours scaled and Ready, as a warm blue-green pair is.
      return (
        deploymentYaml('app-blue', blue, NEW) + deploymentYaml('app-green', green, OLD) + serviceYaml(blue)
      );
    case NS.cliBlueGreen:
    case NS.target:
      return deploymentYaml('app-blue', blue, '0.9.0') + serviceYaml(blue);
    default:
      return deploymentYaml('app', rolling, '0.9.0') + serviceYaml(rolling);
  }
}

export function kubernetesConfig(reporterUrl: string, kubeconfigs: { rolling: string; blueGreen: string }) {
  const env = (ns: string, kubeconfig: string, strategy: 'rolling' | 'blue-green') => ({
    branches: ['main'],
    target: {
      kind: 'kubernetes',
      kubeconfig,
      namespace: ns,
      deployment: 'app',
      container: 'app',
      service: 'app',
      strategy,
      url: `${reporterUrl}/${ns}/app`,
      previewUrl: `${reporterUrl}/${ns}/app-preview`,
      progressDeadline: '60s',
    },
    approvals: [],
    keepPrevious: KEEP_PREVIOUS,
    smoke: [{ path: '/version', json: { version: '{{version}}' } }],
  });
  return {
    groups: { 'team-leads': ['alice', 'bob', 'carol'] },
    apps: {
      rolling: {
        build: { kind: 'image', image: IMAGE },
        environments: { production: env(NS.cliRolling, kubeconfigs.rolling, 'rolling') },
      },
      'blue-green': {
        build: { kind: 'image', image: IMAGE },
        environments: { production: env(NS.cliBlueGreen, kubeconfigs.blueGreen, 'blue-green') },
      },
    },
  };
}

export interface KubernetesOptions {
  /** Measured samples of each figure, after warm-up. */
  samples: number;
  log: (line: string) => void;
}

interface Sample {
  /** Command start → the Service lists only the target version's Ready pods. */
  endpoints: number;
  /** Command start → the command returned. */
  exit: number;
}

/** One way to roll back, on its own namespace; `serving` is shared by kinds that act on the same objects. */
interface RollbackKind {
  key: string;
  label: string;
  observer: ServiceEndpoints;
  serving: { version: string };
  run(to: string): Promise<void>;
}

/** The seed's kubectl (DIR/bin/kubectl, built with the plane) as the admin, as a process per command. */
function kubectl(plane: KubePlane, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(plane.kubectlPath, args, {
      env: { ...process.env, KUBECONFIG: plane.kubeconfigPath },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), OP_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`kubectl ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
    });
  });
}

export async function kubernetesBenchmarks(cleanup: Cleanup, opts: KubernetesOptions): Promise<ResultRow[]> {
  const { log } = opts;
  log('starting a control plane (scripts/kube-plane.sh up)');
  const t0 = performance.now();
  const plane = await startKubePlane();
  cleanup.add('stop the control plane', () => plane.stop());
  log(`control plane Ready in ${ms(performance.now() - t0)} at ${plane.apiUrl}`);

  const must = async (args: string[], input?: string) => {
    const r = await plane.kubectl(args, { input, timeoutMs: OP_TIMEOUT_MS });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  await Promise.all(
    Object.values(NS).map(async (ns) => {
      await plane.createNamespace(ns);
      await must(['-n', ns, 'apply', '-f', '-'], startingObjects(ns));
    }),
  );
  await Promise.all(
    Object.values(NS).map((ns) =>
      must(['-n', ns, 'wait', '--for=condition=Available', 'deployment', '--all', '--timeout=120s']),
    ),
  );
  // The worker holds, per environment, a ServiceAccount token bound to exactly the documented Role.
  const kubeconfigs = {
    rolling: await plane.serviceAccountKubeconfig(NS.cliRolling, 'shipgate'),
    blueGreen: await plane.serviceAccountKubeconfig(NS.cliBlueGreen, 'shipgate'),
  };
  const reporter = await startVersionReporter(plane.kubeconfigPath);
  cleanup.add('stop the version reporter', () => reporter.close());

  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfigPath);
  const observers = {} as Record<keyof typeof NS, ServiceEndpoints>;
  for (const [key, ns] of Object.entries(NS)) {
    const o = await ServiceEndpoints.start(kc, ns, 'app', 'app');
    cleanup.add(`stop watching ${ns}`, async () => o.stop());
    observers[key as keyof typeof NS] = o;
  }

  log('starting dev server and worker (rolling and blue-green environments on the plane)');
  const stack = await startStack(cleanup, 'kubernetes', kubernetesConfig(reporter.url, kubeconfigs), [
    RELEASER,
    ROLLER,
  ]);

  // Warm-up, not measured: every kind ends serving NEW with OLD known (and, for blue-green, warm).
  const openTarget = (ns: string, strategy: 'rolling' | 'blue-green'): DeploymentTarget =>
    createKubernetesTarget().open({
      app: 'app',
      env: 'production',
      config: kubernetesTargetSchema.parse({
        kind: 'kubernetes',
        kubeconfig: plane.kubeconfigPath,
        namespace: ns,
        deployment: 'app',
        container: 'app',
        service: 'app',
        strategy,
        progressDeadline: '60s',
      }),
      build: { image: IMAGE },
    });
  const request = (version: string, strategy: 'rolling' | 'blue-green'): ActivateRequest => ({
    version,
    artifact: image(version),
    strategy,
    keepPreviousMs: 30 * 60_000,
    changeCause: `bench: ${version}`,
  });
  const blueGreenTarget = openTarget(NS.target, 'blue-green');
  let commits = 0;
  for (const version of [OLD, NEW]) {
    const t = performance.now();
    await Promise.all([
      release(stack, 'rolling', version, `bench${commits++}`),
      release(stack, 'blue-green', version, `bench${commits++}`),
      kubectl(plane, ['-n', NS.seed, 'set', 'image', 'deployment/app', `app=${image(version)}`]).then(() =>
        kubectl(plane, ['-n', NS.seed, 'rollout', 'status', 'deployment/app', '--timeout=90s']),
      ),
      blueGreenTarget.activate(request(version, 'blue-green')),
    ]);
    log(`warm-up: every kind serves ${version} (${ms(performance.now() - t)})`);
  }

  const apps = kc.makeApiClient(AppsV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  /** A warm rollback changes neither colour's pod template nor its size (annotations it may). */
  const colours = async (ns: string) =>
    (
      await Promise.all(
        ['app-blue', 'app-green'].map(async (name) => {
          const d = await apps.readNamespacedDeployment({ name, namespace: ns });
          return `${name}: ${d.spec?.replicas} × ${JSON.stringify(d.spec?.template)}`;
        }),
      )
    ).join('; ');
  const rollbackCli = (app: string) => async (to: string) => {
    const args = [
      ...['rollback', app, 'production', '--to', to, '--as', ROLLER, '--key', stack.keys[ROLLER]!.file],
      ...['--reason', 'bench', '--wait', '--address', stack.server.address],
    ];
    const r = await cli(args, cliEnv(stack.home), OP_TIMEOUT_MS);
    if (r.code !== 0) throw new Error(`shipgate ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  };
  const bareServing = { version: NEW };
  const kinds: RollbackKind[] = [
    {
      key: 'seed',
      label: 'rollback, seed: kubectl set image + rollout status',
      observer: observers.seed,
      serving: { version: NEW },
      async run(to) {
        await kubectl(plane, ['-n', NS.seed, 'set', 'image', 'deployment/app', `app=${image(to)}`]);
        await kubectl(plane, ['-n', NS.seed, 'rollout', 'status', 'deployment/app', '--timeout=90s']);
      },
    },
    {
      key: 'cliRolling',
      label: 'rollback, shipgate CLI --wait, rolling',
      observer: observers.cliRolling,
      serving: { version: NEW },
      run: rollbackCli('rolling'),
    },
    {
      key: 'cliBlueGreen',
      label: 'rollback, shipgate CLI --wait, blue-green warm',
      observer: observers.cliBlueGreen,
      serving: { version: NEW },
      async run(to) {
        const before = await colours(NS.cliBlueGreen);
        await rollbackCli('blue-green')(to);
        const after = await colours(NS.cliBlueGreen);
        if (after !== before)
          throw new Error(`the rollback to ${to} was not warm: before, ${before}; after, ${after}`);
      },
    },
    {
      key: 'kubectlPatch',
      label: 'switch, bare: kubectl patch service selector',
      observer: observers.bare,
      serving: bareServing,
      run: (to) =>
        kubectl(plane, [
          ...['-n', NS.bare, 'patch', 'service', 'app', '-p'],
          JSON.stringify({ spec: { selector: { color: colourOf(to) } } }),
        ]),
    },
    {
      key: 'clientPatch',
      label: 'switch, bare: merge patch in process (client-node)',
      observer: observers.bare,
      serving: bareServing,
      async run(to) {
        await objects.patch(
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'app', namespace: NS.bare },
            spec: { selector: { color: colourOf(to) } },
          },
          undefined,
          undefined,
          'bench',
          undefined,
          PatchStrategy.MergePatch,
        );
      },
    },
    {
      key: 'target',
      label: 'switch, KubernetesTarget.activate in process (warm)',
      observer: observers.target,
      serving: { version: NEW },
      async run(to) {
        const result = await blueGreenTarget.activate(request(to, 'blue-green'));
        if (!result.warm) throw new Error(`the target's activation of ${to} was not warm`);
      },
    },
  ];

  const samples = new Map<string, Sample[]>(kinds.map((k) => [k.key, []]));
  const rounds = WARMUP_ROUNDS + opts.samples;
  log(`rollbacks: ${rounds} rounds (${WARMUP_ROUNDS} warm-up) of ${kinds.length} kinds, rotating order`);
  for (let round = 0; round < rounds; round++) {
    const order = kinds.map((_, i) => kinds[(i + round) % kinds.length]!);
    const line: string[] = [];
    for (const kind of order) {
      const s = await measure(kind);
      line.push(`${kind.key} ${ms(s.endpoints)}`);
      if (round >= WARMUP_ROUNDS) samples.get(kind.key)!.push(s);
    }
    log(`round ${round + 1}/${rounds}${round < WARMUP_ROUNDS ? ' (warm-up)' : ''}: ${line.join(', ')}`);
  }

  // A rollback to a template the Deployment ran before reuses that ReplicaSet (scaled up again); any other
  // template difference makes a new one and a full rollout. Say which happened on each rolling namespace.
  for (const ns of [NS.seed, NS.cliRolling]) {
    const sets = (await apps.listNamespacedReplicaSet({ namespace: ns })).items;
    const byImage = new Map<string, number>();
    for (const rs of sets) {
      const img = rs.spec?.template?.spec?.containers.find((c) => c.name === 'app')?.image ?? '?';
      byImage.set(img, (byImage.get(img) ?? 0) + 1);
    }
    log(
      `${ns}: ${sets.length} ReplicaSets after ${rounds} rollbacks (${[...byImage].map(([i, n]) => `${n}× ${i}`).join(', ')})`,
    );
  }

  // What starting the CLI costs on its own: node, module loading and argument parsing, refused there (a
  // missing argument) before any signing, Temporal or cluster. (`--help` renders every command: slower.)
  const startup: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const r = await cli(['rollback'], cliEnv(stack.home), 30_000);
    startup.push(performance.now() - t);
    if (r.code === 0 || !/missing required argument/.test(r.stderr))
      throw new Error(`shipgate rollback without arguments: exit ${r.code}, ${r.stderr.trim()}`);
  }

  const deploy = await deployBenchmark(
    plane,
    observers,
    openTarget(NS.deployTarget, 'rolling'),
    request,
    opts,
  );

  const sum = (key: string, which: keyof Sample) => summarize(samples.get(key)!.map((s) => s[which]));
  const seed = sum('seed', 'endpoints');
  const cliRolling = sum('cliRolling', 'endpoints');
  const cliBg = sum('cliBlueGreen', 'endpoints');
  const kubectlPatch = sum('kubectlPatch', 'endpoints');
  const clientPatch = sum('clientPatch', 'endpoints');
  const target = sum('target', 'endpoints');
  const vs = (s: Summary, base: Summary, name: string) =>
    `${ratio(s.median, base.median)} (p95 ${ratio(s.p95, base.p95)}) to ${name}`;
  const goal = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const targetRatio = target.median / kubectlPatch.median;
  const targetRatioInProcess = target.median / clientPatch.median;
  const label = (key: string) => kinds.find((k) => k.key === key)!.label;
  const rows: ResultRow[] = [
    row(label('seed'), seed, '1.00× (baseline); start → Service lists only the old Ready pods'),
    row(label('cliRolling'), cliRolling, vs(cliRolling, seed, 'seed')),
    row(
      label('cliBlueGreen'),
      cliBg,
      `${vs(cliBg, seed, 'seed')}; ${ratio(cliBg.median, kubectlPatch.median)} to kubectl patch;` +
        ` goal p50 < ${ms(GOAL_CLI_MS)}: ${goal(cliBg.median < GOAL_CLI_MS)}`,
    ),
    row(label('kubectlPatch'), kubectlPatch, '1.00× (baseline of the switch)'),
    row(label('clientPatch'), clientPatch, vs(clientPatch, kubectlPatch, 'kubectl patch')),
    row(
      label('target'),
      target,
      `${vs(target, kubectlPatch, 'kubectl patch')}; ${ratio(target.median, clientPatch.median)} to the` +
        ` in-process patch; goal < ${GOAL_RATIO}×: ${goal(targetRatio < GOAL_RATIO)} to kubectl patch,` +
        ` ${goal(targetRatioInProcess < GOAL_RATIO)} to the in-process patch`,
    ),
    ...kinds.map((k) => row(`  start → returned: ${k.label}`, sum(k.key, 'exit'))),
    row('  CLI start-up alone (`shipgate rollback` refused at argument parsing)', summarize(startup)),
    ...deploy,
  ];
  rows.find((r) => r.figure.includes(label('cliBlueGreen')))!.data = {
    cliMedianMs: cliBg.median,
    cliP95Ms: cliBg.p95,
    kubectlPatchMedianMs: kubectlPatch.median,
    targetMedianMs: target.median,
    clientPatchMedianMs: clientPatch.median,
    targetToKubectlPatch: targetRatio,
    targetToInProcessPatch: targetRatioInProcess,
    seedMedianMs: seed.median,
    goalCliMs: GOAL_CLI_MS,
    goalRatio: GOAL_RATIO,
  };
  return rows;
}

/** One rollback of `kind` to the version it does not serve, timed from the command's start. */
async function measure(kind: RollbackKind): Promise<Sample> {
  const from = kind.serving.version;
  const to = other(from);
  // Start from a settled Service (a rollout's terminating pods gone), so each sample starts alike.
  await kind.observer.when(
    onlyReady(image(from), REPLICAS),
    OP_TIMEOUT_MS,
    `${kind.observer.namespace} to settle on ${from} before ${kind.key}`,
  );
  const cond = onlyReady(image(to), REPLICAS);
  const t0 = performance.now();
  const seen = kind.observer.when(cond, OP_TIMEOUT_MS, `${kind.key}: only ${to}'s Ready pods`);
  seen.catch(() => {}); // awaited below; a failed command is the error to report
  await kind.run(to);
  const exit = performance.now();
  const at = await seen;
  kind.serving.version = to;
  return { endpoints: at - t0, exit: exit - t0 };
}

/** 2. A rolling deploy of a new image: the target in process against kubectl, same size, alternating. */
async function deployBenchmark(
  plane: KubePlane,
  observers: Record<keyof typeof NS, ServiceEndpoints>,
  target: DeploymentTarget,
  request: (version: string, strategy: 'rolling') => ActivateRequest,
  opts: KubernetesOptions,
): Promise<ResultRow[]> {
  const { log } = opts;
  const ns = NS.deployBare;
  const shipgate: number[] = [];
  const bare: number[] = [];
  const shipgateEndpoints: number[] = [];
  const bareEndpoints: number[] = [];
  /** Runs op, returning its duration and the time until the Service lists only `version`'s Ready pods. */
  const timed = async (observer: ServiceEndpoints, version: string, op: () => Promise<void>) => {
    const t0 = performance.now();
    const seen = observer.when(onlyReady(image(version), REPLICAS), OP_TIMEOUT_MS, `only ${version}`);
    seen.catch(() => {});
    await op();
    const done = performance.now() - t0;
    return { done, endpoints: (await seen) - t0 };
  };
  const rounds = 1 + opts.samples;
  log(`rolling deploys: ${rounds} rounds (1 warm-up), target in process and kubectl alternating`);
  for (let round = 0; round < rounds; round++) {
    const version = `2.0.${round}`;
    const viaTarget = () =>
      timed(observers.deployTarget, version, async () => {
        const r = await target.activate(request(version, 'rolling'));
        if (r.serving !== version) throw new Error(`the target serves ${r.serving}, not ${version}`);
      });
    const viaKubectl = () =>
      timed(observers.deployBare, version, async () => {
        await kubectl(plane, ['-n', ns, 'set', 'image', 'deployment/app', `app=${image(version)}`]);
        await kubectl(plane, ['-n', ns, 'rollout', 'status', 'deployment/app', '--timeout=90s']);
      });
    const [a, b] =
      round % 2 === 0
        ? [await viaTarget(), await viaKubectl()]
        : await viaKubectl().then(async (k) => [await viaTarget(), k] as const);
    log(
      `deploy ${version}${round === 0 ? ' (warm-up)' : ''}: target ${ms(a.done)} (endpoints ${ms(a.endpoints)}),` +
        ` kubectl ${ms(b.done)} (endpoints ${ms(b.endpoints)})`,
    );
    if (round === 0) continue;
    shipgate.push(a.done);
    bare.push(b.done);
    shipgateEndpoints.push(a.endpoints);
    bareEndpoints.push(b.endpoints);
  }
  const s = summarize(shipgate);
  const b = summarize(bare);
  const se = summarize(shipgateEndpoints);
  const be = summarize(bareEndpoints);
  return [
    row(
      'deploy, bare: kubectl set image + rollout status',
      b,
      `1.00× (baseline); a new image, ${REPLICAS} replicas, start → rolled out`,
    ),
    {
      ...row(
        'deploy, KubernetesTarget.activate in process (rolling)',
        s,
        `${ratio(s.median, b.median)} (p95 ${ratio(s.p95, b.p95)}) to kubectl`,
      ),
      data: { medianMs: s.median, kubectlMedianMs: b.median, overheadMs: s.median - b.median },
    },
    {
      bench: BENCH,
      figure: '  overhead (target − kubectl)',
      n: s.n,
      median: ms(s.median - b.median),
      p95: '',
      ratio: '',
    },
    row('  start → Service lists only the new Ready pods: kubectl', be),
    row(
      '  start → Service lists only the new Ready pods: target',
      se,
      `${ratio(se.median, be.median)} to kubectl`,
    ),
  ];
}

async function release(stack: Stack, app: string, version: string, commit: string): Promise<void> {
  await stack.sg.release({ app, version, commit, branch: 'main', prove: stack.prove(RELEASER) });
  const status = await withTimeout(
    releaseOutcome(stack, app, version),
    OP_TIMEOUT_MS,
    `release ${app} ${version} to end`,
  );
  if (status.state !== 'succeeded')
    throw new Error(`release ${app} ${version} ended ${status.state}: ${status.reason}`);
}

function row(figure: string, s: Summary, note = ''): ResultRow {
  return { bench: BENCH, figure, n: s.n, median: ms(s.median), p95: ms(s.p95), ratio: note };
}
