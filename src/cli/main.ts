import { Command, CommanderError, Help } from 'commander';
import { CliContext, type GlobalOptions, type Runner } from './context.js';
import { EXIT, toShipgateError } from '../client/errors.js';
import { escLines, jsonForTerminal } from '../client/text.js';

type Register = (program: Command, run: Runner) => void;

const decision = (which: 'reject' | 'cancel' | 'override') => async (): Promise<Register> => {
  const { registerDecision } = await import('./commands/decide.js');
  return (program, run) => registerDecision(program, run, which);
};
const freeze = async (): Promise<Register> => (await import('./commands/freeze.js')).registerFreeze;

const COMMANDS: Record<string, () => Promise<Register>> = {
  release: async () => (await import('./commands/release.js')).registerRelease,
  approve: async () => (await import('./commands/approve.js')).registerApprove,
  reject: decision('reject'),
  cancel: decision('cancel'),
  override: decision('override'),
  status: async () => (await import('./commands/status.js')).registerStatus,
  history: async () => (await import('./commands/history.js')).registerHistory,
  rollback: async () => (await import('./commands/rollback.js')).registerRollback,
  adopt: async () => (await import('./commands/adopt.js')).registerAdopt,
  teardown: async () => (await import('./commands/teardown.js')).registerTeardown,
  freeze,
  unfreeze: freeze,
  windows: async () => (await import('./commands/windows.js')).registerWindows,
  down: async () => (await import('./commands/down.js')).registerDown,
  worker: async () => (await import('./commands/worker.js')).registerWorker,
  dev: async () => (await import('./commands/dev.js')).registerDev,
  demo: async () => (await import('./commands/demo.js')).registerDemo,
  slack: async () => (await import('./commands/slack.js')).registerSlack,
  ui: async () => (await import('./commands/ui.js')).registerUi,
  audit: async () => (await import('./commands/audit.js')).registerAudit,
};

/**
 * Commands that host the worker, the data plane or a server. The bundle (build/cli/shipgate.mjs, see
 * scripts/build-cli.mjs) leaves them out and hands them to the compiled build, which loads their modules
 * from where they expect to be (the worker bundles workflow code and spawns proxies relative to its files).
 */
const DELEGATED: ReadonlySet<string> = new Set(['worker', 'dev', 'demo', 'down', 'slack', 'ui']);

/** A delegated command as the root help lists it, captured when the bundle is built. */
export interface HelpStub {
  module: string;
  name: string;
  term: string;
  description: string;
}

/** Set by the bundle's build (esbuild `define`); undefined when this runs from the compiled build. */
declare const __SHIPGATE_BUNDLE__: { delegatedHelp: HelpStub[] } | undefined;
const BUNDLE = typeof __SHIPGATE_BUNDLE__ === 'undefined' ? undefined : __SHIPGATE_BUNDLE__;

const GLOBAL_OPTIONS_WITH_VALUES = new Set(['--config', '--address', '--namespace']);

/** The first word that is not an option or a global option's value (for `help X`, X). */
export function commandName(argv: string[]): string | undefined {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const arg = argv[i]!;
    if (GLOBAL_OPTIONS_WITH_VALUES.has(arg)) i++;
    else if (!arg.startsWith('-')) words.push(arg);
  }
  return words[0] === 'help' && words[1] && words[1] in COMMANDS ? words[1] : words[0];
}

export async function main(argv: string[]): Promise<number> {
  const wanted = commandName(argv);
  if (BUNDLE && wanted !== undefined && DELEGATED.has(wanted)) {
    // Not a literal, so esbuild leaves it alone: the compiled build next to the bundle.
    const compiled = new URL('./main.js', import.meta.url).href;
    return ((await import(compiled)) as { main: typeof main }).main(argv);
  }
  const program = new Command('shipgate')
    .description(
      'deployments with staging, smoke tests, two-person approval, maintenance windows and automatic rollback',
    )
    .option('--config <file>', 'shipgate.yaml (default: SHIPGATE_CONFIG, then ./shipgate.yaml)')
    .option('--address <host:port>', 'Temporal address (default: TEMPORAL_ADDRESS or localhost:7233)')
    .option('--namespace <ns>', 'Temporal namespace (default: TEMPORAL_NAMESPACE or default)')
    .option('--json', 'print one JSON document on stdout')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  let exitCode: number = EXIT.ok;
  const run: Runner = async (fn) => {
    const ctx = new CliContext(program.opts<GlobalOptions>());
    try {
      exitCode = (await fn(ctx)) ?? EXIT.ok;
    } catch (err) {
      const e = toShipgateError(err, ctx.temporal.address);
      exitCode = e.exitCode;
      // Refusal reasons may quote what someone sent: no raw control character reaches the terminal.
      process.stderr.write(`shipgate: ${escLines(e.message)}\n`);
      if (ctx.json)
        process.stdout.write(jsonForTerminal({ error: e.message, exitCode: e.exitCode }, 0) + '\n');
    }
    // No graceful close: the process exits right after, and closing the gRPC channel costs a round trip.
  };

  // Only the invoked command's module is loaded (all of them for help or a typo), so a client command such as
  // `rollback` never pays for the worker runtime, the config parser or the data plane. In the bundle, help
  // lists the delegated commands from what the build captured, without loading them.
  if (wanted && wanted in COMMANDS) (await COMMANDS[wanted]!())(program, run);
  else {
    const stubs = BUNDLE ? helpStubs(program, BUNDLE.delegatedHelp) : undefined;
    const loaders = new Map<() => Promise<Register>, string>();
    for (const [name, load] of Object.entries(COMMANDS)) if (!loaders.has(load)) loaders.set(load, name);
    for (const [load, name] of loaders) {
      if (stubs && DELEGATED.has(name)) stubs(name);
      else (await load())(program, run);
    }
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
        ? EXIT.ok
        : EXIT.badInput;
    }
    throw err;
  }
  return exitCode;
}

/** Registers a delegated module's commands as the root help shows them: name, usage term and description. */
function helpStubs(program: Command, captured: HelpStub[]): (module: string) => void {
  const terms = new Map<Command, string>();
  program.configureHelp({
    subcommandTerm(cmd) {
      return terms.get(cmd) ?? Help.prototype.subcommandTerm.call(this, cmd);
    },
  });
  return (module) => {
    for (const stub of captured.filter((s) => s.module === module))
      terms.set(program.command(stub.name).description(stub.description), stub.term);
  };
}
