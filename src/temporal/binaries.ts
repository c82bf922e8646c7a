import { existsSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const VENV_BIN = path.join(PROJECT_ROOT, '.tools', 'venv', 'bin');

function onPath(name: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** TEMPORAL_CLI, then the project's .tools/venv, then `temporal` on PATH, then a `go install`ed one. */
export function temporalCliPath(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [
    env.TEMPORAL_CLI,
    path.join(VENV_BIN, 'temporal'),
    onPath('temporal'),
    path.join(env.GOPATH ?? path.join(env.HOME ?? '/root', 'go'), 'bin', 'temporal'),
  ];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error('Temporal CLI not found: run scripts/setup.sh, or set TEMPORAL_CLI');
  return found;
}

/** TEMPORAL_TEST_SERVER, then the project's .tools/venv; null when the time-skipping server cannot be had. */
export function temporalTestServerPath(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [
    env.TEMPORAL_TEST_SERVER,
    path.join(VENV_BIN, 'temporal-test-server'),
    onPath('temporal-test-server'),
  ];
  return candidates.find((c): c is string => !!c && existsSync(c)) ?? null;
}
