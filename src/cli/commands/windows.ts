import type { Command } from 'commander';
import { optionalMoment } from '../../client/validate.js';
import { deployWindows } from '../../client/windows.js';
import { checkNames, type Runner } from '../context.js';

export function registerWindows(program: Command, run: Runner) {
  program
    .command('windows <app> <env>')
    .description('whether deploys are allowed at a moment, what blocks them and until when')
    .option('--at <iso>', 'the moment to evaluate (default: now)')
    .action((app: string, env: string, o: { at?: string }) =>
      run(async (ctx) => {
        const config = await ctx.requireConfig();
        checkNames(config, app, env);
        const at = optionalMoment(o.at, '--at');
        const windows = config.config.apps[app]!.environments[env]!.windows;
        // Without Temporal the configured windows still answer; only the ad-hoc freezes are missing.
        const { verdict, freezesUnread } = await deployWindows(ctx.shipgate(), app, env, windows, at);
        if (freezesUnread) ctx.info(`(freezes not read: ${freezesUnread})`);
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
