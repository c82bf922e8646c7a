import { request } from 'node:http';

export interface HttpResult {
  status: number;
  body: string;
}

export interface HttpOptions {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/** A small request to 127.0.0.1 without keep-alive, so probes never hold sockets open. */
export function httpRequest(opts: HttpOptions): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: opts.port,
        path: opts.path,
        method: opts.method ?? 'GET',
        headers: { ...opts.headers, connection: 'close' },
        agent: false,
        timeout: opts.timeoutMs ?? 2000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`no answer from 127.0.0.1:${opts.port} within ${opts.timeoutMs ?? 2000} ms`)),
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
