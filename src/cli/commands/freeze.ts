import type { Command } from 'commander';
import { ShipgateClient } from '../../client.js';
import { checkNames, requireLogin, requireText, type Runner } from '../context.js';
import { badInput, refused } from '../errors.js';

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function parseUntil(value: string | undefined, now = Date.now()): string {
  if (value === undefined) throw badInput('--until is required');
  if (!ISO.test(value) || Number.isNaN(Date.parse(value)))
    throw badInput(`--until: "${value}" is not an ISO-8601 time`);
  const at = Date.parse(value);
  if (at <= now) throw badInput(`--until: ${value} is in the past`);
  return new Date(at).toISOString();
}

export function registerFreeze(program: Command, run: Runner) {
  program
    .command('freeze <app> <env>')
    .description('block deploys to an environment until a time')
    .option('--until <iso>', 'when the freeze ends (ISO-8601)')
    .option('--as <login>', 'who freezes')
    .option('--reason <text>', 'why (required)')
    .action((app: string, env: string, o: { until?: string; as?: string; reason?: string }) =>
      run(async (ctx) => {
        const until = parseUntil(o.until);
        const by = requireLogin(o.as);
        const reason = requireText(o.reason, '--reason');
        checkNames(await ctx.explicitConfig(), app, env);
        const freeze = await new ShipgateClient(await ctx.client()).freeze(app, env, {
          by,
          via: 'cli',
          until,
          reason,
        });
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
        try {
          const result = await new ShipgateClient(await ctx.client()).unfreeze(app, env, { by, via: 'cli' });
          ctx.print(`Unfroze ${app}/${env} (${result.removed} freeze(s) lifted).`, result);
        } catch (err) {
          if ((err as Error).name === 'WorkflowNotFoundError') throw refused(`${app}/${env} is not frozen`);
          throw err;
        }
      }),
    );
}
