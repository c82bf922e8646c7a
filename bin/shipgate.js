#!/usr/bin/env node
// The CLI runs from the compiled build/ folder; `npm run build` (part of the README's set-up) makes it.
import { existsSync } from 'node:fs';

const entry = new URL('../build/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('shipgate: not built yet; run `npm run build` (or `make setup`) first\n');
  process.exit(2);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
process.exit(code);
