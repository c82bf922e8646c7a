/**
 * The activity that keeps one GitHub deployment in step with one shipgate operation (a deploy or rollback on an
 * environment): decides whether the operation is GitHub's to show, finds or creates its deployment, and posts a
 * status. The environment workflow calls it beside its own work with a bounded retry (src/workflows/environment/
 * github.ts); it never fails a deploy.
 *
 * Only releases started from the Action (a verified github-oidc start proof) of apps with `repository` set are
 * shown, and only while the config has a `github` block. A problem a person must fix (a token without
 * deployments: write, a repository it cannot see) is answered, not thrown, and told once; an outage is thrown,
 * so the activity is retried, and told once when the last try fails.
 */
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ConfigSource } from '../../config/source.js';
import type { GithubConfig } from '../../config/schema.js';
import { temporalUiLink } from '../../client/ui-link.js';
import { createLogger, type Logger } from '../../logger.js';
import { environmentWorkflowId } from '../../protocol/ids.js';
import { statusQuery } from '../../workflows/messages.js';
import type { Notifier } from '../notifier.js';
import { appKeyReader, createGithubClient, type GithubClient } from './deployments.js';
import {
  describe,
  GITHUB_SYNC_ATTEMPTS,
  GithubApiError,
  needsPerson,
  noticeText,
  problemKey,
  type GithubStatusState,
} from './policy.js';

/** One transition of one operation, as the environment workflow asks for it. */
export interface GithubSyncInput {
  app: string;
  env: string;
  opId: string;
  action: 'deploy' | 'rollback';
  version: string;
  /** A deploy's release: asked whether it was started from the Action, and for its commit. */
  releaseId: string | null;
  /** The commit, once known (a rollback restores a version whose deployment named it). */
  sha: string | null;
  /** The deployment, once known: no lookup needed. */
  id: number | null;
  state: GithubStatusState;
  description: string;
}

export type GithubSyncResult =
  /** Not GitHub's to show (no github block, no repository, not started from the Action): ask no more. */
  | { kind: 'skipped'; why: string }
  | { kind: 'synced'; id: number; sha: string; created: boolean }
  /** GitHub refused (a person must act; told once): the next transition tries again. */
  | { kind: 'refused'; problem: string }
  /** Nothing to mark: the replaced operation never got a deployment. */
  | { kind: 'absent' };

export interface GithubActivityDeps {
  config: ConfigSource;
  client: Client;
  env: NodeJS.ProcessEnv;
  notifier?: Notifier;
  fetch?: typeof fetch;
  logger?: Logger;
}

