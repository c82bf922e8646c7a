import type { Command } from 'commander';
import { createTargets } from '../../targets/registry.js';
import type { Runner } from '../context.js';

export function registerDown(program: Command, run: Runner) {
  program
    .command('down')
    .description('stop every local-target process recorded under SHIPGATE_HOME')
    .action(() =>
      run(async (ctx) => {
        const result = await createTargets({ home: ctx.home }).stopAll();
        ctx.print(`Stopped ${result.stopped} local-target process(es) under ${ctx.home}.`, result);
      }),
    );
}
