import type { Command } from 'commander';
import { BadInputError, EXIT, UnreachableError } from '../../client/errors.js';
import { esc } from '../../client/text.js';
import { requireAppName, requireVersion } from '../../client/validate.js';
import type { ApprovalsVerdict, ProofOutcome } from '../../client/verify-approvals.js';
import { checkNames, type CliContext, type Runner } from '../context.js';

const MARK: Record<ProofOutcome, string> = {
  verified: '✔',
  'worker-verified': '~',
  failed: '✘',
  missing: '✘',
};

/** One line per proof, then a summary line. */
export function formatVerdict(v: ApprovalsVerdict): string {
  const lines = [`${esc(v.app)} ${esc(v.version)} (run ${esc(v.run)}): ${v.checks.length} proof(s)`];
  for (const c of v.checks)
    lines.push(
      `  ${MARK[c.outcome]} ${c.action}${c.env ? ` ${esc(c.env)}` : ''} by ${esc(c.by)} via ${esc(c.via)} at ${esc(c.at)}: ${esc(c.detail)}`,
    );
  const count = (o: ProofOutcome) => v.checks.filter((c) => c.outcome === o).length;
  lines.push(
    `${v.ok ? 'OK' : 'NOT VERIFIED'}: ${count('verified')} verified here, ${count('worker-verified')} verified by the worker only, ${count('failed')} failed, ${count('missing')} without a proof`,
  );
  return lines.join('\n');
}

/** The store to read: the config's, or the kind `--store` names (with the config's settings for it). */
async function openStore(ctx: CliContext, kind: string | undefined) {
  const loaded = await ctx.requireConfig();
  const { AUDIT_STORES, createAuditStore } = await import('../../audit/registry.js');
  const kinds = Object.keys(AUDIT_STORES);
  if (kind !== undefined && !kinds.includes(kind))
    throw new BadInputError(`unknown audit store "${kind}" for --store (stores: ${kinds.join(', ')})`);
  const config = kind
    ? { ...loaded.config, audit: { ...loaded.config.audit, store: kind as typeof loaded.config.audit.store } }
    : loaded.config;
  return { config, store: createAuditStore(config, ctx.home) };
}

function parseFrom(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,15}$/.test(value))
    throw new BadInputError(`--from must be a record's sequence number (1 or more), not "${value}"`);
  return Number(value);
}

export function registerAudit(program: Command, run: Runner) {
  const audit = program.command('audit').description('check the record');
  audit
    .command('verify')
    .description(
      "check the audit store: every hash and link, the chain heads Temporal and the store's checkpoints recorded, the records as workflows sent them, each environment's ledger, and the SSH proofs records keep",
    )
    .option('--from <seq>', 'check from this sequence number on (the record before it is taken as it stands)')
    .option('--store <kind>', "the store to check (default: the config's audit.store)")
    .action((opts: { from?: string; store?: string }) =>
      run(async (ctx) => {
        const from = parseFrom(opts.from);
        const { config, store } = await openStore(ctx, opts.store);
        const [{ verifyAudit }, { BeyondEndError }, { connectClient }, { ShipgateClient }] =
          await Promise.all([
            import('../../client/audit-verify.js'),
            import('../../audit/verify.js'),
            import('../../temporal/connect.js'),
            import('../../client.js'),
          ]);
        // Temporal adds the anchors only it holds; without it the store is still checked (and the line says so).
        let sg: InstanceType<typeof ShipgateClient> | null = null;
        let unreachable: string | undefined;
        try {
          const { client, connection } = await connectClient(ctx.temporal, 5_000);
          sg = new ShipgateClient(client, undefined, connection);
        } catch (err) {
          if (!(err instanceof UnreachableError)) throw err;
          unreachable = err.message;
        }
        try {
          const result = await verifyAudit({ store, config, sg, unreachable, from });
          const { report } = result;
          ctx.print(result.summary, {
            ok: report.ok,
            summary: result.summary,
            store: result.store,
            problem: report.problem,
            from: report.from,
            records: report.records,
            head: report.head,
            anchors: report.anchors,
            matchedHistory: report.sent,
            ledgerEntries: report.ledgerEntries,
            proofs: report.proofs,
            temporal: result.temporal,
            notes: result.notes,
          });
          return report.ok ? EXIT.ok : EXIT.failed;
        } catch (err) {
          if (err instanceof BeyondEndError) throw new BadInputError(err.message);
          throw err;
        } finally {
          await sg?.close().catch(() => undefined);
        }
      }),
    );
  audit
    .command('export')
    .description('print the audit records to stdout, as JSON lines (each as chained) or CSV')
    .option('--since <iso>', 'only records at or after this time (ISO 8601)')
    .option('--format <format>', 'jsonl or csv', 'jsonl')
    .option('--store <kind>', "the store to read (default: the config's audit.store)")
    .action((opts: { since?: string; format: string; store?: string }) =>
      run(async (ctx) => {
        const { EXPORT_FORMATS, exportable, toCsv, toJsonl } = await import('../../client/audit-export.js');
        if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format))
          throw new BadInputError(
            `--format must be one of ${EXPORT_FORMATS.join(', ')}, not "${opts.format}"`,
          );
        let since: number | undefined;
        if (opts.since !== undefined) {
          since = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(opts.since)
            ? Date.parse(opts.since)
            : NaN;
          if (Number.isNaN(since))
            throw new BadInputError(
              `--since must be an ISO 8601 time (2025-01-31 or 2025-01-31T09:00:00Z), not "${opts.since}"`,
            );
        }
        const { store } = await openStore(ctx, opts.store);
        const { records, unreadable } = exportable(await store.entries(), since);
        if (unreadable.length)
          process.stderr.write(
            `shipgate: ${unreadable.length} unreadable entr${unreadable.length === 1 ? 'y' : 'ies'} left out (first: ${unreadable[0]}); run shipgate audit verify\n`,
          );
        process.stdout.write(opts.format === 'csv' ? toCsv(records) : toJsonl(records));
        return EXIT.ok;
      }),
    );
  audit
    .command('verify-approvals <app> <version>')
    .description(
      "re-verify, offline with the config's public keys, the proofs of a release: its start, every approval that counted, an override",
    )
    .action((app: string, version: string) =>
      run(async (ctx) => {
        requireAppName(app);
        requireVersion(version);
        const loaded = await ctx.requireConfig();
        checkNames(loaded, app);
        const { verifyReleaseProofs } = await import('../../client/verify-approvals.js');
        const verdict = await verifyReleaseProofs(await ctx.shipgate(), loaded.config, app, version);
        ctx.print(formatVerdict(verdict), verdict);
        return verdict.ok ? EXIT.ok : EXIT.failed;
      }),
    );
}
