/**
 * The worker's GitHub Deployments client against the GitHub API stand-in on loopback, which checks every request
 * against GitHub's published OpenAPI description (@octokit/openapi) and answers with the shapes it documents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { createGithubClient, type GithubClient } from '../../src/integrations/github/deployments.js';
import { GithubApiError, needsPerson, noticeText, problemKey } from '../../src/integrations/github/policy.js';
import {
  startGithubApiStandin,
  validateRequest,
  type GithubApiStandin,
} from '../helpers/github-api-standin.js';

const SHA = '3f2a9c0d1e4b5a6978877665544332211f0e9d8c';
const TOKEN = 'github_pat_standin_write';
const READ_ONLY = 'github_pat_standin_read';

describe('GitHub Deployments client (GitHub API stand-in on loopback)', () => {
  let gh: GithubApiStandin;
  let client: GithubClient;

  beforeAll(async () => {
    gh = await startGithubApiStandin();
    gh.repositories.add('acme/hello');
    gh.tokens.set(TOKEN, 'write');
    gh.tokens.set(READ_ONLY, 'read');
    client = createGithubClient({
      api: gh.url,
      source: { kind: 'env', name: 'GH_TOKEN' },
      env: { GH_TOKEN: TOKEN },
    });
  });
  afterAll(async () => {
    await gh?.close();
  });

  const request = (opId: string, environment = 'staging') => ({
    owner: 'acme',
    repo: 'hello',
    sha: SHA,
    environment,
    opId,
    releaseId: 'release/hello/1.0.0',
    app: 'hello',
    version: '1.0.0',
    description: 'Deploy 1.0.0 (shipgate)',
    productionEnvironment: environment === 'production',
  });

  it('the stand-in refuses requests GitHub would not take: the validator is not vacuous', () => {
    const noRef = validateRequest('POST', '/repos/acme/hello/deployments', { environment: 'staging' });
    expect(noRef.operationId).toBe('repos/create-deployment');
    expect(noRef.problems.join()).toMatch(/ref/);
    const misspelt = validateRequest('POST', '/repos/acme/hello/deployments', { ref: SHA, enviroment: 'x' });
    expect(misspelt.problems.join()).toMatch(/enviroment/);
    const badState = validateRequest('POST', '/repos/acme/hello/deployments/1/statuses', { state: 'done' });
    expect(badState.problems.join()).toMatch(/allowed values/);
    const badId = validateRequest('POST', '/repos/acme/hello/deployments/abc/statuses', { state: 'success' });
    expect(badId.problems.join()).toMatch(/deployment_id/);
    expect(
      validateRequest('GET', '/repos/acme/hello/deployments?colour=red', undefined).problems.join(),
    ).toMatch(/colour/);
    expect(validateRequest('POST', '/repos/acme/hello/deploys', {}).problems.join()).toMatch(/no operation/);
  });

  it('creates a deployment once for an op, finds it again instead of creating a second, and posts statuses', async () => {
    const first = await client.ensureDeployment(request('op-1'));
    expect(first.created).toBe(true);
    const again = await client.ensureDeployment(request('op-1'));
    expect(again).toEqual({
      deployment: expect.objectContaining({ id: first.deployment.id }),
      created: false,
    });
    const other = await client.ensureDeployment(request('op-2'));
    expect(other.deployment.id).not.toBe(first.deployment.id);
    await client.createStatus({
      owner: 'acme',
      repo: 'hello',
      id: first.deployment.id,
      state: 'in_progress',
      description: 'Deploying 1.0.0 on staging',
      environmentUrl: 'https://staging.example.com',
      logUrl: 'https://deploys.example.com/?app=hello&env=staging',
    });
    await client.createStatus({
      owner: 'acme',
      repo: 'hello',
      id: first.deployment.id,
      state: 'success',
      description: 'ok',
    });
    const d = gh.deployments.find((x) => x.id === first.deployment.id)!;
    expect(d).toMatchObject({
      sha: SHA,
      ref: SHA,
      environment: 'staging',
      payload: {
        shipgate: { opId: 'op-1', releaseId: 'release/hello/1.0.0', app: 'hello', version: '1.0.0' },
      },
      production_environment: false,
    });
    expect(d.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
    expect(d.statuses[0]).toMatchObject({
      environment_url: 'https://staging.example.com',
      log_url: 'https://deploys.example.com/?app=hello&env=staging',
    });
    expect(gh.requests.every((r) => r.token === TOKEN)).toBe(true);
    expect(gh.violations).toEqual([]);
  });

  it('as a GitHub App: one installation token (JWT signed with the App key), scoped to the repository and deployments: write, reused', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    gh.trustApp({ appId: '4242', installationId: '77', publicKey });
    // GitHub hands out PKCS#1 PEM keys.
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const app = createGithubClient({
      api: gh.url,
      source: { kind: 'app', appId: '4242', installationId: '77', privateKey: async () => pem },
    });
    const before = gh.issued.length;
    const made = await app.ensureDeployment(request('op-app', 'production'));
    await app.createStatus({
      owner: 'acme',
      repo: 'hello',
      id: made.deployment.id,
      state: 'success',
      description: 'ok',
    });
    expect(gh.issued.slice(before)).toEqual([
      expect.objectContaining({
        installationId: '77',
        repositories: ['hello'],
        permissions: { deployments: 'write' },
      }),
    ]);
    expect(gh.deployments.find((d) => d.id === made.deployment.id)?.production_environment).toBe(true);
    expect(gh.violations).toEqual([]);
  });

  it('a token without deployments: write gets GitHub 403, which needs a person and says so once, without the token', async () => {
    const ro = createGithubClient({ api: gh.url, source: { kind: 'env', name: 'T' }, env: { T: READ_ONLY } });
    const err = await ro.ensureDeployment(request('op-ro')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GithubApiError);
    const e = err as GithubApiError;
    expect(e.status).toBe(403);
    expect(needsPerson(e)).toBe(true);
    const text = noticeText('acme/hello', e);
    expect(text).toBe(
      'GitHub deployments for acme/hello: the token may not create deployments (403 Resource not accessible by integration); it needs deployments: write; releases go on',
    );
    expect(text).not.toContain(READ_ONLY);
    const missing = createGithubClient({ api: gh.url, source: { kind: 'env', name: 'UNSET_VAR' }, env: {} });
    const setup = (await missing.findDeployment(request('x')).catch((e: unknown) => e)) as GithubApiError;
    expect(needsPerson(setup)).toBe(true);
    expect(noticeText('acme/hello', setup)).toMatch(/UNSET_VAR \(github.token.env\) is not set/);
    const gone = (await client
      .ensureDeployment({ ...request('x'), repo: 'nope' })
      .catch((e: unknown) => e)) as GithubApiError;
    expect(gone.status).toBe(404);
    expect(noticeText('acme/nope', gone)).toMatch(/repository is not found, or the token cannot see it/);
  });

  it('GitHub down (500) or hanging: an outage that passes, not a person’s problem; a hang ends at the timeout', async () => {
    gh.setOutage('error');
    const down = (await client.findDeployment(request('op-1')).catch((e: unknown) => e)) as GithubApiError;
    expect(down.status).toBe(500);
    expect(needsPerson(down)).toBe(false);
    expect(problemKey('acme/hello', down)).toBe('acme/hello unreachable');
    gh.setOutage('hang');
    const quick = createGithubClient({
      api: gh.url,
      source: { kind: 'env', name: 'T' },
      env: { T: TOKEN },
      timeoutMs: 300,
    });
    const hung = (await quick.findDeployment(request('op-1')).catch((e: unknown) => e)) as GithubApiError;
    expect(hung.status).toBeNull();
    expect(hung.message).toMatch(/no answer within 0.3 s/);
    expect(needsPerson(hung)).toBe(false);
    gh.setOutage('none');
  });
});
