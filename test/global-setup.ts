import { execFileSync } from 'node:child_process';

/** Integration tests run the compiled CLI and worker as real processes, so compile once before any test file. */
export function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
