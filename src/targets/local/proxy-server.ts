import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { createProxyServer } from 'http-proxy-3';
import { closeAfterAnswer, readBody } from '../../http/read-body.js';
import { readJson, writeJsonAtomic } from './json-file.js';
import { routeProblem, WeightedPicker, type RouteEntry } from './route.js';

export interface ProxyServerOptions {
  port: number;
  /** Where the route is persisted, so a restarted proxy serves what it served before. */
  routeFile: string;
  /** Written once both servers listen: { pid, port, adminPort }. */
  infoFile: string;
  token: string;
  log: (message: string) => void;
}

export interface RunningProxy {
  port: number;
  adminPort: number;
  close(): Promise<void>;
}

// Replaying a request on another upstream is only safe when repeating it changes nothing and there is no
// body that was already streamed to the failed upstream.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const RETRIABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

function replayable(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (
    IDEMPOTENT.has(req.method ?? '') &&
    (len === undefined || len === '0') &&
    !req.headers['transfer-encoding']
  );
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
  res.end(text);
}

/** A route is a handful of entries; anything near this size is not one. */
const MAX_ROUTE_BYTES = 64 * 1024;

export async function runProxy(opts: ProxyServerOptions): Promise<RunningProxy> {
  const saved = readJson<{ route: RouteEntry[] }>(opts.routeFile);
  let picker = new WeightedPicker(saved && routeProblem(saved.route) === null ? saved.route : []);
  opts.log(`route on start: ${JSON.stringify(picker.route)}`);

  // Keep-alive to upstreams avoids a TCP handshake per request; stale sockets are covered by the retry.
  const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32 });
  const proxy = createProxyServer({ agent, xfwd: true });

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    upstream: RouteEntry | null,
    retry: boolean,
  ) => {
    if (upstream === null) {
      reply(res, 503, 'no version is deployed to this environment\n');
      return;
    }
    const target = `http://127.0.0.1:${upstream.port}`;
    // The original request stream is consumed by the first attempt, so a retry sends an empty body.
    const options = retry ? { target, buffer: Readable.from([]) } : { target };
    proxy.web(req, res, options, (err) => {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!retry && !res.headersSent && RETRIABLE.has(code) && replayable(req)) {
        const next = picker.fallback(upstream.port);
        opts.log(
          `${code} from ${upstream.version} on :${upstream.port}; retrying on ${next?.version ?? 'nothing'}`,
        );
        forward(req, res, next, true);
        return;
      }
      opts.log(
        `${req.method} ${req.url} to ${upstream.version} on :${upstream.port} failed: ${code || err.message}`,
      );
      if (!res.headersSent) reply(res, 502, `upstream ${upstream.version} failed: ${code || err.message}\n`);
      else res.destroy();
    });
  };

  const publicServer = createServer((req, res) => forward(req, res, picker.pick(), false));

  const expected = Buffer.from(`Bearer ${opts.token}`);
  const authorized = (req: IncomingMessage) => {
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };

  let port = opts.port;
  const admin = createServer((req, res) => {
    void (async () => {
      if (!authorized(req)) return reply(res, 401, { error: 'missing or wrong token' });
      if (req.method === 'GET' && req.url === '/health') return reply(res, 200, { pid: process.pid, port });
      if (req.method === 'GET' && req.url === '/route') return reply(res, 200, { route: picker.route });
      if (req.method === 'PUT' && req.url === '/route') {
        const read = await readBody(req, MAX_ROUTE_BYTES);
        if (!read.ok) {
          closeAfterAnswer(req, res);
          return reply(res, 400, { error: read.reason });
        }
        let body: { route?: unknown };
        try {
          body = JSON.parse(read.body.toString('utf8')) as { route?: unknown };
        } catch (err) {
          return reply(res, 400, { error: `invalid JSON: ${(err as Error).message}` });
        }
        const problem = routeProblem(body.route);
        if (problem) return reply(res, 400, { error: problem });
        const route = body.route as RouteEntry[];
        // Persist before acknowledging: whoever saw the ack may rely on the route surviving a proxy restart.
        writeJsonAtomic(opts.routeFile, { route, updatedAt: new Date().toISOString() });
        picker = new WeightedPicker(route);
        opts.log(`route set: ${JSON.stringify(route)}`);
        return reply(res, 200, { route });
      }
      reply(res, 404, { error: 'not found' });
    })().catch((err: unknown) => {
      if (!res.headersSent) reply(res, 500, { error: (err as Error).message });
    });
  });

  port = await listen(publicServer, opts.port);
  const adminPort = await listen(admin, 0);
  writeJsonAtomic(opts.infoFile, { pid: process.pid, port, adminPort, startedAt: new Date().toISOString() });

  return {
    port,
    adminPort,
    close: async () => {
      const closed = (s: Server) => new Promise<void>((resolve) => s.close(() => resolve()));
      const done = Promise.all([closed(publicServer), closed(admin)]);
      publicServer.closeIdleConnections();
      admin.closeIdleConnections();
      await done;
      agent.destroy();
    },
  };
}
