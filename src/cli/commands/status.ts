import type { Command } from 'commander';
import { auditJson, auditLines } from '../../client/text.js';
import { requireVersion } from '../../client/validate.js';
import { checkNames, type Runner } from '../context.js';
import { formatStatus, statusJson, type DownNow } from '../format.js';
import type { ShipgateClient } from '../../client.js';
import type { ReleaseStatus } from '../../workflows/types.js';

/**
 * The environments where this version serves and the worker reports it down. A read that fails leaves that
 * environment out: the release's status is what was asked for.
 */
async function downWhere(sg: ShipgateClient, s: ReleaseStatus): Promise<Record<string, DownNow>> {
  const envs = Object.entries(s.environments)
    .filter(([, p]) => p.state === 'succeeded')
    .map(([env]) => env);
  const found = await Promise.all(
    envs.map(async (env) => {
      const h = (await sg.environmentState(s.app, env).catch(() => null))?.health;
      return h?.state === 'down' && h.version === s.version
        ? ([[env, { since: h.since, detail: h.detail }]] as const)
        : [];
    }),
  );
  return Object.fromEntries(found.flat());
}

export function registerStatus(program: Command, run: Runner) {
  program
    .command('status <app> <version>')
    .description('stage, state, approvals and environments of a release')
    .action((app: string, version: string) =>
      run(async (ctx) => {
        requireVersion(version);
        checkNames(await ctx.explicitConfig(), app);
        const sg = await ctx.shipgate();
        const s = await sg.statusNow(app, version);
        const down = await downWhere(sg, s);
        // While its audit records wait to be written the release says so, and the anchor its last write returned.
        ctx.print([formatStatus(s, down), ...auditLines(s)].join('\n'), {
          ...statusJson(s, down),
          ...auditJson(s),
        });
      }),
    );
}
