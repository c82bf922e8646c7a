/**
 * A stand-in for GitHub's REST API on 127.0.0.1, for GitHub Deployments: it answers the way GitHub does (the
 * shapes and status codes its published OpenAPI description documents) and checks every request against that
 * description, from the official `@octokit/openapi` package (api.github.com.json): the operation (method and
 * path), each path and query parameter, and the JSON body, with Ajv 8 and ajv-formats. A request that does not
 * validate is answered 422 as GitHub would, and kept in `violations`; every answer the stand-in gives is checked
 * against the documented response schema too, so the stand-in cannot drift from GitHub's shapes.
 *
 * It keeps deployments and their statuses per repository, issues installation tokens to a GitHub App whose JWT
 * it verifies (RS256, with the App's public key), honours token permissions (a read-only token gets GitHub's 403),
 * and can be made to fail (500), hang, or hold one request until the test lets it go.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { jwtVerify, type CryptoKey, type KeyObject } from 'jose';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Record<string, unknown>;
  $ref?: string;
}
interface OpenApiOperation {
  operationId: string;
  parameters?: OpenApiParameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: Record<string, unknown> }> }>;
}
interface OpenApi {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: Record<string, Record<string, unknown>>;
}

const require = createRequire(import.meta.url);
const SPEC_FILE = path.join(
  path.dirname(require.resolve('@octokit/openapi/package.json')),
  'generated',
  'api.github.com.json',
);

/** The description, the validator and compiled schemas: loaded once per test process (13 MB of JSON). */
let loaded: { spec: OpenApi; ajv: Ajv; routes: Route[]; compiled: Map<string, ValidateFunction> } | null =
  null;

interface Route {
  method: string;
  template: string;
  regex: RegExp;
  names: string[];
  op: OpenApiOperation;
}

function openApi() {
  if (loaded) return loaded;
  const spec = JSON.parse(readFileSync(SPEC_FILE, 'utf8')) as OpenApi;
  // OpenAPI 3.0 schemas: `nullable` is Ajv's own keyword; `example`, `x-github` and the like are annotations.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'github', components: spec.components });
  const routes: Route[] = [];
  for (const [template, ops] of Object.entries(spec.paths))
    for (const [method, op] of Object.entries(ops)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const names: string[] = [];
      const source = template
        .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
        .replace(/\\?\{([^}]+)\\?\}/g, (_m, n: string) => {
          names.push(n);
          return '([^/]+)';
        });
      routes.push({ method: method.toUpperCase(), template, regex: new RegExp(`^${source}$`), names, op });
    }
  loaded = { spec, ajv, routes, compiled: new Map() };
  return loaded;
}

/** A schema from the description, compiled once; `#/components/...` references resolve inside it. */
function validator(schema: Record<string, unknown>): ValidateFunction {
  const { ajv, compiled } = openApi();
  const key = JSON.stringify(schema);
  let v = compiled.get(key);
  if (!v) {
    v = ajv.compile(rebase(schema) as object);
    compiled.set(key, v);
  }
  return v;
}

/** `#/components/x` inside a schema taken out of the document points into the registered `github` document. */
function rebase(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebase);
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node))
      out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `github${v}` : rebase(v);
    return out;
  }
  return node;
}

