import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The `export K='V'` lines a test-bed script (kube-plane, s3-server, temporal-cluster) writes to DIR/env. */
export async function readEnvFile(dir: string): Promise<Record<string, string>> {
  return Object.fromEntries(
    (await readFile(path.join(dir, 'env'), 'utf8'))
      .split('\n')
      .map((l) => /^export (\w+)='(.*)'$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[1], m[2]]),
  ) as Record<string, string>;
}
