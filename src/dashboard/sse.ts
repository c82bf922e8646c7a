/**
 * Server-sent events: `GET /events` gets the whole state first (`event: snapshot`), then one `event: patch`
 * per change the collector saw (the changed cells and releases only). A comment line every 15 s keeps proxies
 * from closing an idle stream. EventSource reconnects on its own and gets a fresh snapshot.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Collector, StatePatch } from './collector.js';

const HEARTBEAT_MS = 15_000;

export interface EventHub {
  /** Takes over the response as an event stream. */
  attach(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void;
  readonly clients: number;
  close(): void;
}

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export function createEventHub(collector: Collector, maxClients = 256): EventHub {
  const clients = new Set<ServerResponse>();
  collector.onPatch((patch: StatePatch) => {
    const text = frame('patch', patch);
    for (const res of clients) res.write(text);
  });
  const heartbeat = setInterval(() => {
    for (const res of clients) res.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    get clients() {
      return clients.size;
    },
    attach(req, res, headers) {
      if (clients.size >= maxClients) {
        res.writeHead(503, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
        res.end('too many live views open; try again shortly\n');
        return;
      }
      res.writeHead(200, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write(`retry: 1000\n${frame('snapshot', collector.state)}`);
      clients.add(res);
      const drop = () => clients.delete(res);
      req.on('close', drop);
      res.on('error', drop);
    },
    close() {
      clearInterval(heartbeat);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
