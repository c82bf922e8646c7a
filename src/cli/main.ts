import { Command, CommanderError } from 'commander';
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
  audit: async () => (await import('./commands/audit.js')).registerAudit,
};

const GLOBAL_OPTIONS_WITH_VALUES = new Set(['--config', '--address', '--namespace']);

/** The first word that is not an option or a global option's value. */
function commandName(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_OPTIONS_WITH_VALUES.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
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
  // `rollback` never pays for the worker runtime, the config parser or the data plane.
  const wanted = commandName(argv);
  const loaders = wanted && wanted in COMMANDS ? [COMMANDS[wanted]!] : [...new Set(Object.values(COMMANDS))];
  for (const load of loaders) (await load())(program, run);

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
