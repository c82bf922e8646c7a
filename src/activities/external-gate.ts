import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { z } from 'zod';
import type { externalGateSchema } from '../config/schema.js';
import {
  displayGateUrl,
  resolveGateTarget,
  type GateResolver,
  type ResolvedAddress,
} from '../policy/gate-url.js';

/** A gate as configured; `allowPrivateNetwork` lets it reach private ranges. */
export type ExternalGate = z.output<typeof externalGateSchema>;

/** A status answer is a few KB; anything past this is not the page the gate was written for. */
export const GATE_MAX_BODY_BYTES = 1024 * 1024;

export interface GateFetchOptions {
  /** For the whole check: resolution, connection and body. */
  timeoutMs?: number;
  maxBytes?: number;
  /** How host names resolve; the system resolver (hosts file, then DNS) by default. */
  resolve?: GateResolver;
  /** Trust roots for https:, instead of the system's. */
  ca?: string | Buffer;
}

const systemResolver: GateResolver = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

function field(body: unknown, dotted: string): unknown {
  return dotted
    .split('.')
    .reduce<unknown>(
      (acc, key) => (acc && typeof acc === 'object' ? (acc as Record<string, unknown>)[key] : undefined),
      body,
    );
}

/** Hands the connection the addresses already checked, so no second resolution can swap in another one. */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (_host, options, callback) => {
    const usable = options.family ? addresses.filter((a) => a.family === options.family) : addresses;
    if (usable.length === 0) {
      const err = Object.assign(new Error('no checked address of the requested family'), {
        code: 'ENOTFOUND',
      });
      return callback(err, '', 4);
    }
    if (options.all) return (callback as (e: null, a: ResolvedAddress[]) => void)(null, usable);
    callback(null, usable[0]!.address, usable[0]!.family);
  };
}

type Answer = { status: number; body?: Buffer; tooLarge?: boolean };

class GateTimeout extends Error {}

/** One GET, no redirects followed, the body read only for a 2xx answer and only up to `maxBytes`. */
function get(
  url: URL,
  addresses: ResolvedAddress[],
  opts: Required<Pick<GateFetchOptions, 'maxBytes'>> & GateFetchOptions,
  signal: AbortSignal,
) {
  return new Promise<Answer>((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(
      url,
      {
        method: 'GET',
        // No pooled socket: one opened for another gate was checked under that gate's rules, not this one's.
        agent: false,
        lookup: pinnedLookup(addresses),
        headers: { accept: 'application/json', connection: 'close' },
        ...(opts.ca ? { ca: opts.ca } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const declared = Number(res.headers['content-length'] ?? NaN);
        if (status < 200 || status > 299 || declared > opts.maxBytes) {
          res.destroy();
          req.destroy();
          return resolve(status >= 200 && status <= 299 ? { status, tooLarge: true } : { status });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > opts.maxBytes) {
            res.destroy();
            req.destroy();
            return resolve({ status, tooLarge: true });
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    const onAbort = () => {
      req.destroy();
      reject(new GateTimeout());
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('close', () => signal.removeEventListener('abort', onAbort));
    req.on('error', reject);
    req.end();
  });
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new GateTimeout());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Why a connection failed, by error code only: messages can carry what the other side sent (a certificate's
 * names, a malformed header), and failure texts never repeat fetched content.
 */
function errorCode(err: unknown): string {
  const code = (err as { code?: unknown }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) ? code : 'connection failed';
}

/**
 * An HTTP check that must pass right before a deploy, such as a status page's "no active incident". Fails
 * closed: a refused URL, an error, a timeout, a non-2xx answer (redirects included), an oversized body, a body
 * that is not JSON or the wrong value all block, with a reason that never quotes what the gate answered:
 * reasons reach status, Slack and job summaries, and the page is not trusted to write there.
 */
export async function checkExternalGate(
  gate: ExternalGate,
  options: GateFetchOptions = {},
): Promise<string | null> {
  const opts = { timeoutMs: 5000, maxBytes: GATE_MAX_BODY_BYTES, resolve: systemResolver, ...options };
  const label = `gate ${gate.name}: ${displayGateUrl(gate.url)}`;
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let answer: Answer;
  try {
    const target = await untilAborted(
      resolveGateTarget(gate.url, { allowPrivate: gate.allowPrivateNetwork === true }, opts.resolve),
      signal,
    );
    if (!target.ok) return `${label} refused: ${target.problem}`;
    answer = await get(target.url, target.addresses, opts, signal);
  } catch (err) {
    if (err instanceof GateTimeout) return `${label} unreachable (no answer within ${opts.timeoutMs} ms)`;
    return `${label} unreachable (${errorCode(err)})`;
  }
  if (answer.status >= 300 && answer.status <= 399) {
    return `${label} answered ${answer.status} (redirects are not followed)`;
  }
  if (answer.status < 200 || answer.status > 299) return `${label} answered ${answer.status}`;
  if (answer.tooLarge || !answer.body) return `${label} answered more than ${opts.maxBytes} bytes`;
  let body: unknown;
  try {
    body = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return `${label} did not answer JSON`;
  }
  if (JSON.stringify(field(body, gate.field)) !== JSON.stringify(gate.equals)) {
    return `gate ${gate.name}: ${gate.field} is not ${JSON.stringify(gate.equals)}`;
  }
  return null;
}
