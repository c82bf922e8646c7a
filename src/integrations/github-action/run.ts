/**
 * The GitHub Action: start a release (or attach to the one running for the same version), follow it until
 * the awaited environment is done, and report through the runner: a log line per change, the outputs
 * `release-id`, `state` and `stage`, a job summary, and a failed job when the release did not get there.
 *
 * The start's proof is the job's GitHub Actions ID token: the workers take the repository, branch, commit and
 * actor from it, so a job can release only what it is (its repository, its ref, its commit, its actor).
 *
 * It fails with the CLI's messages and keeps the CLI's exit codes (2 bad input, 3 refused, 4 unreachable,
 * 1 failed or timed out); the runner treats any of them as a failed step.
 */
import * as core from '@actions/core';
import { exitCodeForWait, isTerminal, ShipgateClient } from '../../client.js';
import {
  BadInputError,
  EXIT,
  OperationFailedError,
  ReleaseAlreadySucceededError,
  toShipgateError,
  type ExitCode,
  type ShipgateError,
} from '../../client/errors.js';
import { temporalOptions } from '../../temporal/connect.js';
import { releaseWorkflowId } from '../../protocol/ids.js';
import type { ReleaseStatus } from '../../workflows/types.js';
import { parseInputs, SECRET_INPUTS, type ActionInputs } from './inputs.js';
import { temporalUiLink } from '../../client/ui-link.js';
import { md, renderSummary, type Outcome } from './summary.js';
import { requestJobToken, type JobToken } from './token.js';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** How often the release's status is read while following it. */
  intervalMs?: number;
  /** Requests the ID token (default: `core.getIDToken`, from the runner). */
  getIdToken?: (audience: string) => Promise<string>;
}

/**
 * Logs one line. Values that people supply (reasons, comments) could carry a newline followed by a workflow
 * command (`::set-output`, `::add-mask`); on one line, after our prefix, the runner never reads them as one.
 */
function info(text: string): void {
  core.info(text.replace(/\r\n|\r|\n|\u2028|\u2029/g, ' '));
}

/** Masks a secret in the log, line by line as well, since the runner matches multi-line values per line. */
export function maskSecret(value: string | undefined): void {
  if (!value) return;
  core.setSecret(value);
  const lines = value.split(/\r?\n/).map((l) => l.trim());
  if (lines.length > 1) for (const line of lines) if (line.length >= 4) core.setSecret(line);
}

export async function runAction(opts: RunOptions = {}): Promise<ExitCode> {
  const env = opts.env ?? process.env;
  const startedAt = Date.now();
  // Before anything can print them.
  for (const name of SECRET_INPUTS) maskSecret(core.getInput(name));
  maskSecret(env.TEMPORAL_API_KEY);
  maskSecret(env.TEMPORAL_TLS_KEY_DATA);

  let inputs: ActionInputs;
  try {
    inputs = parseInputs((name) => core.getInput(name), env);
  } catch (err) {
    return fail(toShipgateError(err, temporalOptions({}, env).address));
  }

  const { app, version } = inputs;
  const releaseId = releaseWorkflowId(app, version);
  const deadline = startedAt + inputs.timeoutMs;
  let status: ReleaseStatus | undefined;
  let uiLink: string | null = null;
  let job: JobToken;
  try {
    job = await requestJobToken(inputs.audience, env, opts.getIdToken);
  } catch (err) {
    return fail(toShipgateError(err, inputs.temporal.address));
  }
  for (const { name, value } of inputs.ignored)
    core.warning(
      `the ${name} input is deprecated and ignored (given: ${JSON.stringify(value.slice(0, 80))}); ` +
        `the release's ${name} comes from the job's GitHub Actions ID token: ${tokenSays(job, name)}`,
    );
  try {
    const sg = await ShipgateClient.connect(inputs.temporal);

    let attached = false;
    let alreadySucceeded = false;
    try {
      const admitted = await sg.client.withDeadline(deadline, () =>
        sg.release({
          app,
          version,
          // The token's own values, which the worker reads from it again (and compares).
          commit: job.sha,
          branch: job.branch,
          prove: () => Promise.resolve({ kind: 'github-oidc', token: job.token }),
        }),
      );
      status = admitted.status;
      attached = admitted.attached;
    } catch (err) {
      if (Date.now() >= deadline)
        throw new OperationFailedError(
          `timed out after ${minutesOf(inputs.timeoutMs)} min waiting for the release to be admitted ` +
            `(is a shipgate worker running?); if it started, the timeout does not cancel it`,
        );
      // A re-run of a job whose release already succeeded reports that release instead of failing.
      if (!(err instanceof ReleaseAlreadySucceededError)) throw err;
      status = await sg.status(app, version);
      if (status.state !== 'succeeded') throw err;
      alreadySucceeded = true;
    }
    core.setOutput('release-id', releaseId);
    if (inputs.uiUrl) {
      const runId = await sg.client.workflow
        .getHandle(releaseId)
        .describe()
        .then((d) => d.runId)
        .catch(() => undefined);
      uiLink = temporalUiLink(inputs.uiUrl, inputs.temporal.namespace, releaseId, runId);
    }

    if (alreadySucceeded) {
      core.notice(
        `${app} ${version} was already released successfully (${releaseId}); nothing was started. ` +
          `To deploy it again, use: shipgate rollback ${app} <env> --to ${version}`,
      );
      return await finish(status, { kind: 'succeeded', text: `Already released successfully.` });
    }
    info(
      attached
        ? `Attached to the running release ${app} ${version} (${releaseId}), started by ${status.actor} at ${status.startedAt}`
        : `Started release ${app} ${version} (${releaseId}) for commit ${status.commit} on ${status.branch} as ${status.actor} (GitHub ${job.actor} in ${job.repository}, from the job's ID token)`,
    );
    if (uiLink) info(`Temporal UI: ${uiLink}`);
    const log = changeLogger();
    log(status);

    if (inputs.waitFor === 'none')
      return await finish(status, {
        kind: 'succeeded',
        text: `Release ${attached ? 'attached' : 'started'}.`,
      });
    if (!(inputs.waitFor in status.environments))
      throw new BadInputError(`wait-for: ${app} has no environment "${inputs.waitFor}"`);

    const followed = await sg.follow(app, version, {
      until: inputs.waitFor,
      first: status,
      deadline,
      intervalMs: opts.intervalMs ?? 1000,
      onStatus: log,
      onRetry: (err) => core.warning(`reading the release's status failed, retrying: ${err.message}`),
    });
    status = followed.status;
    return await finish(status, outcomeOf(status, inputs, followed.timedOut));
  } catch (err) {
    const e = toShipgateError(err, inputs.temporal.address);
    return status ? finish(status, { kind: 'failed', text: e.message }, e.exitCode) : fail(e);
  }

  async function finish(s: ReleaseStatus, outcome: Outcome, code: ExitCode = exitCodeOf(outcome)) {
    core.setOutput('state', s.state);
    core.setOutput('stage', s.stage);
    await writeSummary(renderSummary({ status: s, outcome, releaseId, uiLink }));
    if (outcome.kind === 'succeeded') {
      info(outcome.text);
      return EXIT.ok;
    }
    core.setFailed(`shipgate: ${outcome.text}`);
    return code;
  }

  async function fail(e: ShipgateError): Promise<ExitCode> {
    core.setFailed(`shipgate: ${e.message}`);
    await writeSummary(`### ❌ shipgate\n\n${md(`shipgate: ${e.message}`)}\n`);
    return e.exitCode;
  }

  async function writeSummary(markdown: string) {
    if (!env.GITHUB_STEP_SUMMARY) return;
    try {
      await core.summary.addRaw(markdown, true).write();
    } catch (err) {
      core.warning(`could not write the job summary: ${(err as Error).message}`);
    }
  }
}

