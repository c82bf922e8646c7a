#!/usr/bin/env node
// Bundles the CLI (src/cli/main.ts) into build/cli/shipgate.mjs, which bin/shipgate.js runs, and a few chunks:
// a handful of files to read and compile instead of some 250 modules, so a command that only talks to Temporal reaches
// its first RPC sooner. Runs after `tsc` (npm run build): the commands that host the worker, the data plane or
// a server (worker, dev, demo, down, slack, ui) are not bundled; main() hands them to the compiled build/cli/main.js
// next to the bundle, and the root help lists them from what this script captures from that build.
// Usage: node scripts/build-cli.mjs
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compiled = path.join(root, 'build', 'cli');
/** Code only some commands load (audit verify, config parsing, S3): chunks read on demand, beside the entry. */
const CHUNKS = 'shipgate-chunks';

/** module file (under src/cli/commands) → the register function it exports, for each delegated command. */
const DELEGATED = {
  worker: 'registerWorker',
  dev: 'registerDev',
  demo: 'registerDemo',
  down: 'registerDown',
  slack: 'registerSlack',
  ui: 'registerUi',
};

if (!existsSync(path.join(compiled, 'main.js'))) {
  process.stderr.write('build-cli: build/cli/main.js is missing; run tsc first (npm run build)\n');
  process.exit(2);
}

// What the root help says of each delegated command, from the compiled commands themselves.
const { Command } = await import('commander');
const delegatedHelp = [];
for (const [module, fn] of Object.entries(DELEGATED)) {
  const mod = await import(pathToFileURL(path.join(compiled, 'commands', `${module}.js`)).href);
  const program = new Command('shipgate');
  mod[fn](program, async () => {});
  const help = program.createHelp();
  for (const cmd of program.commands)
    delegatedHelp.push({
      module,
      name: cmd.name(),
      term: help.subcommandTerm(cmd),
      description: help.subcommandDescription(cmd),
    });
}

const delegatedImports = new RegExp(`^\\./commands/(${Object.keys(DELEGATED).join('|')})\\.js$`);

// Built beside the live bundle, then moved in: chunks first (new names, by content hash), the entry last by one
// rename, so a CLI or worker process starting meanwhile loads either the old bundle or the new one, whole. Old chunks
// stay a while for processes that started before and import them later.
const staging = path.join(compiled, `.next-${process.pid}`);
rmSync(staging, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { shipgate: 'src/cli/main.ts' },
  outdir: staging,
  outExtension: { '.js': '.mjs' },
  chunkNames: `${CHUNKS}/[name]-[hash]`,
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  // Bundled CommonJS packages (grpc-js, protobufjs, commander) call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __shipgateCreateRequire } from 'node:module';\nconst require = __shipgateCreateRequire(import.meta.url);",
  },
  define: { __SHIPGATE_BUNDLE__: JSON.stringify({ delegatedHelp }) },
  // Packages the bundled commands load only on demand and that are large or native: kept in node_modules.
  external: ['@temporalio/worker', '@temporalio/core-bridge', '@kubernetes/client-node', '@aws-sdk/*'],
  plugins: [
    {
      name: 'delegated-commands',
      setup(b) {
        // Left as imports of the compiled modules beside the bundle; main() never reaches them from the bundle.
        b.onResolve({ filter: delegatedImports }, (args) => ({ path: args.path, external: true }));
      },
    },
    {
      // @temporalio/proto builds every message type of its tree when loaded (about a third of the CLI's start-up
      // CPU before its first RPC). The CLI is a client: the Cloud Ops API and the Core SDK's worker protocol are
      // never used by @temporalio/client or common, and nothing else in the tree refers to them, so the bundle
      // carries the tree without those two namespaces (the worker, not bundled, loads the whole one).
      name: 'client-protos',
      setup(b) {
        b.onLoad({ filter: /@temporalio[\\/]proto[\\/]protos[\\/]json-module\.js$/ }, (args) => {
          const src = readFileSync(args.path, 'utf8');
          const start = src.indexOf('.addJSON(') + '.addJSON('.length;
          const end = src.lastIndexOf('})') + 1;
          const tree = JSON.parse(src.slice(start, end));
          if (!tree.coresdk || !tree.temporal?.nested?.api?.nested?.cloud)
            throw new Error('build-cli: @temporalio/proto changed shape; review the client-protos plugin');
          delete tree.coresdk;
          delete tree.temporal.nested.api.nested.cloud;
          return { contents: src.slice(0, start) + JSON.stringify(tree) + src.slice(end), loader: 'js' };
        });
      },
    },
  ],
  metafile: true,
  legalComments: 'eof',
  sourcemap: false,
  minify: false,
  logLevel: 'warning',
});

mkdirSync(path.join(compiled, CHUNKS), { recursive: true });
for (const name of readdirSync(path.join(staging, CHUNKS)))
  renameSync(path.join(staging, CHUNKS, name), path.join(compiled, CHUNKS, name));
renameSync(path.join(staging, 'shipgate.mjs'), path.join(compiled, 'shipgate.mjs'));
rmSync(staging, { recursive: true, force: true });
const CHUNK_GRACE_MS = 10 * 60_000;
const entryText = readFileSync(path.join(compiled, 'shipgate.mjs'), 'utf8');
const chunkDir = path.join(compiled, CHUNKS);
for (const name of readdirSync(chunkDir)) {
  const file = path.join(chunkDir, name);
  // A chunk only another chunk imports is kept with the entry's; age decides for the rest.
  const inUse = entryText.includes(name) || Date.now() - statSync(file).mtimeMs < CHUNK_GRACE_MS;
  if (!inUse) rmSync(file, { force: true });
}
