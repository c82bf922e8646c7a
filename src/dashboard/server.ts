/**
 * The dashboard's HTTP server (node:http, no framework): routes only. The page is static (HTML, CSS and one
 * script file, so the Content-Security-Policy allows no inline script); everything it shows comes from the JSON
 * API and the event stream. Actions belong to the login (auth-seam.ts): without it the page is read-only and
 * shows the CLI command for each action instead.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ConfigSource } from '../config/source.js';
import type { Logger } from '../logger.js';
import { doraKeys, parsePeriod } from '../policy/dora.js';
import type { DashboardAuth } from './auth-seam.js';
import type { Collector } from './collector.js';
import { createMetrics } from './metrics.js';
import { INDEX_HTML, STYLES_CSS } from './page.js';
import { createEventHub } from './sse.js';
import { cellKey, timeline, type LinkContext } from './view.js';

/** Sent with every answer: no inline script or style, no framing, no sniffing, no referrer. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export interface DashboardServerOptions {
  collector: Collector;
  config: ConfigSource;
  links: LinkContext;
  auth?: DashboardAuth;
  logger?: Logger;
  /** Default 127.0.0.1: the page shows who may approve what; put it behind a proxy to share it. */
  host?: string;
  port: number;
}

export interface DashboardServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The page's script: compiled by tsc beside this module (build/dashboard/assets/app.js). */
export function appScriptPath(): string {
  const here = fileURLToPath(new URL('./assets/app.js', import.meta.url));
  if (existsSync(here)) return here;
  // Run from the sources (tests, tsx): the compiled copy under build/.
  return here.replace(/([\\/])src([\\/])dashboard([\\/])/, '$1build$2dashboard$3');
}

const MAX_PERIOD_MS = 366 * 86_400_000;

export async function startDashboardServer(opts: DashboardServerOptions): Promise<DashboardServer> {
  const { collector, auth, logger } = opts;
  const metrics = createMetrics(collector);
  const hub = createEventHub(collector);
  const script = readFileSync(appScriptPath());

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra = {}) => {
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'content-type': type,
      'cache-control': 'no-store',
      ...extra,
    });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, value: unknown) =>
    send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

  const known = (app: string | null, env: string | null): { app: string; env: string } | null => {
    const a = app ? opts.config.get().config.apps[app] : undefined;
    return app && env && a?.environments[env] ? { app, env } : null;
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (auth && (await auth.handle(req, res))) return;
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    if (path === '/api/me') return json(res, 200, { login: null, readOnly: true });
    if (path.startsWith('/api/actions/') || path.startsWith('/auth/'))
      return json(res, 403, {
        error:
          'this dashboard is read-only: no login is configured (ui.oidc in the config); run the command shown on the page instead',
      });
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
    switch (path) {
      case '/':
      case '/index.html':
        return send(res, 200, 'text/html; charset=utf-8', INDEX_HTML);
      case '/app.js':
        return send(res, 200, 'text/javascript; charset=utf-8', script);
      case '/styles.css':
        return send(res, 200, 'text/css; charset=utf-8', STYLES_CSS);
      case '/api/state':
        return json(res, 200, collector.state);
      case '/events':
        return hub.attach(req, res, SECURITY_HEADERS);
      case '/metrics':
        return send(res, 200, metrics.contentType, await metrics.text());
      case '/api/timeline': {
        const k = known(url.searchParams.get('app'), url.searchParams.get('env'));
        if (!k) return json(res, 404, { error: 'unknown app or environment' });
        const snap = collector.environments.get(cellKey(k.app, k.env)) ?? null;
        return json(res, 200, {
          ...k,
          current: snap?.current?.version ?? null,
          rows: timeline(snap, opts.links),
        });
      }
      case '/api/dora': {
        const k = known(url.searchParams.get('app'), url.searchParams.get('env'));
        if (!k) return json(res, 404, { error: 'unknown app or environment' });
        const periodText = url.searchParams.get('period') ?? '30d';
        const length = parsePeriod(periodText);
        if (length === null || length > MAX_PERIOD_MS)
          return json(res, 400, {
            error: `period: expected e.g. 7d, 30d, 12h or 4w (at most 366d), not ${JSON.stringify(periodText)}`,
          });
        const to = Date.now();
        const from = to - length;
        const snap = collector.environments.get(cellKey(k.app, k.env)) ?? null;
        const releaseStarts = await collector
          .releaseStarts(k.app, from - 30 * 86_400_000)
          .catch(() => new Map());
        const keys = doraKeys(snap?.ledger ?? [], { from, to }, { releaseStarts }, 30);
        return json(res, 200, { ...k, periodText, ...keys });
      }
      default:
        return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      logger?.error({ err: String(err), url: req.url }, 'dashboard: request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error; see the dashboard log' });
      else res.end();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 0; // the event stream stays open
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    async close() {
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
