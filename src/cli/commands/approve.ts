import type { Command } from 'commander';
import { ShipgateClient } from '../../client.js';
import { checkNames, requireLogin, requireText, requireVersion, type Runner } from '../context.js';

export function registerApprove(program: Command, run: Runner) {
  program
    .command('approve <app> <version>')
    .description('approve a release waiting at its approval gate; prints the tally')
    .option('--as <login>', 'who approves')
    .option('--comment <text>', 'why')
    .action((app: string, version: string, o: { as?: string; comment?: string }) =>
      run(async (ctx) => {
        requireVersion(version);
        const by = requireLogin(o.as);
        if (o.comment !== undefined) requireText(o.comment, '--comment');
        checkNames(await ctx.explicitConfig(), app);
        const result = await new ShipgateClient(await ctx.client()).approve(app, version, {
          by,
          via: 'cli',
          comment: o.comment,
        });
        const tally = result.tally.map((t) => `${t.group} ${t.have}/${t.count}`).join(', ');
        ctx.print(
          `Approved ${app} ${version} for ${result.environment} as ${by}. Tally: ${tally}${result.met ? ' — approvals complete' : ''}`,
          result,
        );
      }),
    );
}