function resolve<T>(node: T & { $ref?: string }): T {
  if (!node.$ref) return node;
  const parts = node.$ref.replace(/^#\//, '').split('/');
  let cur: unknown = openApi().spec;
  for (const p of parts) cur = (cur as Record<string, unknown>)[p];
  return resolve(cur as T & { $ref?: string });
}

export interface ValidatedRequest {
  operationId: string;
  method: string;
  /** The path as sent, with the query. */
  url: string;
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
  /** What did not validate against the description (empty when the request is valid). */
  problems: string[];
}

/** Checks one request against the description: the operation, its parameters and its JSON body. */
export function validateRequest(method: string, url: string, body: unknown): ValidatedRequest {
  const { routes } = openApi();
  const u = new URL(url, 'http://x');
  const pathname = u.pathname;
  const query = Object.fromEntries(u.searchParams);
  const problems: string[] = [];
  const matches = routes.filter((r) => r.method === method && r.regex.test(pathname));
  // A literal segment wins over a parameter (as GitHub routes): the fewest parameters first.
  matches.sort((a, b) => a.names.length - b.names.length);
  const route = matches[0];
  if (!route)
    return {
      operationId: '(none)',
      method,
      url,
      params: {},
      query,
      body,
      problems: [`${method} ${pathname} is no operation of GitHub's REST API`],
    };
  const m = route.regex.exec(pathname)!;
  const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
  const declared = (route.op.parameters ?? []).map((p) => resolve(p));
  for (const p of declared) {
    if (p.in !== 'path' && p.in !== 'query') continue;
    const value = p.in === 'path' ? params[p.name] : query[p.name];
    if (value === undefined) {
      if (p.required) problems.push(`${p.in} parameter ${p.name} is required`);
      continue;
    }
    const schema = p.schema ?? {};
    const typed = schema.type === 'integer' || schema.type === 'number' ? Number(value) : value;
    const v = validator(schema);
    if (!v(typed)) problems.push(`${p.in} parameter ${p.name}=${value}: ${ajvText(v)}`);
  }
  for (const name of Object.keys(query))
    if (!declared.some((p) => p.in === 'query' && p.name === name))
      problems.push(`query parameter ${name} is not a parameter of ${route.op.operationId}`);
  const jsonBody = route.op.requestBody?.content['application/json'];
  if (jsonBody) {
    if (body === undefined) {
      if (route.op.requestBody?.required) problems.push('a JSON body is required');
    } else {
      const v = validator(jsonBody.schema);
      if (!v(body)) problems.push(`body: ${ajvText(v)}`);
      // GitHub ignores properties it does not know, which hides a misspelt one: the stand-in refuses them.
      const props = (resolve(jsonBody.schema as { $ref?: string }) as { properties?: object }).properties;
      if (props && body && typeof body === 'object')
        for (const k of Object.keys(body))
          if (!(k in props)) problems.push(`body property ${k} is not in ${route.op.operationId}'s schema`);
    }
  } else if (body !== undefined) problems.push(`${route.op.operationId} takes no body`);
  return { operationId: route.op.operationId, method, url, params, query, body, problems };
}

/** Checks an answer against the documented response for `status`; returns what does not fit. */
function validateResponse(operationId: string, status: number, body: unknown): string[] {
  const route = openApi().routes.find((r) => r.op.operationId === operationId);
  if (!route) return [`unknown operation ${operationId}`];
  const documented = route.op.responses[String(status)];
  if (!documented) return [`${operationId} documents no ${status} answer`];
  const content = resolve(documented).content?.['application/json'];
  if (!content) return [];
  const v = validator(content.schema);
  return v(body) ? [] : [`${operationId} ${status} answer: ${ajvText(v)}`];
}

function ajvText(v: ValidateFunction): string {
  return (v.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`)
    .join('; ');
}

// ---- the stand-in ----

export interface StandinStatus {
  id: number;
  state: string;
  description: string;
  environment_url: string;
  log_url: string;
  created_at: string;
}

export interface StandinDeployment {
  id: number;
  repository: string;
  sha: string;
  ref: string;
  environment: string;
  payload: Record<string, unknown>;
  description: string | null;
  production_environment: boolean;
  transient_environment: boolean;
  created_at: string;
  statuses: StandinStatus[];
}

export interface StandinRequest extends ValidatedRequest {
  /** The Authorization header's token (Bearer), as received. */
  token: string | null;
  /** The answer's status (0 while held or hanging). */
  status: number;
}

export type Outage = 'none' | 'error' | 'hang';

export interface GithubApiStandin {
  /** `http://127.0.0.1:<port>`: use it as github.api. */
  url: string;
  /** Every request received, validated, in order. */
  requests: StandinRequest[];
  /** Requests that did not validate against the OpenAPI description, and answers that did not. */
  violations: string[];
  deployments: StandinDeployment[];
  /** Repositories that exist (`owner/name`). */
  repositories: Set<string>;
  /** Tokens it accepts, with what they may do: `write` creates deployments, `read` gets GitHub's 403. */
  tokens: Map<string, 'write' | 'read'>;
  /** Trusts a GitHub App: its JWTs (iss = appId) are exchanged for installation tokens of `installationId`. */
  trustApp(app: { appId: string; installationId: string; publicKey: CryptoKey | KeyObject }): void;
  /** Installation tokens issued: to whom, for which repositories and permissions. */
  issued: { token: string; installationId: string; repositories: string[]; permissions: unknown }[];
  setOutage(o: Outage): void;
  /**
   * Holds the next request for which `pred` holds (the request is handled first, so a POST takes effect) and
   * does not answer it until `release()`; `held` resolves once it arrived.
   */
  hold(pred: (r: StandinRequest) => boolean): { held: Promise<StandinRequest>; release(): void };
  /** The deployments of `repository` on `environment`, oldest first. */
  deploymentsOf(repository: string, environment: string): StandinDeployment[];
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';

export async function startGithubApiStandin(): Promise<GithubApiStandin> {
  openApi();
  const requests: StandinRequest[] = [];
  const violations: string[] = [];
  const deployments: StandinDeployment[] = [];
  const repositories = new Set<string>();
  const tokens = new Map<string, 'write' | 'read'>();
  const apps = new Map<string, { installationId: string; publicKey: CryptoKey | KeyObject }>();
  const issued: GithubApiStandin['issued'] = [];
  const installationTokens = new Map<string, { repositories: string[]; write: boolean }>();
  const hanging = new Set<http.ServerResponse>();
  const holds: {
    pred: (r: StandinRequest) => boolean;
    arrived: (r: StandinRequest) => void;
    gate: Promise<void>;
  }[] = [];
  let outage: Outage = 'none';
  let seq = 1000;
  let base = '';

  const user = {
    login: 'shipgate[bot]',
    id: 1,
    node_id: 'MDM6Qm90MQ==',
    avatar_url: 'https://avatars.githubusercontent.com/in/1',
    gravatar_id: '',
    url: 'https://api.github.com/users/shipgate%5Bbot%5D',
    html_url: 'https://github.com/apps/shipgate',
    followers_url: 'https://api.github.com/users/shipgate%5Bbot%5D/followers',
    following_url: 'https://api.github.com/users/shipgate%5Bbot%5D/following{/other_user}',
    gists_url: 'https://api.github.com/users/shipgate%5Bbot%5D/gists{/gist_id}',
    starred_url: 'https://api.github.com/users/shipgate%5Bbot%5D/starred{/owner}{/repo}',
    subscriptions_url: 'https://api.github.com/users/shipgate%5Bbot%5D/subscriptions',
    organizations_url: 'https://api.github.com/users/shipgate%5Bbot%5D/orgs',
    repos_url: 'https://api.github.com/users/shipgate%5Bbot%5D/repos',
    events_url: 'https://api.github.com/users/shipgate%5Bbot%5D/events{/privacy}',
    received_events_url: 'https://api.github.com/users/shipgate%5Bbot%5D/received_events',
    type: 'Bot',
    site_admin: false,
  };
  const deploymentJson = (d: StandinDeployment) => {
    const url = `${base}/repos/${d.repository}/deployments/${d.id}`;
    return {
      url,
      id: d.id,
      node_id: Buffer.from(`Deployment${d.id}`).toString('base64'),
      sha: d.sha,
      ref: d.ref,
      task: 'deploy',
      payload: d.payload,
      original_environment: d.environment,
      environment: d.environment,
      description: d.description,
      creator: user,
      created_at: d.created_at,
      updated_at: d.statuses.at(-1)?.created_at ?? d.created_at,
      statuses_url: `${url}/statuses`,
      repository_url: `${base}/repos/${d.repository}`,
      transient_environment: d.transient_environment,
      production_environment: d.production_environment,
    };
  };
  const statusJson = (d: StandinDeployment, s: StandinStatus) => ({
    url: `${base}/repos/${d.repository}/deployments/${d.id}/statuses/${s.id}`,
    id: s.id,
    node_id: Buffer.from(`DeploymentStatus${s.id}`).toString('base64'),
    state: s.state,
    creator: user,
    description: s.description,
    environment: d.environment,
    // The description makes target_url a required URI; GitHub sends "" when none was given, which it refuses.
    target_url: s.log_url || `${base}/repos/${d.repository}/deployments/${d.id}`,
    ...(s.log_url ? { log_url: s.log_url } : {}),
    ...(s.environment_url ? { environment_url: s.environment_url } : {}),
    created_at: s.created_at,
    updated_at: s.created_at,
    deployment_url: `${base}/repos/${d.repository}/deployments/${d.id}`,
    repository_url: `${base}/repos/${d.repository}`,
  });
  const error = (status: number, message: string) => ({ status, body: { message, documentation_url: DOCS } });

  /** Answers one validated request: status and body. */
  const handle = async (r: StandinRequest): Promise<{ status: number; body: unknown }> => {
    if (r.problems.length > 0)
      return {
        status: 422,
        body: { message: 'Validation Failed', errors: r.problems, documentation_url: DOCS },
      };
    if (r.operationId === 'apps/create-installation-access-token') {
      const jwt = r.token ?? '';
      const installationId = r.params.installation_id!;
      for (const [appId, app] of apps) {
        if (app.installationId !== installationId) continue;
        try {
          await jwtVerify(jwt, app.publicKey, { issuer: appId, algorithms: ['RS256'], maxTokenAge: '10m' });
        } catch {
          return error(401, 'A JSON web token could not be decoded');
        }
        const body = r.body as { repositories?: string[]; permissions?: Record<string, string> };
        const token = `ghs_${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
        const repos = body.repositories ?? [];
        installationTokens.set(token, {
          repositories: repos,
          write: body.permissions?.deployments === 'write',
        });
        issued.push({ token, installationId, repositories: repos, permissions: body.permissions });
        return {
          status: 201,
          body: {
            token,
            expires_at: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
            permissions: body.permissions ?? { deployments: 'write' },
            repository_selection: 'selected',
          },
        };
      }
      return error(404, 'Not Found');
    }
    const repository = `${r.params.owner}/${r.params.repo}`;
    const install = r.token ? installationTokens.get(r.token) : undefined;
    const grant = install
      ? install.repositories.includes(r.params.repo ?? '')
        ? install.write
          ? 'write'
          : 'read'
        : undefined
      : r.token
        ? tokens.get(r.token)
        : undefined;
    if (!grant) return error(401, 'Bad credentials');
    if (!repositories.has(repository)) return error(404, 'Not Found');
    switch (r.operationId) {
      case 'repos/list-deployments': {
        const q = r.query;
        const found = deployments.filter(
          (d) =>
            d.repository === repository &&
            (q.sha === undefined || d.sha === q.sha) &&
            (q.environment === undefined || d.environment === q.environment),
        );
        // GitHub lists the newest first.
        return {
          status: 200,
          body: [...found]
            .reverse()
            .slice(0, Number(q.per_page ?? 30))
            .map(deploymentJson),
        };
      }
      case 'repos/create-deployment': {
        if (grant !== 'write') return error(403, 'Resource not accessible by integration');
        const b = r.body as Record<string, unknown>;
        const d: StandinDeployment = {
          id: ++seq,
          repository,
          sha: String(b.ref),
          ref: String(b.ref),
          environment: String(b.environment ?? 'production'),
          payload: (b.payload ?? {}) as Record<string, unknown>,
          description: (b.description as string | undefined) ?? '',
          production_environment: Boolean(b.production_environment ?? b.environment === 'production'),
          transient_environment: Boolean(b.transient_environment ?? false),
          created_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          statuses: [],
        };
        deployments.push(d);
        return { status: 201, body: deploymentJson(d) };
      }
      case 'repos/create-deployment-status': {
        if (grant !== 'write') return error(403, 'Resource not accessible by integration');
        const d = deployments.find(
          (x) => x.repository === repository && x.id === Number(r.params.deployment_id),
        );
        if (!d) return error(404, 'Not Found');
        const b = r.body as Record<string, string>;
        const s: StandinStatus = {
          id: ++seq,
          state: b.state!,
          description: b.description ?? '',
          environment_url: b.environment_url ?? '',
          log_url: b.log_url ?? b.target_url ?? '',
          created_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        };
        d.statuses.push(s);
        return { status: 201, body: statusJson(d, s) };
      }
      default:
        return error(404, 'Not Found');
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        const problems: string[] = [];
        if (raw) {
          try {
            body = JSON.parse(raw);
          } catch {
            problems.push('the body is not JSON');
          }
          if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
            problems.push(`content-type ${String(req.headers['content-type'])} is not application/json`);
        }
        const checked = validateRequest(req.method ?? 'GET', req.url ?? '/', body);
        if (!String(req.headers.accept ?? '').includes('application/vnd.github+json'))
          problems.push('accept is not application/vnd.github+json');
        const auth = String(req.headers.authorization ?? '');
        const r: StandinRequest = {
          ...checked,
          problems: [...checked.problems, ...problems],
          token: auth.startsWith('Bearer ') ? auth.slice(7) : null,
          status: 0,
        };
        requests.push(r);
        if (r.problems.length > 0) violations.push(`${r.method} ${r.url}: ${r.problems.join('; ')}`);
        if (outage === 'hang') {
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
        }
        if (outage === 'error') {
          r.status = 500;
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"Server Error"}');
          return;
        }
        const answer = await handle(r);
        if (answer.status < 300 || answer.status === 422) {
          // 422 for a request that did not validate is the stand-in's own; its body is GitHub's shape anyway.
          if (r.problems.length === 0)
            violations.push(...validateResponse(r.operationId, answer.status, answer.body));
        }
        const hold = holds.find((h) => h.pred(r));
        if (hold) {
          holds.splice(holds.indexOf(hold), 1);
          hanging.add(res);
          hold.arrived(r);
          await hold.gate;
          hanging.delete(res);
        }
        r.status = answer.status;
        if (res.destroyed) return;
        res
          .writeHead(answer.status, {
            'content-type': 'application/json; charset=utf-8',
            'x-github-api-version-selected': '2022-11-28',
            'x-ratelimit-remaining': '4999',
          })
          .end(JSON.stringify(answer.body));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    requests,
    violations,
    deployments,
    repositories,
    tokens,
    issued,
    trustApp: (app) => apps.set(app.appId, { installationId: app.installationId, publicKey: app.publicKey }),
    setOutage(o) {
      outage = o;
      if (o !== 'hang') for (const res of hanging) res.destroy();
    },
    hold(pred) {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let arrived!: (r: StandinRequest) => void;
      const held = new Promise<StandinRequest>((r) => (arrived = r));
      holds.push({ pred, arrived, gate });
      return { held, release };
    },
    deploymentsOf: (repository, environment) =>
      deployments.filter((d) => d.repository === repository && d.environment === environment),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
