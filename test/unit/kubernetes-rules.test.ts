import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { rolloutState } from '../../src/targets/kubernetes/rollout-status.js';
import {
  differences,
  findDrift,
  versionFromImage,
  type LiveDeployment,
} from '../../src/targets/kubernetes/drift.js';
import { canaryReplicas } from '../../src/targets/kubernetes/canary.js';
import { revisionName } from '../../src/targets/kubernetes/templates.js';
import { imageArtifact } from '../../src/activities/build.js';
import type { Deployment, PodTemplate } from '../../src/targets/kubernetes/types.js';

function deployment(
  spec: { generation?: number; replicas?: number },
  status: Deployment['status'],
): Deployment {
  return {
    metadata: { name: 'checkout', generation: spec.generation ?? 2 },
    spec: { replicas: spec.replicas ?? 3, selector: {}, template: { spec: { containers: [] } } },
    status,
  };
}

describe('rollout status, by the rules of kubectl rollout status', () => {
  const full = { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 };
  it('is complete when the new spec is observed and every replica is updated and available', () => {
    expect(rolloutState(deployment({}, full))).toMatchObject({ done: true });
  });
  it.each([
    [
      'the controller has not seen the new spec',
      { ...full, observedGeneration: 1 },
      /new spec to be observed/,
    ],
    ['replicas still run the old template', { ...full, updatedReplicas: 2 }, /2 of 3 new replicas/],
    [
      'old replicas are still terminating',
      { ...full, replicas: 4 },
      /1 old replica\(s\).*pending termination/,
    ],
    ['updated replicas are not yet available', { ...full, availableReplicas: 1 }, /1 of 3 updated replicas/],
  ])('waits while %s', (_, status, message) => {
    const s = rolloutState(deployment({}, status));
    expect(s).toMatchObject({ done: false, failed: false });
    expect(s.message).toMatch(message);
  });
  it('fails on ProgressDeadlineExceeded, saying so', () => {
    const s = rolloutState(
      deployment(
        {},
        {
          ...full,
          availableReplicas: 0,
          conditions: [
            {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'ReplicaSet "x" has timed out progressing.',
            },
          ],
        },
      ),
    );
    expect(s).toMatchObject({ done: false, failed: true });
    expect(s.message).toContain('ProgressDeadlineExceeded');
  });
  it('is never complete while fewer replicas are available than wanted (property)', () => {
    fc.assert(
      fc.property(fc.nat(20), fc.nat(20), fc.nat(20), fc.nat(20), (want, updated, total, available) => {
        const s = rolloutState(
          deployment(
            { replicas: want },
            {
              observedGeneration: 2,
              replicas: total,
              updatedReplicas: updated,
              availableReplicas: available,
            },
          ),
        );
        if (s.done) expect(available >= want && updated >= want && total <= updated).toBe(true);
      }),
    );
  });
});

const template = (image: string, extra: Record<string, unknown> = {}): PodTemplate => ({
  metadata: { labels: { app: 'checkout' }, annotations: { 'shipgate.dev/version': '1.0.0' } },
  spec: { containers: [{ name: 'checkout', image, ...extra }] },
});
const live = (image: string | null, replicas = 2, t = template(image ?? '')): LiveDeployment => ({
  name: 'checkout',
  image,
  version: '1.0.0',
  replicas,
  template: t,
});
const expected = { version: '1.0.0', artifact: 'reg/checkout:1.0.0' };

