import type { Command } from 'commander';
import { ShipgateClient } from '../../client.js';
import { evaluateWindows, type Freeze } from '../../policy/windows.js';
import { checkNames, type Runner } from '../context.js';
import { badInput } from '../errors.js';

export function registerWindows(program: Command, run: Runner) {
  program
    .command('windows <app> <env>')
    .description('whether deploys are allowed at a moment, what blocks them and until when')
    .option('--at <iso>', 'the moment to evaluate (default: now)')
    .action((app: string, env: string, o: { at?: string }) =>
      run(async (ctx) => {
        const config = await ctx.requireConfig();
        checkNames(config, app, env);
        const at = o.at === undefined ? new Date() : new Date(o.at);
        if (Number.isNaN(at.getTime())) throw badInput(`--at: "${o.at}" is not an ISO-8601 time`);
        let freezes: Freeze[] = [];
        try {
          freezes = (await new ShipgateClient(await ctx.client()).environmentState(app, env))?.freezes ?? [];
        } catch (err) {
          ctx.info(`(freezes not read: ${(err as Error).message})`);
        }
        const verdict = evaluateWindows(config.config.apps[app]!.environments[env]!.windows, freezes, at);
        const json = { allowed: verdict.allowed, blockedBy: verdict.blockedBy, until: verdict.until };
        ctx.print(
          verdict.allowed
            ? `Deploys to ${app}/${env} are allowed at ${at.toISOString()}${verdict.until ? ` until ${verdict.until}` : ''}.`
            : `Deploys to ${app}/${env} are blocked at ${at.toISOString()} by ${verdict.blockedBy}${verdict.until ? ` until ${verdict.until}` : ''}.`,
          json,
        );
      }),
    );
}
