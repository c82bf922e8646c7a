import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { DEPRECATED_INPUTS } from '../../src/integrations/github-action/inputs.js';
import { ROOT } from '../helpers/processes.js';

interface ActionYml {
  runs: { using: string; main: string };
  inputs: Record<string, { required?: boolean; default?: string; description?: string }>;
  outputs: Record<string, unknown>;
}
interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  permissions?: unknown;
  jobs: Record<string, { steps?: Step[]; permissions?: unknown; uses?: string }>;
}

const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as ActionYml;
const workflowDir = path.join(ROOT, '.github', 'workflows');
const workflows = readdirSync(workflowDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => {
    const text = readFileSync(path.join(workflowDir, f), 'utf8');
    return { file: f, text, yaml: parse(text) as Workflow };
  });

describe('dist/index.js', () => {
  it('is what a fresh build of the sources produces (run `npm run build:action` when this fails)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shipgate-action-build-'));
    try {
      const out = path.join(dir, 'index.js');
      execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-action.mjs'), out], { cwd: ROOT });
      const fresh = readFileSync(out);
      const committed = readFileSync(path.join(ROOT, 'dist', 'index.js'));
      expect(
        committed.equals(fresh),
        'dist/index.js is stale: run `npm run build:action` and commit dist/',
      ).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('action.yml', () => {
  it('runs the bundle on node24 and declares the Contract inputs and outputs', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    expect(Object.keys(action.inputs)).toEqual(
      expect.arrayContaining([
        'address',
        'namespace',
        'api-key',
        'tls-cert',
        'tls-key',
        'app',
        'version',
        'audience',
        'wait-for',
        'timeout-minutes',
      ]),
    );
    expect(action.inputs['wait-for']!.default).toBe('staging');
    expect(action.inputs.audience!.default).toBe('shipgate');
    // Kept so existing workflows still run; each one says it is ignored.
    for (const name of DEPRECATED_INPUTS) {
      expect(action.inputs[name]!.required).toBeFalsy();
      expect(action.inputs[name]!.description).toMatch(/^Deprecated and ignored/);
      expect(action.inputs[name]!.default).toBeUndefined();
    }
    expect(action.inputs.app!.required).toBe(true);
    expect(action.inputs.version!.required).toBe(true);
    expect(Object.keys(action.outputs).sort()).toEqual(['release-id', 'stage', 'state']);
  });

  it('declares exactly the inputs the code reads', () => {
    const source = readFileSync(path.join(ROOT, 'src/integrations/github-action/inputs.ts'), 'utf8');
    const read = new Set([
      ...[...source.matchAll(/(?:read|requireInput\(read,)\s*\(?\s*'([a-z-]+)'/g)].map((m) => m[1]),
      // Read in a loop, to warn that they are ignored.
      ...DEPRECATED_INPUTS,
    ]);
    expect([...read].sort()).toEqual(Object.keys(action.inputs).sort());
  });
});

describe('workflows', () => {
  it('pass only declared inputs to the action, and every required one', () => {
    let uses = 0;
    for (const { file, yaml } of workflows)
      for (const job of Object.values(yaml.jobs))
        for (const step of job.steps ?? []) {
          if (step.uses !== '$/' && step.uses !== './') continue;
          uses++;
          const given = Object.keys(step.with ?? {});
          for (const name of given)
            expect(action.inputs, `${file}: unknown input ${name}`).toHaveProperty([name]);
          for (const [name, spec] of Object.entries(action.inputs))
            if (spec.required) expect(given, `${file}: missing ${name}`).toContain(name);
        }
    expect(uses).toBeGreaterThanOrEqual(2);
  });

  it('never expand expressions inside run: scripts', () => {
    for (const { file, yaml } of workflows)
      for (const job of Object.values(yaml.jobs))
        for (const step of job.steps ?? [])
          if (step.run) expect(step.run, `${file}: \${{ }} in run:`).not.toContain('${{');
  });

  it('pin every remote action by full commit SHA, with its version in a comment', () => {
    for (const { file, text } of workflows)
      for (const m of text.matchAll(/^\s*(?:-\s*)?uses:\s*(\S+)(.*)$/gm)) {
        const [ref, rest] = [m[1]!, m[2]!];
        if (ref.startsWith('$/') || ref.startsWith('./')) continue;
        expect(ref, `${file}: ${ref}`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
        expect(rest, `${file}: ${ref} needs a # vX.Y.Z comment`).toMatch(/^\s+# v\d+\.\d+\.\d+$/);
      }
  });

  it('set up Node 24, the version the Action itself runs on', () => {
    let setups = 0;
    for (const { file, yaml } of workflows)
      for (const job of Object.values(yaml.jobs))
        for (const step of job.steps ?? []) {
          if (!step.uses?.startsWith('actions/setup-node@')) continue;
          setups++;
          expect(String(step.with?.['node-version']), file).toBe('24');
        }
    expect(setups).toBeGreaterThanOrEqual(1);
  });

  it('declare permissions: contents: read at most, and id-token: write only on jobs that run the action', () => {
    for (const { file, yaml } of workflows) {
      expect(yaml.permissions, `${file}: top-level permissions`).toBeDefined();
      expect([{}, { contents: 'read' }], `${file}: top-level permissions`).toContainEqual(yaml.permissions);
      for (const [name, job] of Object.entries(yaml.jobs)) {
        const p = job.permissions;
        if (p === undefined || (typeof p === 'object' && p !== null && Object.keys(p).length === 0)) continue;
        const runsAction = (job.steps ?? []).some((s) => s.uses === '$/' || s.uses === './');
        expect(p, `${file}: ${name}`).toEqual(runsAction ? { 'id-token': 'write' } : { contents: 'read' });
      }
    }
  });

  it('grant id-token: write to every job that runs the action: its ID token is the release’s proof', () => {
    let jobs = 0;
    for (const { file, yaml } of workflows)
      for (const [name, job] of Object.entries(yaml.jobs)) {
        if (!(job.steps ?? []).some((s) => s.uses === '$/' || s.uses === './')) continue;
        jobs++;
        expect(job.permissions, `${file}: ${name}`).toEqual({ 'id-token': 'write' });
      }
    expect(jobs).toBeGreaterThanOrEqual(2);
  });
});
