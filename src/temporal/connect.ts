import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { UnreachableError } from '../client/errors.js';
import { withTimeout } from '../client/timeout.js';

export interface TemporalOptions {
  address: string;
  namespace: string;
  apiKey?: string;
  /** Paths to the client certificate and key (PEM). */
  tlsCert?: string;
  tlsKey?: string;
  /** The certificate and key themselves (PEM), for callers that hold them in memory (CI secrets). Win over the paths. */
  tlsCertData?: string;
  tlsKeyData?: string;
}

/** Flags win over TEMPORAL_* variables; the default is the embedded dev server's address. */
export function temporalOptions(
  flags: { address?: string; namespace?: string },
  env: NodeJS.ProcessEnv = process.env,
): TemporalOptions {
  return {
    address: flags.address || env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: flags.namespace || env.TEMPORAL_NAMESPACE || 'default',
    apiKey: env.TEMPORAL_API_KEY || undefined,
    tlsCert: env.TEMPORAL_TLS_CERT || undefined,
    tlsKey: env.TEMPORAL_TLS_KEY || undefined,
    tlsCertData: env.TEMPORAL_TLS_CERT_DATA || undefined,
    tlsKeyData: env.TEMPORAL_TLS_KEY_DATA || undefined,
  };
}

export function connectionOptions(opts: TemporalOptions): ConnectionOptions {
  const crt = opts.tlsCertData ?? opts.tlsCert;
  const key = opts.tlsKeyData ?? opts.tlsKey;
  const tls =
    crt && key
      ? {
          clientCertPair: {
            crt: opts.tlsCertData ? Buffer.from(opts.tlsCertData) : readFileSync(crt),
            key: opts.tlsKeyData ? Buffer.from(opts.tlsKeyData) : readFileSync(key),
          },
        }
      : opts.apiKey
        ? true
        : undefined;
  return {
    address: opts.address,
    ...(tls ? { tls } : {}),
    ...(opts.apiKey ? { apiKey: opts.apiKey, metadata: { 'temporal-namespace': opts.namespace } } : {}),
  };
}

/** Connects, or throws UnreachableError (exit 4) within 15 s. */
export async function connectClient(
  opts: TemporalOptions,
  timeoutMs = 10_000,
): Promise<{ connection: Connection; client: Client }> {
  try {
    const connection = await withTimeout(
      Connection.connect({ ...connectionOptions(opts), connectTimeout: timeoutMs }),
      timeoutMs,
      () => new Error(`no answer within ${timeoutMs / 1000} s`),
    );
    return { connection, client: new Client({ connection, namespace: opts.namespace }) };
  } catch (err) {
    throw new UnreachableError(opts.address, err);
  }
}
