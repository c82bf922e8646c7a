#!/usr/bin/env node
// Bundles the GitHub Action (src/integrations/github-action/main.ts) into one ESM file, dist/index.js, that
// the runner starts with `node` (action.yml: runs.using node24). Usage: node scripts/build-action.mjs [OUTFILE]
// The output is deterministic, so a test rebuilds it into a temp dir and compares it with the committed file.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.resolve(process.argv[2] ?? path.join(root, 'dist', 'index.js'));

await build({
  absWorkingDir: root,
  entryPoints: ['src/integrations/github-action/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  // Bundled CommonJS packages (grpc-js, protobufjs) call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __shipgateCreateRequire } from 'node:module';\nconst require = __shipgateCreateRequire(import.meta.url);",
  },
  // The worker runtime is never part of the Action: it only talks to Temporal as a client.
  external: ['@temporalio/worker', '@temporalio/core-bridge'],
  legalComments: 'eof',
  sourcemap: false,
  minify: false,
  logLevel: 'warning',
});
