/**
 * An in-memory deployment target for the fast workflow-test tier: release and environment workflows run on
 * the time-skipping server against it, with no processes and no ports, so a rule change is tested in seconds.
 * It keeps the local target's contract (strategies, keep-warm previous version, canary steps checked against
 * the canary, the shared error classes), and lets a test steer it:
 *
 *   const target = createMemoryTarget();
 *   const activities = createActivities({ ...deps, targets: target, audit: createMemoryAuditStore() });
 *
 *   target.failReadiness('1.1.0');      // activating 1.1.0 throws NotReadyError (a non-retryable DeployFailed)
 *   target.failVerification('1.2.0');   // every probe that reaches 1.2.0 answers 500: smoke, soak, canary steps
 *   target.crash('hello', 'production', '1.3.0');  // 1.3.0 stops running (liveness says so; probes fail)
 *   const gate = target.hold('1.4.0');  // activating 1.4.0 waits here until the test says so
 *   await gate.reached;                 //   ... an activation of 1.4.0 is now waiting (the deploy is in flight)
 *   gate.release();                     //   ... it goes on; a cancellation (preemption) aborts it instead
 *
 *   target.setImage('hello', 'production', '1.0.0-hotfix', 'registry.example.com/hello:hotfix')
 *                                       // someone ran `kubectl set image`: that now serves, outside shipgate
 *   target.scale('hello', 'production', 0)  // someone scaled the Deployment to zero by hand (and 2: up again)
 *
 *   target.activations                  // every activate call, in order: { app, env, version, artifact, strategy }
 *   target.status('hello', 'production')  // what serves and what is kept warm, as the target reports it
 *
 * Versions answer `/health` and any other path with 200 `ok`, and `/version` with `{"version": "<v>"}`, so
 * the example config's smoke checks pass unless a version is told to fail. The environment's probe reaches
 * the version with the most traffic (mid-canary, the stable one until the canary takes over half).
 *
 * Opened for an environment whose target block is not `local` (a cluster), it can drift as a cluster does:
 * `drift` compares what the ledger expects with what serves (its artifact, and whether it was scaled to zero),
 * and `adopt` reports what serves. Opened for a local block it has neither, as the local target.
 */
import { AbortError, CanaryFailedError, NotReadyError } from '../../src/targets/errors.js';
import type {
  ActivateHooks,
  ActivateRequest,
  ActivateResult,
  DeploymentTarget,
  DriftFinding,
  ExpectedState,
  Placement,
  Probe,
  TargetProvider,
  TargetStatus,
  VersionStatus,
} from '../../src/targets/types.js';

export interface Activation {
  app: string;
  env: string;
  version: string;
  artifact: string;
  strategy: ActivateRequest['strategy'];
  /** Wall-clock time of the call (activities run in real time, even on the time-skipping server). */
  at: string;
}

export interface Gate {
  /** Resolves once an activation of the held version is waiting at the gate. */
  readonly reached: Promise<void>;
  /** Lets waiting and later activations of the version go on. */
  release(): void;
}

export interface MemoryTarget extends TargetProvider {
  readonly activations: readonly Activation[];
  /** Activating `version` (in `env`, or anywhere) fails: it never becomes ready. */
  failReadiness(version: string, env?: string): void;
  /** Probes reaching `version` (in `env`, or anywhere) answer 500 on every path. */
  failVerification(version: string, env?: string): void;
  /** Activating `version` waits at a gate until released (or aborted by cancellation). */
  hold(version: string): Gate;
  /** The version's instance stops running, as if its process died. */
  crash(app: string, env: string, version: string): void;
  /** Someone changed what serves by hand (`kubectl set image`): `version` from `artifact` takes all traffic. */
  setImage(app: string, env: string, version: string, artifact: string): void;
  /** Someone scaled what serves by hand: to zero replicas, or up again. */
  scale(app: string, env: string, replicas: number): void;
  status(app: string, env: string): TargetStatus | null;
}

interface Instance {
  version: string;
  artifact: string;
  alive: boolean;
  ready: boolean;
  weight: number;
  keepUntil: string | null;
  startedAt: string;
}

interface EnvState {
  serving: string | null;
  previous: string | null;
  instances: Map<string, Instance>;
  /** Scaled to zero by hand; the next activation scales it up again. */
  scaledToZero: boolean;
}

const DEFAULT_CANARY_STEPS = [10, 50, 100];

