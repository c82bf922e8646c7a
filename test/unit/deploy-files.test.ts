import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/processes.js';

/**
 * The cluster tier runs what docker-compose.yml runs: the same Temporal server version and the same dynamic
 * config file. These read both files, so neither can drift from the other unnoticed.
 */
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { image?: string }>;
  configs: Record<string, { file?: string }>;
};
const script = readFileSync(path.join(ROOT, 'scripts', 'temporal-cluster.sh'), 'utf8');

describe('the cluster test bed and docker-compose.yml agree', () => {
  it('on the Temporal server version (server and admin-tools images, and the Go module the script builds)', () => {
    const built = /^TEMPORAL_VERSION=v(\S+)$/m.exec(script)?.[1];
    expect(built).toMatch(/^\d+\.\d+\.\d+$/);
    expect(compose.services.temporal!.image).toBe(`temporalio/server:${built}`);
    for (const job of ['temporal-schema', 'temporal-namespace'])
      expect(compose.services[job]!.image).toBe(`temporalio/admin-tools:${built}`);
  });

  it('on the dynamic config: both use deploy/temporal/dynamic-config.yaml, whose keys all exist in the server built', () => {
    expect(compose.configs['temporal-dynamic-config']!.file).toBe('./deploy/temporal/dynamic-config.yaml');
    expect(script).toContain('DYNAMIC_CONFIG=$ROOT/deploy/temporal/dynamic-config.yaml');
    const keys = Object.keys(
      parse(readFileSync(path.join(ROOT, 'deploy', 'temporal', 'dynamic-config.yaml'), 'utf8')) as object,
    );
    expect(keys).toContain('system.forceSearchAttributesCacheRefreshOnRead');
    // The keys the built server's own source declares (the build extracts them; scripts/test.sh built it).
    const build = spawnSync('bash', [path.join(ROOT, 'scripts', 'temporal-cluster.sh'), 'build'], {
      encoding: 'utf8',
    });
    expect(build.status, build.stderr).toBe(0);
    const known = new Set(
      readFileSync(path.join(build.stdout.trim(), 'dynamic-config-keys.txt'), 'utf8')
        .split('\n')
        .map((k) => k.toLowerCase()),
    );
    // Keys match case-insensitively; frontend.enableExecuteMultiOperation, once listed here, is not among them.
    for (const key of keys)
      expect(known.has(key.toLowerCase()), `${key} is not a key of this server`).toBe(true);
    expect(known.has('frontend.enableexecutemultioperation')).toBe(false);
  });
});
