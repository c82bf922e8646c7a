/**
 * Reading many small objects from an S3-compatible server named by `audit.s3.endpoint`. Verifying a chain reads
 * one object per record, and on a local server the SDK's per-request work (middleware, endpoint rules,
 * serialisation), not the network, is what limits it: about 0.9 ms of CPU per GET against 0.15 ms for a plain
 * request. So each GET here is signed by the client's own SigV4 signer, with the client's credentials (the AWS
 * chain), and sent over a keep-alive agent. Anything but a 200 answer, or any transport error, returns
 * undefined and the caller asks the SDK instead, which owns retries, redirects and error codes.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { S3Client } from '@aws-sdk/client-s3';

type Signer = Awaited<ReturnType<S3Client['config']['signer']>>;
type SignableRequest = Parameters<Signer['sign']>[0];

export interface FastGetter {
  /** The object's text, or undefined when the SDK should be asked instead. */
  get(key: string, versionId?: string): Promise<string | undefined>;
  close(): void;
}

export function createFastGetter(
  client: S3Client,
  opts: { endpoint: string; bucket: string; region: string; forcePathStyle: boolean; sockets: number },
): FastGetter {
  const base = new URL(opts.endpoint);
  // The SDK's own rule: path-style when asked, or when the endpoint is an IP address (no bucket subdomain).
  const pathStyle = opts.forcePathStyle || isIP(base.hostname.replace(/^\[|\]$/g, '')) !== 0;
  const hostname = pathStyle ? base.hostname : `${opts.bucket}.${base.hostname}`;
  const host = base.port ? `${hostname}:${base.port}` : hostname;
  const root = `${base.pathname.replace(/\/$/, '')}${pathStyle ? `/${opts.bucket}` : ''}`;
  const secure = base.protocol === 'https:';
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: opts.sockets })
    : new http.Agent({ keepAlive: true, maxSockets: opts.sockets });
  let signer: Promise<Signer> | undefined;
  const signerOf = () =>
    (signer ??= client.config.signer({
      name: 'sigv4',
      signingName: 's3',
      signingRegion: opts.region,
      properties: {},
    }));

  return {
    async get(key, versionId) {
      try {
        const query: Record<string, string> = versionId && versionId !== 'null' ? { versionId } : {};
        const request = {
          method: 'GET',
          protocol: base.protocol,
          hostname,
          port: base.port ? Number(base.port) : undefined,
          path: `${root}/${key.split('/').map(encodeURIComponent).join('/')}`,
          query,
          headers: { host },
        } as SignableRequest;
        const signed = await (
          await signerOf()
        ).sign(request, { signingRegion: opts.region, signingService: 's3' });
        const qs = new URLSearchParams(query).toString();
        return await new Promise<string | undefined>((resolve) => {
          const req = (secure ? https : http).request(
            {
              method: 'GET',
              host: hostname.replace(/^\[|\]$/g, ''),
              port: base.port || undefined,
              path: qs ? `${signed.path}?${qs}` : signed.path,
              headers: { ...signed.headers, host },
              agent,
              timeout: 30_000,
            },
            (res) => {
              if (res.statusCode !== 200) {
                res.resume();
                resolve(undefined);
                return;
              }
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (d: string) => (text += d));
              res.on('end', () => resolve(text));
              res.on('error', () => resolve(undefined));
            },
          );
          req.on('timeout', () => req.destroy());
          req.on('error', () => resolve(undefined));
          req.end();
        });
      } catch {
        return undefined;
      }
    },
    close() {
      agent.destroy();
    },
  };
}
