/**
 * The worker's GitHub Deployments client: finds or creates the deployment of one shipgate operation and posts
 * its statuses, through plain fetch (four endpoints; every request bounded by a timeout, so a GitHub that hangs
 * fails the try instead of holding it).
 *
 * Idempotent: a deployment names its operation in `payload.shipgate.opId`, and before creating one the client
 * lists the deployments of that commit and environment and reuses the one that names this op, so an activity
 * retried after a crash (or a lost answer) never creates a second deployment.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SignJWT } from 'jose';
import { GithubApiError, type GithubStatusState } from './policy.js';

/** GitHub's REST API version this client speaks (the header GitHub asks clients to send). */
export const GITHUB_API_VERSION = '2022-11-28';
/** One request's bound; the activity's start-to-close (30 s) covers the three a sync may make. */
export const REQUEST_TIMEOUT_MS = 8_000;

/** Where a token comes from: the worker's environment, or a GitHub App installation. */
export type TokenSource =
  | { kind: 'env'; name: string }
  | {
      kind: 'app';
      appId: string;
      installationId: string;
      /** Reads the App's PEM private key (a file or an environment variable). */
      privateKey: () => Promise<string>;
    };

export interface GithubClientOptions {
  /** e.g. https://api.github.com (no trailing slash). */
  api: string;
  source: TokenSource;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  /** Epoch ms; tests move it. */
  now?: () => number;
  timeoutMs?: number;
}

/** A deployment as GitHub answers it; only what shipgate reads. */
export interface Deployment {
  id: number;
  sha: string;
  ref: string;
  environment: string;
  payload: unknown;
}

export interface DeploymentRequest {
  owner: string;
  repo: string;
  /** The release's commit sha: `ref` of the deployment, and the filter the list is asked with. */
  sha: string;
  environment: string;
  opId: string;
  releaseId: string | null;
  app: string;
  version: string;
  description: string;
  productionEnvironment: boolean;
}

export interface StatusRequest {
  owner: string;
  repo: string;
  id: number;
  state: GithubStatusState;
  description: string;
  environmentUrl?: string;
  logUrl?: string;
}

/** An installation token is renewed this long before GitHub says it expires (tokens live an hour). */
const RENEW_BEFORE_MS = 5 * 60_000;

