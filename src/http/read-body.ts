/**
 * Reading a request body with a size cap, for the HTTP endpoints shipgate serves (the Slack interactivity
 * endpoint, the local proxy's control server).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: string };

/**
 * Reads at most `limit` bytes. A larger body is refused from its Content-Length, or as soon as it passes the
 * limit; the rest is left unread (answer, then `closeAfterAnswer`).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.pause();
    return Promise.resolve({ ok: false, reason: `body over ${limit} bytes` });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyResult) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish({ ok: false, reason: `body over ${limit} bytes` });
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish({ ok: true, body: Buffer.concat(chunks) }));
    req.once('error', (err) => finish({ ok: false, reason: `could not read the body: ${err.message}` }));
  });
}

/** After a refused body: its rest is never read, so the connection closes once the answer is out. */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
  res.once('finish', () => req.socket.destroy());
}
