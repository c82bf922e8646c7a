/**
 * Drift: what runs on the cluster compared with what the ledger says serves. Pure: the target reads the live
 * objects into a `LiveView`, and these rules say what differs (an image set by hand, a Deployment scaled to
 * zero, a selector patched to another colour, a template edited otherwise, an object deleted).
 */
import type { DriftFinding, ExpectedState } from '../types.js';
import type { PodTemplate } from './types.js';

export interface LiveDeployment {
  name: string;
  image: string | null;
  version: string | null;
  replicas: number;
  template: PodTemplate;
}

export interface LiveView {
  /** The Deployment that should serve (rolling and canary: the stable one; blue-green: the selected colour). */
  serving: LiveDeployment | null;
  /** Blue-green: the colour whose Deployment runs the expected version, if another than the selected one. */
  expectedColourDeployment?: LiveDeployment | null;
  /** Blue-green: which Deployment the Service selects (`deployment/<name>`), or why it selects none. */
  selector?: { service: string; selects: string | null; expected: string | null };
  /** The template recorded when the expected version last rolled out here, if any. */
  recorded: PodTemplate | null;
}

/** Template fields compared for "changed by hand": everything but the annotations shipgate itself writes. */
function comparable(t: PodTemplate): unknown {
  const copy = structuredClone(t);
  const ann = { ...copy.metadata?.annotations };
  for (const k of Object.keys(ann)) if (k.startsWith('shipgate.dev/')) delete ann[k];
  if (copy.metadata) copy.metadata.annotations = ann;
  return copy;
}

/** Dotted paths where two JSON values differ, at most `limit` of them (for a message, not a patch). */
export function differences(a: unknown, b: unknown, path = '', limit = 5, out: string[] = []): string[] {
  if (out.length >= limit) return out;
  if (JSON.stringify(a) === JSON.stringify(b)) return out;
  const isObj = (v: unknown) => v !== null && typeof v === 'object';
  if (!isObj(a) || !isObj(b) || Array.isArray(a) !== Array.isArray(b)) {
    out.push(path || '(root)');
    return out;
  }
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
  for (const k of [...keys].sort()) {
    const item = Array.isArray(a) ? `[${k}]` : path ? `.${k}` : k;
    differences(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      `${path}${item}`,
      limit,
      out,
    );
  }
  return out;
}

export function findDrift(expected: ExpectedState, live: LiveView): DriftFinding[] {
  const out: DriftFinding[] = [];
  if (live.selector && live.selector.selects !== live.selector.expected) {
    out.push({
      what: 'selector',
      object: `service/${live.selector.service}`,
      expected: live.selector.expected ?? `a Deployment running ${expected.version}`,
      actual: live.selector.selects ?? 'no shipgate Deployment',
    });
  }
  const d = live.serving;
  if (!d) {
    out.push({
      what: 'missing',
      object: 'deployment',
      expected: `running ${expected.version}`,
      actual: 'not found',
    });
    return out;
  }
  const object = `deployment/${d.name}`;
  if (d.image !== expected.artifact)
    out.push({
      what: 'image',
      object,
      expected: expected.artifact,
      actual: d.image ?? '(no such container)',
    });
  if (d.replicas === 0) out.push({ what: 'replicas', object, expected: 'at least 1', actual: '0' });
  if (d.image === expected.artifact && live.recorded) {
    const changed = differences(comparable(live.recorded), comparable(d.template));
    if (changed.length)
      out.push({
        what: 'template',
        object,
        expected: 'the pod template it rolled out with',
        actual: `changed: ${changed.join(', ')}`,
      });
  }
  return out;
}

/** The version an image reference stands for under the build's template (`registry/app:{{version}}`), if any. */
export function versionFromImage(template: string | undefined, image: string): string | null {
  if (!template) return null;
  const [before, after] = template.split('{{version}}') as [string, string | undefined];
  if (after === undefined || !image.startsWith(before) || !image.endsWith(after)) return null;
  const v = image.slice(before.length, image.length - after.length);
  return /^[0-9A-Za-z][0-9A-Za-z._+-]{0,127}$/.test(v) ? v : null;
}