export function createMemoryTarget(): MemoryTarget {
  const envs = new Map<string, EnvState>();
  const activations: Activation[] = [];
  const notReady: { version: string; env?: string }[] = [];
  const failing: { version: string; env?: string }[] = [];
  const gates = new Map<string, { reached: () => void; released: Promise<void>; release: () => void }>();

  const matches = (list: { version: string; env?: string }[], version: string, env: string) =>
    list.some((f) => f.version === version && (f.env === undefined || f.env === env));

  const stateOf = (app: string, env: string): EnvState => {
    const key = `${app}/${env}`;
    let st = envs.get(key);
    if (!st) {
      st = { serving: null, previous: null, instances: new Map(), scaledToZero: false };
      envs.set(key, st);
    }
    return st;
  };

  const answer = (env: string, inst: Instance | undefined): Probe => {
    return async (path) => {
      if (!inst?.alive) throw new Error('connect ECONNREFUSED (memory target: nothing running)');
      if (matches(failing, inst.version, env)) return { status: 500, body: 'failing on purpose' };
      if (path === '/version') return { status: 200, body: JSON.stringify({ version: inst.version }) };
      return { status: 200, body: 'ok' };
    };
  };

  const setWeights = (st: EnvState, weights: Record<string, number>) => {
    for (const inst of st.instances.values()) inst.weight = weights[inst.version] ?? 0;
  };

  const statusOf = (app: string, env: string): TargetStatus | null => {
    const st = envs.get(`${app}/${env}`);
    if (!st) return null;
    const versions: VersionStatus[] = [...st.instances.values()].map((i) => ({ ...i }));
    return { app, env, reachable: true, serving: st.serving, versions };
  };

  function open(placement: Placement): DeploymentTarget {
    const { app, env } = placement;

    const abortIfAsked = (signal: AbortSignal | undefined, what: string) => {
      if (signal?.aborted) throw new AbortError(`${what} was aborted`);
    };

    const waitAtGate = async (version: string, signal?: AbortSignal) => {
      const gate = gates.get(version);
      if (!gate) return;
      gate.reached();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(new AbortError(`activating ${app}/${env} ${version} was aborted`));
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        void gate.released.then(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    };

    /** All traffic to `version`; the stable one stays warm until keepPrevious passes, older ones stop. */
    const switchTo = (
      st: EnvState,
      req: ActivateRequest,
      warm: boolean,
      keepStable: boolean,
    ): ActivateResult => {
      const stable = keepStable && st.serving !== req.version ? st.serving : null;
      setWeights(st, { [req.version]: 100 });
      for (const inst of [...st.instances.values()]) {
        if (inst.version === req.version) inst.keepUntil = null;
        else if (inst.version === stable)
          inst.keepUntil = new Date(Date.now() + req.keepPreviousMs).toISOString();
        else st.instances.delete(inst.version);
      }
      if (st.serving !== null && st.serving !== req.version) st.previous = st.serving;
      st.serving = req.version;
      st.scaledToZero = false;
      return { serving: req.version, previous: st.previous, alreadyServing: false, warm };
    };

    /** What differs between what the ledger expects and what serves, as a cluster target reports it. */
    const drift = async (expected: ExpectedState): Promise<DriftFinding[]> => {
      const object = `deployment/${app}`;
      const st = envs.get(`${app}/${env}`);
      const inst = st?.serving ? st.instances.get(st.serving) : undefined;
      if (!st || !inst) return [{ what: 'missing', object, expected: expected.artifact, actual: 'nothing' }];
      const findings: DriftFinding[] = [];
      if (inst.artifact !== expected.artifact)
        findings.push({ what: 'image', object, expected: expected.artifact, actual: inst.artifact });
      if (st.scaledToZero) findings.push({ what: 'replicas', object, expected: 'at least 1', actual: '0' });
      return findings;
    };

    const adopt = async (): Promise<ExpectedState> => {
      const st = envs.get(`${app}/${env}`);
      const inst = st?.serving ? st.instances.get(st.serving) : undefined;
      if (!inst) throw new Error(`nothing runs in ${app}/${env} to adopt (memory target)`);
      return { version: inst.version, artifact: inst.artifact };
    };

    const cluster = placement.config.kind !== 'local';

    return {
      kind: placement.config.kind,
      ...(cluster ? { drift, adopt } : {}),

      async activate(req: ActivateRequest, hooks: ActivateHooks = {}): Promise<ActivateResult> {
        activations.push({
          app,
          env,
          version: req.version,
          artifact: req.artifact,
          strategy: req.strategy,
          at: new Date().toISOString(),
        });
        const label = `${app}/${env} ${req.version}`;
        abortIfAsked(hooks.signal, `activating ${label}`);
        const st = stateOf(app, env);
        const existing = st.instances.get(req.version);
        if (
          st.serving === req.version &&
          existing?.alive &&
          existing.weight === 100 &&
          existing.artifact === req.artifact &&
          !st.scaledToZero
        ) {
          return { serving: req.version, previous: st.previous, alreadyServing: true, warm: false };
        }
        const warm = existing?.alive === true && existing.ready;
        if (req.strategy === 'recreate' && !warm) {
          for (const v of [...st.instances.keys()]) st.instances.delete(v);
          if (st.serving !== null) st.previous = st.serving;
          st.serving = null;
        }
        hooks.progress?.(`starting ${label}`);
        await waitAtGate(req.version, hooks.signal);
        if (matches(notReady, req.version, env)) {
          throw new NotReadyError(`${label} did not become ready (memory target: told to fail readiness)`);
        }
        abortIfAsked(hooks.signal, `activating ${label}`);
        const inst: Instance =
          warm && existing && existing.artifact === req.artifact
            ? existing
            : {
                version: req.version,
                artifact: req.artifact,
                alive: true,
                ready: true,
                weight: 0,
                keepUntil: null,
                startedAt: new Date().toISOString(),
              };
        st.instances.set(req.version, inst);

        const stable = st.serving && st.serving !== req.version ? st.instances.get(st.serving) : undefined;
        if (req.strategy === 'canary' && stable?.alive) {
          const steps = [...new Set(req.canarySteps ?? DEFAULT_CANARY_STEPS)]
            .filter((p) => Number.isInteger(p) && p > 0 && p < 100)
            .sort((a, b) => a - b);
          let at = 0;
          try {
            for (const percent of steps) {
              abortIfAsked(hooks.signal, `canary of ${label}`);
              at = percent;
              setWeights(st, { [req.version]: percent, [stable.version]: 100 - percent });
              hooks.progress?.(`canary ${label} takes ${percent}% of traffic`);
              await hooks.checkStep?.(percent, answer(env, inst));
            }
            abortIfAsked(hooks.signal, `canary of ${label}`);
          } catch (err) {
            setWeights(st, { [stable.version]: 100 });
            if (!warm) st.instances.delete(req.version);
            const back = `all traffic is back on ${stable.version}`;
            if (err instanceof AbortError || hooks.signal?.aborted) {
              throw new AbortError(`canary of ${label} was aborted at ${at}%; ${back}`);
            }
            throw new CanaryFailedError(
              `canary of ${label} failed at ${at}%: ${(err as Error).message}; ${back}`,
              {
                cause: err,
              },
            );
          }
        }
        return switchTo(st, req, warm, req.strategy !== 'recreate');
      },

      probe: (path, timeoutMs) => {
        const st = envs.get(`${app}/${env}`);
        const top = [...(st?.instances.values() ?? [])]
          .filter((i) => i.weight > 0)
          .sort((a, b) => b.weight - a.weight)[0];
        return answer(env, top)(path, timeoutMs);
      },

      async liveness(version) {
        const inst = envs.get(`${app}/${env}`)?.instances.get(version);
        return inst && !inst.alive ? `the process of ${version} exited` : null;
      },

      async status() {
        return statusOf(app, env);
      },

      async reap(at = new Date()) {
        const st = envs.get(`${app}/${env}`);
        if (!st) return;
        for (const inst of [...st.instances.values()]) {
          const expired = inst.keepUntil !== null && Date.parse(inst.keepUntil) <= at.getTime();
          if (inst.version !== st.serving && inst.weight === 0 && expired) st.instances.delete(inst.version);
        }
      },
    };
  }

  return {
    open,
    activations,
    failReadiness: (version, env) => void notReady.push({ version, env }),
    failVerification: (version, env) => void failing.push({ version, env }),
    hold(version) {
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((r) => (reached = r));
      const released = new Promise<void>((r) => (release = r));
      gates.set(version, { reached, released, release });
      return {
        reached: reachedP,
        release() {
          gates.delete(version);
          release();
        },
      };
    },
    crash(app, env, version) {
      const inst = envs.get(`${app}/${env}`)?.instances.get(version);
      if (inst) inst.alive = false;
    },
    setImage(app, env, version, artifact) {
      const st = stateOf(app, env);
      st.instances.set(version, {
        version,
        artifact,
        alive: true,
        ready: true,
        weight: 0,
        keepUntil: null,
        startedAt: new Date().toISOString(),
      });
      setWeights(st, { [version]: 100 });
      // A hand-run rollout replaces the pods: nothing else keeps running.
      for (const v of [...st.instances.keys()]) if (v !== version) st.instances.delete(v);
      st.serving = version;
    },
    scale(app, env, replicas) {
      stateOf(app, env).scaledToZero = replicas === 0;
    },
    status: statusOf,
  };
}