export function createGithubDeploymentActivities(deps: GithubActivityDeps) {
  const log = deps.logger ?? createLogger('github-deployments');
  /** Problems already told (per repository and kind), until a call to that repository succeeds again. */
  const told = new Set<string>();
  /** One client per `github` block as configured: its installation tokens are cached until near expiry. */
  let clientFor: { key: string; client: GithubClient } | null = null;

  const githubClient = (gh: GithubConfig, configFile: string): GithubClient => {
    const key = JSON.stringify(gh);
    if (clientFor?.key === key) return clientFor.client;
    const source = gh.app
      ? {
          kind: 'app' as const,
          appId: gh.app.appId,
          installationId: gh.app.installationId,
          privateKey: appKeyReader(
            {
              ...(gh.app.privateKeyFile
                ? { privateKeyFile: path.resolve(path.dirname(configFile), gh.app.privateKeyFile) }
                : {}),
              ...(gh.app.privateKeyEnv ? { privateKeyEnv: gh.app.privateKeyEnv } : {}),
            },
            deps.env,
          ),
        }
      : { kind: 'env' as const, name: gh.token!.env };
    const client = createGithubClient({ api: gh.api, source, env: deps.env, fetch: deps.fetch });
    clientFor = { key, client };
    return client;
  };

  const tell = async (repository: string, app: string, env: string, err: GithubApiError) => {
    const key = problemKey(repository, err);
    if (told.has(key)) return;
    told.add(key);
    const text = noticeText(repository, err);
    log.warn({ app, env, repository, status: err.status }, text);
    await deps.notifier?.notify({ kind: 'github-deployments', app, env, repository, text });
  };

  /** The start's commit of a release started from the Action, or why it is not GitHub's to show. */
  const actionStart = async (releaseId: string): Promise<{ sha: string } | { why: string }> => {
    let status;
    try {
      status = await deps.client.workflow.getHandle(releaseId).query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { why: `no release ${releaseId}` };
      throw err;
    }
    const proof = status.startProof;
    if (proof?.via !== 'github-oidc') return { why: 'not started from the GitHub Action' };
    // The commit is the token's (the release refuses a request naming another).
    const sha = proof.claims?.sha ?? status.commit;
    return /^[0-9a-f]{40}$/i.test(sha) ? { sha } : { why: `the start names no commit sha (${sha})` };
  };

  return {
    async syncGithubDeployment(input: GithubSyncInput): Promise<GithubSyncResult> {
      const loaded = deps.config.get();
      const config = loaded.config;
      const gh = config.github;
      if (!gh) return { kind: 'skipped', why: 'no github block in the config' };
      const appConfig = config.apps[input.app];
      const envConfig = appConfig?.environments[input.env];
      if (!appConfig?.repository || !envConfig)
        return { kind: 'skipped', why: `apps.${input.app}.repository is not set` };
      const repository = appConfig.repository;
      const [owner, repo] = repository.split('/') as [string, string];
      let sha = input.sha;
      if (!sha) {
        if (!input.releaseId) return { kind: 'skipped', why: 'no release and no commit' };
        const start = await actionStart(input.releaseId);
        if ('why' in start) return { kind: 'skipped', why: start.why };
        sha = start.sha;
      }
      const environment = envConfig.githubEnvironment ?? input.env;
      const info = Context.current().info;
      const github = githubClient(gh, loaded.file);
      try {
        let id = input.id;
        let created = false;
        if (id === null) {
          const key = { owner, repo, sha, environment, opId: input.opId };
          // A deployment that was never made is not made now just to be marked inactive.
          if (input.state === 'inactive') {
            const found = await github.findDeployment(key);
            if (!found) return { kind: 'absent' };
            id = found.id;
          } else {
            const made = await github.ensureDeployment({
              ...key,
              releaseId: input.releaseId,
              app: input.app,
              version: input.version,
              description: describe(
                `${input.action === 'rollback' ? 'Rollback to' : 'Deploy'} ${input.version} (shipgate)`,
              ),
              // The environment no other follows (production, in the usual chain) is what users reach.
              productionEnvironment: !Object.values(appConfig.environments).some(
                (e) => e.after === input.env,
              ),
            });
            id = made.deployment.id;
            created = made.created;
          }
        }
        const logUrl = logUrlOf(config.ui?.publicUrl, deps.env.SHIPGATE_UI_URL, info.namespace, input);
        await github.createStatus({
          owner,
          repo,
          id,
          state: input.state,
          description: describe(input.description),
          ...(envConfig.url ? { environmentUrl: envConfig.url } : {}),
          ...(logUrl ? { logUrl } : {}),
        });
        // Working again: the next problem is told again.
        for (const k of told) if (k.startsWith(`${repository} `)) told.delete(k);
        return { kind: 'synced', id, sha, created };
      } catch (err) {
        if (!(err instanceof GithubApiError)) throw err;
        if (needsPerson(err)) {
          await tell(repository, input.app, input.env, err);
          return { kind: 'refused', problem: err.message };
        }
        // An outage: retried by the activity's policy; the last try tells a person.
        if (info.attempt >= GITHUB_SYNC_ATTEMPTS) await tell(repository, input.app, input.env, err);
        throw err;
      }
    },
  };
}

/**
 * Where GitHub's "View deployment" log link goes: the dashboard's page of the environment when `ui.publicUrl` is
 * set, else the Temporal UI's page of the workflow that runs the operation when SHIPGATE_UI_URL is known.
 */
export function logUrlOf(
  publicUrl: string | undefined,
  temporalUi: string | undefined,
  namespace: string,
  input: Pick<GithubSyncInput, 'app' | 'env' | 'releaseId' | 'action'>,
): string | undefined {
  if (publicUrl) {
    const q = new URLSearchParams({ app: input.app, env: input.env });
    return `${publicUrl}/?${q}`;
  }
  if (!temporalUi) return undefined;
  const workflowId =
    input.action === 'deploy' && input.releaseId
      ? input.releaseId
      : environmentWorkflowId(input.app, input.env);
  return temporalUiLink(temporalUi, namespace, workflowId);
}
