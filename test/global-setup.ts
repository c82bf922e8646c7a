import { spawnSync } from 'node:child_process';

/**
 * Integration tests run the compiled CLI and worker as real processes, so compile once before any test file.
 * Type errors do not stop the emit (tsc exits 2 and still writes dist/): `tsc --noEmit` is its own check in
 * `make test`, and one type error should not hide every runtime failure behind it.
 */
export function setup(): void {
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (r.status !== 0 && r.status !== 2)
    throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.status})`);
  // bin/shipgate.js runs the CLI bundle: rebuild it from the same sources, so no test spawns a stale one.
  const b = spawnSync(process.execPath, ['scripts/build-cli.mjs'], { stdio: 'inherit' });
  if (b.status !== 0) throw new Error(`scripts/build-cli.mjs failed (exit ${b.status})`);
}
