import type { Command } from 'commander';
import { ShipgateClient } from '../../client.js';
import { checkNames, requireVersion, type Runner } from '../context.js';
import { refused } from '../errors.js';
import { formatStatus, statusJson } from '../format.js';

export function registerStatus(program: Command, run: Runner) {
  program
    .command('status <app> <version>')
    .description('stage, state, approvals and environments of a release')
    .action((app: string, version: string) =>
      run(async (ctx) => {
        requireVersion(version);
        checkNames(await ctx.explicitConfig(), app);
        try {
          const s = await new ShipgateClient(await ctx.client()).status(app, version);
          ctx.print(formatStatus(s), statusJson(s));
        } catch (err) {
          if ((err as Error).name === 'WorkflowNotFoundError')
            throw refused(`no release ${app} ${version} found`);
          throw err;
        }
      }),
    );
}
