import type { Command } from 'commander';
import { requireVersion } from '../../client/validate.js';
import { checkNames, type Runner } from '../context.js';
import { formatStatus, statusJson } from '../format.js';

export function registerStatus(program: Command, run: Runner) {
  program
    .command('status <app> <version>')
    .description('stage, state, approvals and environments of a release')
    .action((app: string, version: string) =>
      run(async (ctx) => {
        requireVersion(version);
        checkNames(await ctx.explicitConfig(), app);
        const s = await (await ctx.shipgate()).statusNow(app, version);
        ctx.print(formatStatus(s), statusJson(s));
      }),
    );
}
