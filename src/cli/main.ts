import { Command, CommanderError } from 'commander';
import { CliContext, type GlobalOptions, type Runner } from './context.js';
import { EXIT, toCliError } from './errors.js';
import { registerRelease } from './commands/release.js';
import { registerApprove } from './commands/approve.js';
import { registerDecision } from './commands/decide.js';
import { registerStatus } from './commands/status.js';
import { registerHistory } from './commands/history.js';
import { registerRollback } from './commands/rollback.js';
import { registerFreeze } from './commands/freeze.js';
import { registerWindows } from './commands/windows.js';
import { registerDown } from './commands/down.js';
import { registerWorker } from './commands/worker.js';
import { registerDev } from './commands/dev.js';
import { registerDemo } from './commands/demo.js';
import { registerSlack } from './commands/slack.js';

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
      const e = toCliError(err, ctx.temporal.address);
      exitCode = e.exitCode;
      process.stderr.write(`shipgate: ${e.message}\n`);
      if (ctx.json) process.stdout.write(JSON.stringify({ error: e.message, exitCode: e.exitCode }) + '\n');
    }
    // No graceful close: the process exits right after, and closing the gRPC channel costs a round trip.
  };

  registerRelease(program, run);
  registerApprove(program, run);
  registerDecision(program, run, 'reject');
  registerDecision(program, run, 'cancel');
  registerDecision(program, run, 'override');
  registerStatus(program, run);
  registerHistory(program, run);
  registerRollback(program, run);
  registerFreeze(program, run);
  registerWindows(program, run);
  registerDown(program, run);
  registerWorker(program, run);
  registerDev(program, run);
  registerDemo(program, run);
  registerSlack(program, run);

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
