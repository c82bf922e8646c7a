import type { Command } from 'commander';
import { esc } from '../../client/text.js';
import { requireFutureTime, requireLogin, requireText } from '../../client/validate.js';
import { checkNames, type Runner } from '../context.js';
import { proverFor, withKeyOption, type KeyOption } from '../sign.js';

export function registerFreeze(program: Command, run: Runner) {
  withKeyOption(
    program
      .command('freeze <app> <env>')
      .description('block deploys to an environment until a time')
      .option('--until <iso>', 'when the freeze ends (ISO-8601)')
      .option('--as <login>', 'who freezes (the login the signing key is listed for)')
      .option('--reason <text>', 'why (required, one line)'),
  ).action((app: string, env: string, o: { until?: string; as?: string; reason?: string } & KeyOption) =>
    run(async (ctx) => {
      const until = requireFutureTime(o.until, '--until');
      const by = requireLogin(o.as);
      const reason = requireText(o.reason, '--reason');
      checkNames(await ctx.explicitConfig(), app, env);
      const prove = await proverFor(ctx, by, o);
      const freeze = await (await ctx.shipgate()).freeze({ app, env, until, reason, prove });
      ctx.print(`Froze ${esc(app)}/${esc(env)} until ${esc(freeze.until)}: ${esc(reason)}`, freeze);
    }),
  );
  withKeyOption(
    program
      .command('unfreeze <app> <env>')
      .description('lift the freezes on an environment')
      .option('--as <login>', 'who unfreezes (the login the signing key is listed for)'),
  ).action((app: string, env: string, o: { as?: string } & KeyOption) =>
    run(async (ctx) => {
      const by = requireLogin(o.as);
      checkNames(await ctx.explicitConfig(), app, env);
      const prove = await proverFor(ctx, by, o);
      const result = await (await ctx.shipgate()).unfreeze({ app, env, prove });
      ctx.print(`Unfroze ${esc(app)}/${esc(env)} (${result.removed} freeze(s) lifted).`, result);
    }),
  );
}
