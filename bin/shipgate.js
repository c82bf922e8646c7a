#!/usr/bin/env node
// The CLI runs from build/ (the bundle, or the compiled modules); `npm run build` (part of the README's set-up) makes it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import module from 'node:module';

// shipgate needs Node 24. On a machine whose Node is older, `scripts/setup.sh` installed a pinned Node 24 under
// .tools/; run the CLI with it, so `npx shipgate` works without touching PATH.
const pinned = new URL('../.tools/node/bin/node', import.meta.url);
if (Number(process.versions.node.split('.')[0]) < 24 && existsSync(pinned)) {
  const child = spawn(pinned.pathname, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Ctrl-C reaches the child through the terminal's process group; a signal sent to this process alone is passed on.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 143)));
} else {
  await run();
}

async function run() {
  // The bundle (scripts/build-cli.mjs, part of `npm run build`) starts faster; SHIPGATE_CLI_UNBUNDLED=1 runs the
  // compiled modules instead (benchmarks compare the two). Either way the same main().
  const bundle = new URL('../build/cli/shipgate.mjs', import.meta.url);
  const compiled = new URL('../build/cli/main.js', import.meta.url);
  const entry = existsSync(bundle) && !process.env.SHIPGATE_CLI_UNBUNDLED ? bundle : compiled;
  if (!existsSync(entry)) {
    process.stderr.write('shipgate: not built yet; run `npm run build` (or `make setup`) first\n');
    process.exit(2);
  }
  // V8's compiled code for the CLI's modules, cached on disk (under the OS temp dir) across runs.
  module.enableCompileCache?.();
  const { main } = await import(entry.href);
  process.exit(await main(process.argv.slice(2)));
}