export function createGithubClient(opts: GithubClientOptions) {
  const doFetch = opts.fetch ?? fetch;
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
  /** Installation tokens by repository (each is scoped to the one repository it is for). */
  const cache = new Map<string, { token: string; renewAt: number }>();
  let appKey: KeyObject | null = null;

  const request = async <T>(
    method: 'GET' | 'POST',
    path: string,
    auth: string,
    body?: unknown,
  ): Promise<{ status: number; data: T }> => {
    let res: Response;
    try {
      res = await doFetch(`${opts.api}${path}`, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: auth,
          'x-github-api-version': GITHUB_API_VERSION,
          'user-agent': 'shipgate',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : e.message;
      throw new GithubApiError(null, `${method} ${path}: ${why}`, false);
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      let message = text.slice(0, 200);
      try {
        message = String((JSON.parse(text) as { message?: unknown }).message ?? message);
      } catch {
        // Not JSON (a proxy's page): its first characters say enough.
      }
      // GitHub answers 403 (or 429) with x-ratelimit-remaining: 0 when the rate limit is spent: that passes.
      const limited = res.status === 429 || res.headers.get('x-ratelimit-remaining') === '0';
      throw new GithubApiError(res.status, `${method} ${path}: ${res.status} ${message}`, limited);
    }
    return { status: res.status, data: (text ? JSON.parse(text) : null) as T };
  };

  const privateKey = async (source: Extract<TokenSource, { kind: 'app' }>): Promise<KeyObject> => {
    // GitHub hands out PKCS#1 PEM keys; node:crypto reads both PKCS#1 and PKCS#8.
    if (appKey) return appKey;
    const pem = await source.privateKey();
    try {
      appKey = createPrivateKey(pem);
    } catch {
      throw new GithubApiError(null, "the GitHub App's private key is not a PEM private key", false, true);
    }
    return appKey;
  };

  /** The Authorization header for requests on `owner/repo`. */
  const authorization = async (owner: string, repo: string): Promise<string> => {
    const source = opts.source;
    if (source.kind === 'env') {
      const token = env[source.name];
      if (!token)
        throw new GithubApiError(
          null,
          `the environment variable ${source.name} (github.token.env) is not set on this worker`,
          false,
          true,
        );
      return `Bearer ${token}`;
    }
    const key = `${owner}/${repo}`;
    const cached = cache.get(key);
    if (cached && cached.renewAt > now()) return `Bearer ${cached.token}`;
    // The App's JWT lives 9 minutes and is backdated a minute for clock drift, as GitHub recommends.
    const iat = Math.floor(now() / 1000) - 60;
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(source.appId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 9 * 60)
      .sign(await privateKey(source));
    // Least privilege: the token may write deployments of this one repository, nothing else.
    const { data } = await request<{ token: string; expires_at: string }>(
      'POST',
      `/app/installations/${encodeURIComponent(source.installationId)}/access_tokens`,
      `Bearer ${jwt}`,
      { repositories: [repo], permissions: { deployments: 'write' } },
    );
    const expires = Date.parse(data.expires_at);
    cache.set(key, {
      token: data.token,
      renewAt: Number.isFinite(expires) ? expires - RENEW_BEFORE_MS : now() + 30 * 60_000,
    });
    return `Bearer ${data.token}`;
  };

  const repoPath = (owner: string, repo: string) =>
    `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;

  return {
    /** The deployment of this operation (found by its payload's opId), or null. */
    async findDeployment(req: Pick<DeploymentRequest, 'owner' | 'repo' | 'sha' | 'environment' | 'opId'>) {
      const auth = await authorization(req.owner, req.repo);
      const query = new URLSearchParams({ sha: req.sha, environment: req.environment, per_page: '100' });
      const { data } = await request<Deployment[]>(
        'GET',
        `${repoPath(req.owner, req.repo)}/deployments?${query}`,
        auth,
      );
      return (data ?? []).find((d) => opIdOf(d.payload) === req.opId) ?? null;
    },

    /** Finds this operation's deployment, or creates it: never a second one for the same op. */
    async ensureDeployment(req: DeploymentRequest): Promise<{ deployment: Deployment; created: boolean }> {
      const found = await this.findDeployment(req);
      if (found) return { deployment: found, created: false };
      const auth = await authorization(req.owner, req.repo);
      const { status, data } = await request<Deployment & { message?: string }>(
        'POST',
        `${repoPath(req.owner, req.repo)}/deployments`,
        auth,
        {
          ref: req.sha,
          environment: req.environment,
          // shipgate deploys exactly the commit the release was started from: nothing merged, nothing waited on.
          auto_merge: false,
          required_contexts: [],
          payload: {
            shipgate: { app: req.app, version: req.version, releaseId: req.releaseId, opId: req.opId },
          },
          description: req.description,
          transient_environment: false,
          production_environment: req.productionEnvironment,
        },
      );
      // 202 is GitHub's "merged the default branch first" answer, which auto_merge: false never asks for.
      if (status !== 201 || typeof data?.id !== 'number')
        throw new GithubApiError(
          status,
          `POST deployments: ${status} ${data?.message ?? 'no deployment'}`,
          false,
        );
      return { deployment: data, created: true };
    },

    async createStatus(req: StatusRequest): Promise<void> {
      const auth = await authorization(req.owner, req.repo);
      await request('POST', `${repoPath(req.owner, req.repo)}/deployments/${req.id}/statuses`, auth, {
        state: req.state,
        description: req.description,
        ...(req.environmentUrl ? { environment_url: req.environmentUrl } : {}),
        ...(req.logUrl ? { log_url: req.logUrl } : {}),
        // shipgate says which deployment a success replaces (an explicit inactive), so GitHub is not asked to
        // guess: a failed deploy rolled back automatically leaves the version that serves active.
        ...(req.state === 'success' ? { auto_inactive: false } : {}),
      });
    },
  };
}

export type GithubClient = ReturnType<typeof createGithubClient>;

/** The shipgate op a deployment's payload names (GitHub returns an object payload as an object). */
export function opIdOf(payload: unknown): string | null {
  let p = payload;
  if (typeof p === 'string') {
    try {
      p = JSON.parse(p);
    } catch {
      return null;
    }
  }
  const sg = (p as { shipgate?: { opId?: unknown } } | null)?.shipgate;
  return typeof sg?.opId === 'string' ? sg.opId : null;
}

/** Reads an App's private key from a file or an environment variable, only when a token is needed. */
export function appKeyReader(
  app: { privateKeyFile?: string; privateKeyEnv?: string },
  env: NodeJS.ProcessEnv,
): () => Promise<string> {
  return async () => {
    if (app.privateKeyFile) {
      try {
        return await readFile(app.privateKeyFile, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new GithubApiError(
          null,
          `cannot read the App's private key ${app.privateKeyFile} (github.app.privateKeyFile): ${code}`,
          false,
          true,
        );
      }
    }
    const pem = env[app.privateKeyEnv ?? ''];
    if (!pem)
      throw new GithubApiError(
        null,
        `the environment variable ${app.privateKeyEnv} (github.app.privateKeyEnv) is not set on this worker`,
        false,
        true,
      );
    return pem;
  };
}
