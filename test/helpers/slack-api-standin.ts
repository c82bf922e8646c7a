/**
 * A stand-in for Slack's Web API, speaking its wire protocol over real HTTP on 127.0.0.1: `POST /api/<method>`
 * with a Bearer token and a form-encoded (or JSON) body, answered with `{ok, ...}` JSON, as slack.com/api does.
 * It records every call, serves `response_url` posts under /actions/, and can simulate an outage (HTTP 500s,
 * or requests that never get an answer).
 */
import http from 'node:http';
import { createHmac } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';

export interface SlackApiCall {
  method: string;
  token: string | null;
  contentType: string;
  /** Form fields, with JSON-encoded ones (blocks, view, ...) decoded. */
  body: Record<string, unknown>;
  at: number;
  /** What the stand-in answered (when it answered). */
  response?: Record<string, unknown>;
}

export interface ResponseUrlPost {
  path: string;
  body: Record<string, unknown>;
  at: number;
}

export type Outage = 'none' | 'error' | 'hang';

export interface SlackApiStandin {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The value for config `slack.apiUrl`. */
  apiUrl: string;
  calls: SlackApiCall[];
  /** Calls that got an answer other than a simulated outage. */
  answered: SlackApiCall[];
  responses: ResponseUrlPost[];
  /** A response_url for one click. */
  responseUrl(id: string): string;
  setOutage(mode: Outage): void;
  /** How many requests the stand-in holds open right now without answering (outage 'hang'). */
  held(): number;
  waitFor(
    pred: (c: SlackApiCall) => boolean,
    timeoutMs?: number,
    from?: SlackApiCall[],
  ): Promise<SlackApiCall>;
  waitForResponse(pred: (r: ResponseUrlPost) => boolean, timeoutMs?: number): Promise<ResponseUrlPost>;
  close(): Promise<void>;
}

export const STANDIN_TOKEN = 'xoxb-standin-token';