describe('drift: what runs against what the ledger says', () => {
  it('finds nothing when the ledger and the cluster agree', () => {
    expect(
      findDrift(expected, { serving: live('reg/checkout:1.0.0'), recorded: template('reg/checkout:1.0.0') }),
    ).toEqual([]);
  });
  it('names an image set by hand (kubectl set image)', () => {
    expect(findDrift(expected, { serving: live('reg/checkout:hotfix'), recorded: null })).toEqual([
      {
        what: 'image',
        object: 'deployment/checkout',
        expected: 'reg/checkout:1.0.0',
        actual: 'reg/checkout:hotfix',
      },
    ]);
  });
  it('names a Deployment scaled to zero', () => {
    expect(findDrift(expected, { serving: live('reg/checkout:1.0.0', 0), recorded: null })).toEqual([
      { what: 'replicas', object: 'deployment/checkout', expected: 'at least 1', actual: '0' },
    ]);
  });
  it('names a template edited by hand, by the fields that changed, ignoring what shipgate writes', () => {
    const edited = template('reg/checkout:1.0.0', { env: [{ name: 'DEBUG', value: '1' }] });
    edited.metadata!.annotations!['shipgate.dev/release'] = 'other';
    const found = findDrift(expected, {
      serving: live('reg/checkout:1.0.0', 2, edited),
      recorded: template('reg/checkout:1.0.0'),
    });
    expect(found).toEqual([
      expect.objectContaining({ what: 'template', actual: 'changed: spec.containers[0].env' }),
    ]);
  });
  it('names a Service selector patched to the other colour', () => {
    const found = findDrift(expected, {
      serving: live('reg/checkout:0.9.0'),
      recorded: null,
      selector: {
        service: 'checkout',
        selects: 'deployment/checkout-green',
        expected: 'deployment/checkout-blue',
      },
    });
    expect(found[0]).toEqual({
      what: 'selector',
      object: 'service/checkout',
      expected: 'deployment/checkout-blue',
      actual: 'deployment/checkout-green',
    });
  });
  it('names a deleted Deployment', () => {
    expect(findDrift(expected, { serving: null, recorded: null })).toEqual([
      expect.objectContaining({ what: 'missing', actual: 'not found' }),
    ]);
  });
  it('lists at most five differing paths', () => {
    const a = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, i]));
    expect(differences(a, {})).toHaveLength(5);
  });
});

describe('the version a live image stands for', () => {
  it('reads it from the build template', () => {
    expect(
      versionFromImage('reg.example.com:5000/checkout:{{version}}', 'reg.example.com:5000/checkout:1.4.2'),
    ).toBe('1.4.2');
    expect(versionFromImage('reg/checkout:v{{version}}-slim', 'reg/checkout:v2.0.0-slim')).toBe('2.0.0');
  });
  it('says none for an image outside the template', () => {
    expect(versionFromImage('reg/checkout:{{version}}', 'evil.example/checkout:1.0.0')).toBeNull();
    expect(versionFromImage('reg/checkout:{{version}}', 'reg/checkout:')).toBeNull();
    expect(versionFromImage(undefined, 'reg/checkout:1')).toBeNull();
  });
});

describe('image artifacts', () => {
  it('fills the version into the template', () => {
    expect(imageArtifact('reg/checkout:{{version}}', 'checkout', '1.2.0').artifact).toBe(
      'reg/checkout:1.2.0',
    );
  });
  it('turns semver build metadata into a valid tag', () => {
    expect(imageArtifact('reg/checkout:{{version}}', 'checkout', '1.2.0+build.7').artifact).toBe(
      'reg/checkout:1.2.0_build.7',
    );
  });
  it('refuses a version that could change the registry or repository', () => {
    for (const v of ['../x', 'a/b', 'a:b', 'a@sha256:00', ''])
      expect(() => imageArtifact('reg/checkout:{{version}}', 'checkout', v)).toThrow(/is not a version/);
  });
});

describe('canary replicas', () => {
  it('gives the canary at least one pod and never all of them before promotion (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 99 }), (total, percent) => {
        const r = canaryReplicas(total, percent);
        expect(r).toBeGreaterThanOrEqual(1);
        if (total > 1) expect(r).toBeLessThan(total);
      }),
    );
  });
  it('follows the step', () => {
    expect([10, 50, 90].map((p) => canaryReplicas(10, p))).toEqual([1, 5, 9]);
  });
});

describe('template revisions', () => {
  it('are named within Kubernetes limits and differ per version', () => {
    const a = revisionName('a'.repeat(63), '1.0.0');
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(revisionName('a'.repeat(63), '1.0.1'));
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});
