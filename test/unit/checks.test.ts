import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCheck, verify } from '../../src/activities/checks.js';
import { httpProbe } from '../../src/targets/http-probe.js';
import type { CheckSpec, VerifySpec } from '../../src/workflows/types.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, hit: number) => void;

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const text = (res: http.ServerResponse, status: number, body: string) => {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(body);
};

/** A stand-in for hello-service serving version 1.2.0, with a few extra routes for the edge cases. */
const routes: Record<string, Handler> = {
  '/health': (_q, res) => text(res, 200, 'ok'),
  '/smoke': (_q, res) => text(res, 200, 'ok'),
  '/broken': (_q, res) => text(res, 500, 'boom'),
  '/missing': (_q, res) => text(res, 404, 'not here'),
  '/version': (_q, res) => json(res, 200, { version: '1.2.0' }),
  '/info': (_q, res) =>
    json(res, 200, {
      build: { version: '1.2.0', tag: 'v1.2.0', ready: true, tags: ['1.2.0', 'stable'] },
      workers: 3,
    }),
  '/not-json': (_q, res) => text(res, 200, '<html>ok</html>'),
  '/slow': () => {
    /* never answers */
  },
};

let server: http.Server;
let port: number;
let deadPort: number;
const hits: Record<string, number> = {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const p = (req.url ?? '/').split('?')[0]!;
    hits[p] = (hits[p] ?? 0) + 1;
    const handler = routes[p];
    if (handler) handler(req, res, hits[p]!);
    else text(res, 404, 'no route');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;

  // A port nobody listens on: bind one, then close it.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  for (const k of Object.keys(hits)) delete hits[k];
});

/** The probe an HTTP target supplies for an environment on 127.0.0.1:<port>. */
const probe = (p: number) => httpProbe(`http://127.0.0.1:${p}`);

const check = (over: Partial<CheckSpec> & { path: string }): CheckSpec => ({
  status: 200,
  timeoutMs: 2000,
  ...over,
});

describe('runCheck', () => {
  it('passes when the status matches', async () => {
    expect(await runCheck(probe(port), check({ path: '/smoke' }), '1.2.0')).toBeNull();
    expect(await runCheck(probe(port), check({ path: '/missing', status: 404 }), '1.2.0')).toBeNull();
  });

  it('fails on a status mismatch, naming the path and both statuses', async () => {
    expect(await runCheck(probe(port), check({ path: '/broken' }), '1.2.0')).toBe(
      'GET /broken answered 500, expected 200',
    );
    expect(await runCheck(probe(port), check({ path: '/smoke', status: 204 }), '1.2.0')).toBe(
      'GET /smoke answered 200, expected 204',
    );
  });

  it('fills {{version}} into expected JSON values with the release version', async () => {
    const spec = check({ path: '/version', json: { version: '{{version}}' } });
    expect(await runCheck(probe(port), spec, '1.2.0')).toBeNull();
    expect(await runCheck(probe(port), spec, '1.3.0')).toBe(
      'GET /version: version is "1.2.0", expected "1.3.0"',
    );
  });

  it('fills {{version}} inside longer strings and arrays', async () => {
    const spec = check({
      path: '/info',
      json: { 'build.tag': 'v{{version}}', 'build.tags': ['{{version}}', 'stable'] },
    });
    expect(await runCheck(probe(port), spec, '1.2.0')).toBeNull();
    expect(await runCheck(probe(port), spec, '2.0.0')).toBe(
      'GET /info: build.tag is "v1.2.0", expected "v2.0.0"',
    );
  });

  it('reads dotted JSON fields and compares values with their types', async () => {
    expect(
      await runCheck(
        probe(port),
        check({ path: '/info', json: { 'build.version': '{{version}}', 'build.ready': true, workers: 3 } }),
        '1.2.0',
      ),
    ).toBeNull();
    expect(await runCheck(probe(port), check({ path: '/info', json: { workers: '3' } }), '1.2.0')).toBe(
      'GET /info: workers is 3, expected "3"',
    );
    expect(
      await runCheck(probe(port), check({ path: '/info', json: { 'build.ready': false } }), '1.2.0'),
    ).toBe('GET /info: build.ready is true, expected false');
  });

  it('fails on a field the body does not have', async () => {
    const problem = await runCheck(
      probe(port),
      check({ path: '/info', json: { 'build.commit.sha': 'abc' } }),
      '1.2.0',
    );
    expect(problem).toBe('GET /info: build.commit.sha is undefined, expected "abc"');
  });

  it('fails when the body is not JSON', async () => {
    expect(
      await runCheck(probe(port), check({ path: '/not-json', json: { version: '{{version}}' } }), '1.2.0'),
    ).toBe('GET /not-json did not answer JSON');
  });

  it('checks the status before the body', async () => {
    expect(
      await runCheck(probe(port), check({ path: '/broken', json: { version: '{{version}}' } }), '1.2.0'),
    ).toBe('GET /broken answered 500, expected 200');
  });

  it('ignores the body when no JSON is expected', async () => {
    expect(await runCheck(probe(port), check({ path: '/not-json' }), '1.2.0')).toBeNull();
  });

  it('fails when the connection is refused, saying so', async () => {
    const problem = await runCheck(probe(deadPort), check({ path: '/smoke' }), '1.2.0');
    expect(problem).toMatch(/^GET \/smoke: /);
    expect(problem).toContain('ECONNREFUSED');
  });

  it('gives up after the check timeout (a probe that waited for an answer would hang the test)', async () => {
    const problem = await runCheck(probe(port), check({ path: '/slow', timeoutMs: 200 }), '1.2.0');
    expect(problem).toMatch(/^GET \/slow: /);
    expect(problem).toMatch(/timeout|timed out|aborted/i);
  });
});

