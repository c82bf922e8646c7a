import type { Command } from 'commander';
import { auditJson, auditLines } from '../../client/text.js';
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
        // While its audit records wait to be written the release says so, and the anchor its last write returned.
        ctx.print([formatStatus(s), ...auditLines(s)].join('\n'), { ...statusJson(s), ...auditJson(s) });
      }),
    );
}
