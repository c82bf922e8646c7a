/**
 * Rolling: one Deployment, updated in place by server-side apply of the image and annotations (a version that
 * ran here before gets its whole recorded template back), then watched until the rollout is complete. A rollout
 * that does not become ready is compensated: the previous pod template goes back and is waited for.
 */
import type { ActivateResult } from '../types.js';
import { AbortError, NotReadyError } from '../errors.js';
import {
  changeCause,
  progressDeadlineSeconds,
  templateAnnotations,
  templateFor,
  type Activation,
} from './context.js';
import { rolloutState } from './rollout-status.js';
import { scale, setTemplate, waitForRollout } from './rollout.js';
import { imageOf, versionOf } from './templates.js';
import type { Deployment } from './types.js';

export async function activateRolling(a: Activation): Promise<ActivateResult> {
  const { cluster, config, req, hooks } = a;
  const name = config.deployment;
  const live = await cluster.read<Deployment>('Deployment', name);
  const image = imageOf(live, config.container); // refuses a missing container before anything changes
  const previous = versionOf(live);
  // A Deployment scaled to zero by hand serves nothing: deploying (even the same version) scales it back.
  const scaledToZero = (live.spec.replicas ?? 1) === 0;
  if (previous === req.version && image === req.artifact && rolloutState(live).done && !scaledToZero) {
    await a.templates.save(req.version, req.artifact, live.spec.template);
    return { serving: req.version, previous: null, alreadyServing: true, warm: false };
  }
  const before = live.spec.template;
  // Scaled by a merge patch, not in the apply: a field shipgate applied once and then left out would be reset.
  if (scaledToZero) await scale(cluster, name, config.replicas);
  const saved = await a.templates.get(req.version);
  if (saved && saved.image === req.artifact) {
    // A version that ran here before: its whole template, as it ran.
    await setTemplate(cluster, name, await templateFor(a, before), {
      progressDeadlineSeconds: progressDeadlineSeconds(a),
      annotations: changeCause(req),
    });
  } else {
    await cluster.apply('Deployment', name, {
      metadata: { annotations: changeCause(req) },
      spec: {
        progressDeadlineSeconds: progressDeadlineSeconds(a),
        template: {
          metadata: { annotations: templateAnnotations(req) },
          spec: { containers: [{ name: config.container, image: req.artifact }] },
        },
      },
    });
  }
  hooks.progress?.(`rolling ${name} to ${req.version}`);
  try {
    const done = await waitForRollout(cluster, name, {
      deadline: a.deadline(),
      signal: hooks.signal,
      progress: hooks.progress,
    });
    await a.templates.save(req.version, req.artifact, done.spec.template);
    return { serving: req.version, previous, alreadyServing: false, warm: false };
  } catch (err) {
    if (!(err instanceof NotReadyError) && !(err instanceof AbortError)) throw err;
    // Compensation inside the activation: what served before serves again before the failure is reported.
    hooks.progress?.(`restoring ${previous ?? 'the previous template'} on ${name}`);
    await setTemplate(cluster, name, before);
    await waitForRollout(cluster, name, {
      deadline: Date.now() + 5 * 60_000,
      progress: hooks.progress,
    }).catch(() => {});
    if (err instanceof AbortError) throw err;
    throw new NotReadyError(
      `${err.message}; the previous pod template (${previous ?? 'unversioned'}) was restored`,
    );
  }
}