const spec = (over: Partial<VerifySpec> = {}): VerifySpec => ({
  checks: [check({ path: '/smoke' })],
  durationMs: 0,
  intervalMs: 50,
  failureLimit: 0,
  ...over,
});

describe('verify', () => {
  it('without checks, probes /health once', async () => {
    const beats: string[] = [];
    expect(await verify(probe(port), '1.2.0', spec({ checks: [] }), (d) => beats.push(d))).toEqual({
      ok: true,
      detail: '1 round(s), 0 failed',
    });
    expect(hits['/health']).toBe(1);
    expect(beats).toEqual(['round 1, 0 failed']);
  });

  it('without checks, fails when /health is down', async () => {
    const result = await verify(probe(deadPort), '1.2.0', spec({ checks: [] }), () => {});
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^GET \/health: .*ECONNREFUSED/);
  });

  it('runs every check and reports the first failing one', async () => {
    const result = await verify(
      probe(port),
      '1.3.0',
      spec({
        checks: [check({ path: '/smoke' }), check({ path: '/version', json: { version: '{{version}}' } })],
      }),
      () => {},
    );
    expect(result).toEqual({ ok: false, detail: 'GET /version: version is "1.2.0", expected "1.3.0"' });
  });

  it('passes a version that answers every check', async () => {
    const result = await verify(
      probe(port),
      '1.2.0',
      spec({
        checks: [check({ path: '/smoke' }), check({ path: '/version', json: { version: '{{version}}' } })],
      }),
      () => {},
    );
    expect(result).toEqual({ ok: true, detail: '1 round(s), 0 failed' });
  });

  it('soaks: repeats the checks for the duration', async () => {
    const beats: string[] = [];
    const result = await verify(probe(port), '1.2.0', spec({ durationMs: 300, intervalMs: 50 }), (d) =>
      beats.push(d),
    );
    expect(result.ok).toBe(true);
    expect(hits['/smoke']).toBeGreaterThanOrEqual(3);
    expect(result.detail).toBe(`${hits['/smoke']} round(s), 0 failed`);
    expect(beats).toHaveLength(hits['/smoke']!);
  });

  it('soak tolerates up to failureLimit failed rounds', async () => {
    routes['/flaky'] = (_q, res, hit) => text(res, hit <= 2 ? 503 : 200, 'x');
    const result = await verify(
      probe(port),
      '1.2.0',
      spec({ checks: [check({ path: '/flaky' })], durationMs: 300, intervalMs: 30, failureLimit: 2 }),
      () => {},
    );
    expect(result.ok).toBe(true);
    expect(result.detail).toMatch(/^\d+ round\(s\), 2 failed$/);
  });

  it('soak fails once failures pass failureLimit, with the last problem, without waiting out the duration', async () => {
    routes['/flaky'] = (_q, res, hit) => text(res, hit === 2 || hit === 4 ? 503 : 200, 'x');
    const result = await verify(
      probe(port),
      '1.2.0',
      spec({ checks: [check({ path: '/flaky' })], durationMs: 10_000, intervalMs: 30, failureLimit: 1 }),
      () => {},
    );
    expect(result).toEqual({ ok: false, detail: 'GET /flaky answered 503, expected 200' });
    // Four rounds, not the ~300 that 10 s at 30 ms would take: it stopped at the second failure.
    expect(hits['/flaky']).toBe(4);
  });

  it('fails at once, without probing, when the target says the version stopped running', async () => {
    const result = await verify(
      probe(port),
      '1.2.0',
      spec({ durationMs: 10_000 }),
      () => {},
      async () => 'the process of 1.2.0 exited',
    );
    expect(result).toEqual({
      ok: false,
      dead: true,
      detail: 'the process of 1.2.0 exited during verification',
    });
    expect(hits['/smoke']).toBeUndefined();
  });

  it('fails at the first failure when failureLimit is 0', async () => {
    const result = await verify(
      probe(port),
      '1.2.0',
      spec({ checks: [check({ path: '/broken' })], durationMs: 10_000, intervalMs: 50 }),
      () => {},
    );
    expect(result).toEqual({ ok: false, detail: 'GET /broken answered 500, expected 200' });
    expect(hits['/broken']).toBe(1);
  });
});
