import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runProxy, type RunningProxy } from '../../src/targets/local/proxy-server.js';

const TOKEN = 'test-token';

/** One request to the proxy's control server over a real socket; `chunked` sends no Content-Length. */
function control(
  port: number,
  method: string,
  body?: string,
  chunked = false,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/route',
        method,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body === undefined
            ? {}
            : chunked
              ? { 'transfer-encoding': 'chunked' }
              : { 'content-length': Buffer.byteLength(body) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          }),
        );
      },
    );
    // The server closes the connection after refusing a body it will not read, so sending the rest may
    // fail; that is fine once the answer has come.
    let answered = false;
    let failed: Error | undefined;
    req.once('response', () => (answered = true));
    req.on('error', (err) => (failed = err));
    req.on('close', () => answered || reject(failed ?? new Error('closed without an answer')));
    req.end(body);
  });
}

describe("the local proxy's control server (real sockets)", () => {
  let dir: string;
  let proxy: RunningProxy;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'shipgate-proxy-'));
    proxy = await runProxy({
      port: 0,
      routeFile: path.join(dir, 'route.json'),
      infoFile: path.join(dir, 'proxy.json'),
      token: TOKEN,
      log: () => {},
    });
  });
  afterEach(async () => {
    await proxy.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sets a route, and refuses a route body over 64 KiB (declared or streamed) without changing the route', async () => {
    const route = [{ version: '1.0.0', port: 40001, weight: 100 }];
    expect(await control(proxy.adminPort, 'PUT', JSON.stringify({ route }))).toEqual({
      status: 200,
      json: { route },
    });
    const huge = JSON.stringify({ route, pad: 'x'.repeat(70 * 1024) });
    for (const chunked of [false, true]) {
      const refused = await control(proxy.adminPort, 'PUT', huge, chunked);
      expect(refused).toEqual({ status: 400, json: { error: `body over ${64 * 1024} bytes` } });
    }
    expect(await control(proxy.adminPort, 'GET')).toEqual({ status: 200, json: { route } });
  });
});
