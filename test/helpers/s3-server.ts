/**
 * A real S3-compatible server per test file: versitygw (posix backend, versioning on) started by
 * scripts/s3-server.sh on a free loopback port, speaking S3 over real HTTP with SigV4 credentials, Object Lock
 * and conditional writes enforced by the server itself. The binary is installed once by
 * `scripts/s3-server.sh build` (scripts/setup.sh runs it), so a hook rarely waits for the Go build.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  PutBucketVersioningCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { ROOT } from './processes.js';
import { readEnvFile } from './env-file.js';

const SCRIPT = path.join(ROOT, 'scripts', 's3-server.sh');

export interface S3Server {
  dir: string;
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** DIR/env as the script wrote it: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION. */
  env: Record<string, string>;
  /** A plain SDK client with the server's (the store's own) credentials, for looking at or attacking the bucket. */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
  /** A bucket: with Object Lock (and so versioning), versioning only, or neither. */
  createBucket(name: string, opts?: { objectLock?: boolean; versioning?: boolean }): Promise<void>;
  /** Stops the server and keeps its objects: an outage. */
  down(): Promise<void>;
  /** Starts it again on the same port, with the same credentials and objects. */
  up(): Promise<void>;
  /** Stops the server and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

function run(args: string[], timeoutMs: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stderr });
    });
  });
}

export async function startS3Server(): Promise<S3Server> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shipgate-s3-'));
  // A worker that dies without afterAll must not leave a server running.
  const onExit = () => spawnSync('bash', [SCRIPT, 'down', dir], { stdio: 'ignore' });
  process.on('exit', onExit);
  const up = async () => {
    // A cold cache builds versitygw first (a few minutes on a fresh machine).
    const r = await run(['up', dir], 600_000);
    if (r.code !== 0)
      throw new Error(`scripts/s3-server.sh up ${dir} failed (exit ${r.code}):\n${r.stderr.slice(-4000)}`);
  };
  try {
    await up();
  } catch (err) {
    process.off('exit', onExit);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const env = (await readEnvFile(dir)) as Record<string, string>;
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`${dir}/env lacks ${k}`);
    return v;
  };
  const endpoint = need('AWS_ENDPOINT_URL');
  const region = need('AWS_REGION');
  const accessKeyId = need('AWS_ACCESS_KEY_ID');
  const secretAccessKey = need('AWS_SECRET_ACCESS_KEY');
  const clients: S3Client[] = [];
  const client = (overrides: Partial<S3ClientConfig> = {}) => {
    const c = new S3Client({
      endpoint,
      region,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      ...overrides,
    });
    clients.push(c);
    return c;
  };
  let admin: S3Client | undefined;
  let stopped = false;
  return {
    dir,
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    env,
    client,
    async createBucket(name, opts = {}) {
      admin ??= client();
      await admin.send(
        new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: !!opts.objectLock }),
      );
      if (opts.versioning && !opts.objectLock)
        await admin.send(
          new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }),
        );
    },
    async down() {
      const r = await run(['down', dir], 30_000);
      if (r.code !== 0) throw new Error(`scripts/s3-server.sh down ${dir} failed: ${r.stderr}`);
    },
    up,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const c of clients) c.destroy();
      const r = await run(['down', dir], 30_000);
      process.off('exit', onExit);
      if (r.code !== 0) throw new Error(`scripts/s3-server.sh down ${dir} failed: ${r.stderr}`);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Puts the server's credentials where the standard AWS chain finds them (this process's environment), as an
 * operator would for the worker; returns a function that restores what was there. Instance metadata is turned
 * off so a test never reaches for a link-local address.
 */
export function useCredentials(creds: { accessKeyId?: string; secretAccessKey?: string } | null): () => void {
  const keys = [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_EC2_METADATA_DISABLED',
    'AWS_CONFIG_FILE',
    'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_ENDPOINT_URL',
  ] as const;
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  for (const k of keys) delete process.env[k];
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  // No shared config or credentials file either: the environment is the one source.
  process.env.AWS_CONFIG_FILE = path.join(os.tmpdir(), 'shipgate-no-aws-config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(os.tmpdir(), 'shipgate-no-aws-credentials');
  if (creds?.accessKeyId) process.env.AWS_ACCESS_KEY_ID = creds.accessKeyId;
  if (creds?.secretAccessKey) process.env.AWS_SECRET_ACCESS_KEY = creds.secretAccessKey;
  return () => {
    for (const k of keys) {
      const v = saved[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
