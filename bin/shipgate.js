#!/usr/bin/env node
// The CLI runs from the compiled build/ folder; `npm run build` (part of the README's set-up) makes it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

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
  const entry = new URL('../build/cli/main.js', import.meta.url);
  if (!existsSync(entry)) {
    process.stderr.write('shipgate: not built yet; run `npm run build` (or `make setup`) first\n');
    process.exit(2);
  }
  const { main } = await import(entry.href);
  process.exit(await main(process.argv.slice(2)));
}