export async function startSlackApiStandin(): Promise<SlackApiStandin> {
  const calls: SlackApiCall[] = [];
  const answered: SlackApiCall[] = [];
  const responses: ResponseUrlPost[] = [];
  let outage: Outage = 'none';
  let seq = 0;
  const messages = new Map<string, Record<string, unknown>>();
  const hanging = new Set<http.ServerResponse>();
  const watchers = new Set<() => void>();
  const changed = () => {
    for (const w of [...watchers]) w();
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const contentType = String(req.headers['content-type'] ?? '');
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'POST' && url.pathname.startsWith('/actions/')) {
        responses.push({
          path: url.pathname,
          body: JSON.parse(raw || '{}') as Record<string, unknown>,
          at: Date.now(),
        });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        changed();
        return;
      }
      const m = /^\/api\/([a-zA-Z.]+)$/.exec(url.pathname);
      if (req.method !== 'POST' || !m) {
        res.writeHead(404).end();
        return;
      }
      const auth = String(req.headers.authorization ?? '');
      const call: SlackApiCall = {
        method: m[1]!,
        token: auth.startsWith('Bearer ') ? auth.slice(7) : null,
        contentType,
        body: decodeBody(raw, contentType),
        at: Date.now(),
      };
      calls.push(call);
      changed();
      if (outage === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      if (outage === 'error') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream failure');
        return;
      }
      answered.push(call);
      const reply = (body: Record<string, unknown>) => {
        call.response = body;
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
        changed();
      };
      if (call.token !== STANDIN_TOKEN) return reply({ ok: false, error: 'invalid_auth' });
      const b = call.body;
      switch (call.method) {
        case 'chat.postMessage': {
          if (typeof b.channel !== 'string' || !b.channel)
            return reply({ ok: false, error: 'channel_not_found' });
          if (!b.text && !b.blocks) return reply({ ok: false, error: 'no_text' });
          const ts = `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;
          messages.set(`${b.channel}/${ts}`, b);
          return reply({ ok: true, channel: b.channel, ts, message: { text: b.text, ts } });
        }
        case 'chat.update': {
          const key = `${String(b.channel)}/${String(b.ts)}`;
          if (!messages.has(key)) return reply({ ok: false, error: 'message_not_found' });
          messages.set(key, b);
          return reply({ ok: true, channel: b.channel, ts: b.ts, text: b.text });
        }
        case 'views.open': {
          if (typeof b.trigger_id !== 'string') return reply({ ok: false, error: 'invalid_trigger_id' });
          return reply({
            ok: true,
            view: { id: `V${String(++seq).padStart(8, '0')}`, ...(b.view as object) },
          });
        }
        default:
          return reply({ ok: false, error: 'unknown_method' });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  /** Waits for the next recorded call or post that `find` accepts; checked on every one as it arrives. */
  const waitUntil = <T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const hit = find();
        if (hit === undefined) return;
        finish();
        resolve(hit);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      check();
    });

  return {
    url,
    apiUrl: `${url}/api/`,
    calls,
    answered,
    responses,
    responseUrl: (id) => `${url}/actions/${id}`,
    setOutage(mode) {
      outage = mode;
      if (mode !== 'hang') for (const res of hanging) res.destroy();
    },
    held: () => hanging.size,
    waitFor: (pred, timeoutMs = 30_000, from = answered) =>
      waitUntil(() => from.find(pred), timeoutMs, 'a Slack API call'),
    waitForResponse: (pred, timeoutMs = 10_000) =>
      waitUntil(() => responses.find(pred), timeoutMs, 'a response_url post'),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function decodeBody(raw: string, contentType: string): Record<string, unknown> {
  if (contentType.startsWith('application/json')) return JSON.parse(raw || '{}') as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    out[k] = /^[[{]/.test(v) ? tryJson(v) : v;
  }
  return out;
}

function tryJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

// ---- the other direction: requests as Slack signs and sends them to the app ----

/** `v0=` + HMAC-SHA256(secret, `v0:<ts>:<body>`), as Slack signs requests. */
export function slackSignature(secret: string, timestamp: number | string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** An interactivity request body, form-encoded with a JSON `payload` field, as Slack sends it. */
export function interactionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface SlackPostResult {
  status: number;
  body: Record<string, unknown> | null;
  text: string;
  ms: number;
}

/** POSTs a body to the endpoint over real HTTP, signed with `secret` unless headers are given. */
export function postToEndpoint(
  endpoint: string,
  body: string | Buffer,
  opts: {
    secret?: string;
    timestamp?: number;
    signature?: string;
    contentType?: string;
    chunked?: boolean;
  } = {},
): Promise<SlackPostResult> {
  const started = Date.now();
  const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const signature = opts.signature ?? (opts.secret ? slackSignature(opts.secret, ts, text) : undefined);
  const u = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        // One connection per request, closed after it: no idle keep-alive sockets outlive a request.
        agent: false,
        headers: {
          'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': String(ts),
          ...(signature ? { 'x-slack-signature': signature } : {}),
          ...(opts.chunked
            ? { 'transfer-encoding': 'chunked' }
            : { 'content-length': Buffer.byteLength(body) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const t = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> | null = null;
          try {
            parsed = t ? (JSON.parse(t) as Record<string, unknown>) : null;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text: t, ms: Date.now() - started });
        });
      },
    );
    // The server may answer (and close) before the whole body is sent: that is the point of the size limit.
    let responded = false;
    req.once('response', () => (responded = true));
    req.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE' || code === 'ECONNRESET') setTimeout(() => responded || reject(err), 1000);
      else reject(err);
    });
    if (opts.chunked) {
      const buf = Buffer.from(body);
      const step = 64 * 1024;
      let i = 0;
      const pump = () => {
        while (i < buf.length) {
          const ok = req.write(buf.subarray(i, i + step));
          i += step;
          if (!ok) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    } else req.end(body);
  });
}

// ---- raw sockets: what a slow or hostile client does ----

export interface RawAnswer {
  /** The HTTP status the server answered with (0: it closed without answering). */
  status: number;
  /** Everything the server sent. */
  text: string;
}

/**
 * Sends `head` (request line and headers; the blank line is added) and then `body`, over a raw TCP socket, and
 * never finishes the request: the declared Content-Length may promise more than is sent. Resolves once the
 * server has answered and closed the connection, so it resolves only if the server answers without the rest.
 */
export function rawExchange(endpoint: string, head: string[], body = ''): Promise<RawAnswer> {
  const u = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the answer is how some closes look from here.
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text });
    });
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}

export interface SlowConnection {
  /** Resolves when the server closed the connection. */
  closed: Promise<void>;
  isClosed(): boolean;
  destroy(): void;
}

/** A connection that sends the start of a request's headers and then nothing: a slowloris client. */
export function slowConnection(endpoint: string): SlowConnection {
  const u = new URL(endpoint);
  const socket = net.connect({ host: u.hostname, port: Number(u.port) });
  let closed = false;
  socket.on('error', () => undefined);
  socket.write(`POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nX-Slack-Request-Timestamp: `);
  return {
    closed: new Promise((resolve) =>
      socket.once('close', () => {
        closed = true;
        resolve();
      }),
    ),
    isClosed: () => closed,
    destroy: () => socket.destroy(),
  };
}
