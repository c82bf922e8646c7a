import type { Command } from 'commander';
import { requireFutureTime, requireLogin, requireText } from '../../client/validate.js';
import { checkNames, type Runner } from '../context.js';

export function registerFreeze(program: Command, run: Runner) {
  program
    .command('freeze <app> <env>')
    .description('block deploys to an environment until a time')
    .option('--until <iso>', 'when the freeze ends (ISO-8601)')
    .option('--as <login>', 'who freezes')
    .option('--reason <text>', 'why (required)')
    .action((app: string, env: string, o: { until?: string; as?: string; reason?: string }) =>
      run(async (ctx) => {
        const until = requireFutureTime(o.until, '--until');
        const by = requireLogin(o.as);
        const reason = requireText(o.reason, '--reason');
        checkNames(await ctx.explicitConfig(), app, env);
        const freeze = await (await ctx.shipgate()).freeze(app, env, { by, via: 'cli', until, reason });
        ctx.print(`Froze ${app}/${env} until ${freeze.until}: ${reason}`, freeze);
      }),
    );
  program
    .command('unfreeze <app> <env>')
    .description('lift the freezes on an environment')
    .option('--as <login>', 'who unfreezes')
    .action((app: string, env: string, o: { as?: string }) =>
      run(async (ctx) => {
        const by = requireLogin(o.as);
        checkNames(await ctx.explicitConfig(), app, env);
        const result = await (await ctx.shipgate()).unfreeze(app, env, { by, via: 'cli' });
        ctx.print(`Unfroze ${app}/${env} (${result.removed} freeze(s) lifted).`, result);
      }),
    );
}