function tokenSays(job: JobToken, name: 'commit' | 'branch' | 'actor'): string {
  return name === 'commit' ? job.sha : name === 'branch' ? `${job.branch} (${job.ref})` : job.actor;
}

function exitCodeOf(outcome: Outcome): ExitCode {
  return outcome.kind === 'succeeded' ? EXIT.ok : EXIT.failed;
}

export function outcomeOf(s: ReleaseStatus, inputs: ActionInputs, timedOut: boolean): Outcome {
  const env = inputs.waitFor;
  const code = exitCodeForWait(s, env);
  if (code === EXIT.ok) {
    if (s.environments[env]?.state !== 'succeeded')
      return { kind: 'succeeded', text: `The release succeeded.` };
    const next = isTerminal(s) ? `the release ended ${s.state}` : `the release is now at stage ${s.stage}`;
    return { kind: 'succeeded', text: `${env} succeeded; ${next}.` };
  }
  if (code !== null) {
    return {
      kind: 'failed',
      text: `release ${s.app} ${s.version} ended ${s.state} at stage ${s.stage}${s.reason ? `: ${s.reason}` : ''}`,
    };
  }
  const minutes = minutesOf(inputs.timeoutMs);
  return {
    kind: timedOut ? 'timed-out' : 'failed',
    text:
      `timed out after ${minutes} min waiting for ${env}; release ${s.app} ${s.version} is still running at ` +
      `stage ${s.stage}. The timeout does not cancel the release; follow it with: shipgate status ${s.app} ${s.version}`,
  };
}

const minutesOf = (ms: number) => +(ms / 60_000).toFixed(2);

/** Logs what changed since the last status: stage, environments, approvals, what holds the release. */
function changeLogger() {
  let last: ReleaseStatus | undefined;
  return (s: ReleaseStatus) => {
    if (s.stage !== last?.stage || s.state !== last?.state) info(`stage: ${s.stage} (${s.state})`);
    for (const [env, p] of Object.entries(s.environments))
      if (last?.environments[env]?.state !== p.state) info(`  ${env}: ${p.state}`);
    const seen = new Set((last?.approvals.given ?? []).map((g) => `${g.by}@${g.at}`));
    for (const g of s.approvals.given)
      if (!seen.has(`${g.by}@${g.at}`)) info(`  approved by ${g.by} via ${g.via}`);
    if (
      s.stage === 'awaiting-approval' &&
      last?.stage !== 'awaiting-approval' &&
      s.approvals.required.length
    ) {
      const need = s.approvals.required.map((r) => `${r.count} of ${r.group}`).join(' and ');
      info(`  ${s.approvals.environment} needs approvals: ${need}`);
    }
    if (s.blockedBy && s.blockedBy !== last?.blockedBy)
      info(`  held by ${s.blockedBy}${s.blockedUntil ? ` until ${s.blockedUntil}` : ''}`);
    if (s.reason && s.reason !== last?.reason) info(`  reason: ${s.reason}`);
    last = s;
  };
}
